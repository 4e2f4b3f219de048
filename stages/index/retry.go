package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/async-rs/embargo/stages/retry"
)

// How the index is asked again: the retry package's loop, on the client's
// clock, around one try of retryablehttp's client; the registry's
// Retry-After honoured up to the longest wait, a failure named with what
// was asked.

// policy is how a request is tried: retries more after the first try,
// waits from minWait doubling to maxWait, with up to a quarter of jitter to
// keep parallel pollers apart, and a registry's Retry-After capped at
// maxWait too.
func policy(retries int, minWait, maxWait time.Duration) retry.Policy {
	return retry.Policy{Attempts: retries + 1, First: minWait, Max: maxWait, MaxAsked: maxWait, Jitter: 0.25}
}

// oneTry makes a retryablehttp client try once and hand back what it got:
// the retries are the policy's, on the client's clock.
func oneTry(rc *retryablehttp.Client) {
	rc.RetryMax = 0
	rc.CheckRetry = func(context.Context, *http.Response, error) (bool, error) { return false, nil }
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
}

// retryError is what a request reports once its retries are exhausted.
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

// send makes req on hc with the policy p, on the client's clock: again is
// true for an answer to ask again after, as for a failure that may pass
// (see failure). It returns the answer that ended the tries, or an error
// that names the last failure without the URL, which the caller names
// once.
func (c *Client) send(ctx context.Context, hc *retryablehttp.Client, p retry.Policy, again func(status int) bool, req *retryablehttp.Request) (*http.Response, error) {
	var resp *http.Response
	var attempts int
	var lastErr error
	var lastStatus string
	err := retry.Do(ctx, c.clock, p, func(attempt int) error {
		attempts, lastErr, lastStatus = attempt, nil, ""
		if attempt > 1 {
			// A copy for each try: the transport may still be closing
			// the last one's body.
			r := *req.Request
			req.Request = &r
		}
		var err error
		resp, err = hc.Do(req)
		if err != nil {
			lastErr = err
			return failure(ctx, err)
		}
		if !again(resp.StatusCode) {
			return nil
		}
		answer := retry.Answer(resp, c.clock.Now())
		lastStatus = answer.Status
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		resp = nil
		return retry.Transient(answer)
	})
	switch {
	case err == nil:
		return resp, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case lastStatus != "":
		return nil, &retryError{attempts: attempts, status: lastStatus}
	case errors.Is(lastErr, context.Canceled) || errors.Is(lastErr, context.DeadlineExceeded):
		// A try that timed out says so in its own words.
		return nil, lastErr
	}
	return nil, &retryError{attempts: attempts, err: lastErr}
}

// failure classifies a request that got no answer as the retry package
// does, except that a host name that does not resolve is final: retrying
// it only delays the answer by the whole backoff.
func failure(ctx context.Context, err error) error {
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return retry.Permanent(err)
	}
	return retry.RequestError(ctx, err)
}

// indexAgain is true for the answers an index read asks again after.
func indexAgain(status int) bool { return retry.RetryableStatus(status) }

// downloadAgain is the index's, and asks again after a 404 too: a CDN may
// answer it for a moment after the index shows a version.
func downloadAgain(status int) bool {
	return status == http.StatusNotFound || retry.RetryableStatus(status)
}

// unwrapURLError drops net/http's "Get \"URL\":" prefix, since messages here
// name the URL themselves.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
