package index

import (
	"net/http"
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
		got, ok := retryAfter(in, now)
		if !ok || got != want {
			t.Errorf("retryAfter(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "soon", "1.5"} {
		if _, ok := retryAfter(in, now); ok {
			t.Errorf("retryAfter(%q) accepted", in)
		}
	}
}

func TestBackoffIsCapped(t *testing.T) {
	minWait, maxWait := 100*time.Millisecond, time.Second
	for attempt := 0; attempt < 70; attempt++ {
		d := backoff(minWait, maxWait, attempt, nil)
		if d < minWait || d > maxWait {
			t.Fatalf("attempt %d: wait %v outside [%v, %v]", attempt, d, minWait, maxWait)
		}
	}
	resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"86400"}}}
	if d := backoff(minWait, maxWait, 0, resp); d != maxWait {
		t.Fatalf("Retry-After of a day gave %v, want the cap %v", d, maxWait)
	}
}

// retryablehttp's default logger prints request URLs; the client must not
// log at all.
func TestClientDoesNotLog(t *testing.T) {
	c, err := New("sparse+https://index.example/", Options{Token: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	if c.http.Logger != nil {
		t.Fatalf("retryablehttp logger is %T, want none", c.http.Logger)
	}
}
