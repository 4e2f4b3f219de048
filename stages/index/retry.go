package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// How the index is asked again: retryablehttp's loop with the registry's
// Retry-After honoured, a failure named with what was asked.

// retryError is what giveUp reports once retries are exhausted.
type retryError struct {
	attempts int
	status   string
	err      error
}

func (e *retryError) Error() string {
	tries := fmt.Sprintf("%d attempts", e.attempts)
	if e.attempts == 1 {
		tries = "1 attempt"
	}
	if e.status != "" {
		return fmt.Sprintf("giving up after %s: last answer %s", tries, e.status)
	}
	return fmt.Sprintf("giving up after %s: %v", tries, unwrapURLError(e.err))
}

func (e *retryError) Unwrap() error { return e.err }

// giveUp replaces retryablehttp's message so that the caller can name the
// URL once, and closes the last response.
func giveUp(resp *http.Response, err error, attempts int) (*http.Response, error) {
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, err
	}
	re := &retryError{attempts: attempts, err: err}
	if resp != nil {
		re.status = resp.Status
		re.err = nil
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
	}
	return nil, re
}

// unwrapURLError drops net/http's "Get \"URL\":" prefix, since messages here
// name the URL themselves.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// backoff honours Retry-After (seconds or an HTTP date), capped at max,
// and otherwise backs off exponentially from min with jitter.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, maxWait)
		}
	}
	d := minWait << min(attempt, 30)
	if d <= 0 || d > maxWait {
		d = maxWait
	}
	// Up to a quarter of jitter keeps parallel pollers apart.
	return min(d+rand.N(d/4+1), maxWait)
}

func retryAfter(v string, now time.Time) (time.Duration, bool) {
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

// retryPolicy is retryablehttp's, except that a host name that does not
// resolve is final: retrying it only delays the answer by the whole backoff.
func retryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return false, err
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}
