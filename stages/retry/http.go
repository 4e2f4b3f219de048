package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// How an HTTP exchange is classified: an answer by its status, a request
// that got none by what went wrong. What another try cannot change (a
// refusal, a certificate, a redirect loop) is final; a busy or failing
// server and a lost connection may pass.

// StatusError is an answer other than the one wanted.
type StatusError struct {
	Code   int
	Status string // "503 Service Unavailable"
	// At is when the server said to come back (Retry-After); zero when
	// it did not say.
	At time.Time
}

func (e *StatusError) Error() string      { return e.Status }
func (e *StatusError) RetryAt() time.Time { return e.At }

// Retryable is RetryableStatus of the answer's status.
func (e *StatusError) Retryable() bool { return RetryableStatus(e.Code) }

// RetryableStatus is true for an answer that may change: 429 Too Many
// Requests and the server errors, but 501 Not Implemented, which says the
// server never will (and for a status no server should send, 0 or past
// 599, as a broken answer of the way there).
func RetryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == 0 || (code >= 500 && code != http.StatusNotImplemented)
}

// Answer is resp as a StatusError, its Retry-After read against now. It
// leaves the body alone.
func Answer(resp *http.Response, now time.Time) *StatusError {
	status := resp.Status
	if status == "" {
		status = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	e := &StatusError{Code: resp.StatusCode, Status: status}
	if d, ok := RetryAfter(resp.Header.Get("Retry-After"), now); ok {
		e.At = now.Add(d)
	}
	return e
}

// RetryAfter reads a Retry-After value, seconds or an HTTP date, as a wait
// from now; ok is false when there is none or it cannot be read. A date
// already past is no wait.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// net/http reports these without a type of their own.
var (
	tooManyRedirects = regexp.MustCompile(`stopped after \d+ redirects\z`)
	finalRequestText = []string{"unsupported protocol scheme", "invalid header", "certificate is not trusted"}
)

// RequestError classifies err, the failure of a request that got no
// answer (http.Client.Do's, or reading the body): final once ctx has
// ended, and for what the same request meets again (a certificate not
// trusted, a redirect loop, a scheme or a header net/http refuses);
// otherwise, a refused or dropped connection or a timeout, it may pass.
// nil stays nil.
func RequestError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return Permanent(err)
	}
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &verify) || errors.As(err, &unknown) || tooManyRedirects.MatchString(err.Error()) {
		return Permanent(err)
	}
	for _, s := range finalRequestText {
		if strings.Contains(err.Error(), s) {
			return Permanent(err)
		}
	}
	return Transient(err)
}
