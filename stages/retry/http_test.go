package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"0":                               0,
		"120":                             2 * time.Minute,
		"Tue, 01 Dec 2026 14:00:30 GMT":   30 * time.Second,
		"Tuesday, 01-Dec-26 14:01:00 GMT": time.Minute,
		"Tue Dec  1 14:00:05 2026":        5 * time.Second,
		"Tue, 01 Dec 2026 13:00:00 GMT":   0, // in the past: retry now
	} {
		got, ok := RetryAfter(in, now)
		if !ok || got != want {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "soon", "1.5"} {
		if _, ok := RetryAfter(in, now); ok {
			t.Errorf("RetryAfter(%q) accepted", in)
		}
	}
}

// A busy or failing server is asked again, when it says; a refusal, a
// missing page and a server that will never do it are the answer.
func TestAnswersAreClassifiedByStatus(t *testing.T) {
	now := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	for code, want := range map[int]bool{
		429: true, 500: true, 502: true, 503: true, 504: true, 0: true,
		400: false, 401: false, 403: false, 404: false, 410: false, 501: false, 200: false,
	} {
		a := Answer(&http.Response{StatusCode: code, Header: http.Header{}}, now)
		if Retryable(a) != want {
			t.Errorf("status %d: Retryable %v, want %v", code, !want, want)
		}
	}
	a := Answer(&http.Response{StatusCode: 503, Status: "503 Service Unavailable", Header: http.Header{"Retry-After": {"90"}}}, now)
	if a.Error() != "503 Service Unavailable" || !a.RetryAt().Equal(now.Add(90*time.Second)) {
		t.Errorf("Answer = %q, back at %v; want the status and now + 90s", a, a.RetryAt())
	}
	if a := Answer(&http.Response{StatusCode: 429, Header: http.Header{}}, now); a.Error() != "429 Too Many Requests" || !a.RetryAt().IsZero() {
		t.Errorf("Answer without a status line or Retry-After = %q, back at %v", a, a.RetryAt())
	}
}

// A lost connection or a timeout may pass; what the same request meets
// again, and anything once the caller gave up, does not.
func TestRequestErrorsAreClassifiedByWhatWentWrong(t *testing.T) {
	get := func(err error) error { return &url.Error{Op: "Get", URL: "https://index.example/", Err: err} }
	ctx := context.Background()
	for _, c := range []struct {
		err  error
		want bool
	}{
		{get(syscall.ECONNREFUSED), true},
		{get(syscall.ECONNRESET), true},
		{get(errors.New("context deadline exceeded (Client.Timeout exceeded while awaiting headers)")), true},
		{get(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), false},
		{get(x509.UnknownAuthorityError{}), false},
		{get(errors.New("stopped after 10 redirects")), false},
		{get(errors.New(`unsupported protocol scheme "ftp"`)), false},
		{get(errors.New(`net/http: invalid header field value for "Authorization"`)), false},
	} {
		if got := Retryable(RequestError(ctx, c.err)); got != c.want {
			t.Errorf("%v: Retryable %v, want %v", c.err, got, c.want)
		}
		if got := RequestError(ctx, c.err); got.Error() != c.err.Error() || !errors.Is(got, c.err) {
			t.Errorf("classified %q reads %q", c.err, got)
		}
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if Retryable(RequestError(ended, get(syscall.ECONNRESET))) {
		t.Error("a failure after the caller gave up is retried")
	}
	if RequestError(ctx, nil) != nil {
		t.Error("no failure classified as one")
	}
}

// The first error of a chain that says whether it may pass decides; an
// error that says nothing, a context's end among them, is final.
func TestRetryableFollowsTheChain(t *testing.T) {
	busy := &StatusError{Code: 503, Status: "503 Service Unavailable"}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("unclassified"), false},
		{context.Canceled, false},
		{fmt.Errorf("GET index: %w", busy), true},
		{Permanent(busy), false},
		{Transient(&StatusError{Code: 404, Status: "404 Not Found"}), true},
		{Transient(context.DeadlineExceeded), true},
	} {
		if got := Retryable(c.err); got != c.want {
			t.Errorf("Retryable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if Transient(nil) != nil || Permanent(nil) != nil {
		t.Error("nil marked as a failure")
	}
}
