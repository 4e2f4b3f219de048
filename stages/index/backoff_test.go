package index

import (
	"errors"
	"testing"
	"time"

	"github.com/async-rs/embargo/stages/retry"
)

// The waits stay within their bounds however many attempts were made, and
// a registry's Retry-After of a day is cut to the longest wait.
func TestBackoffIsCapped(t *testing.T) {
	now := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	minWait, maxWait := 100*time.Millisecond, time.Second
	p := policy(100, minWait, maxWait)
	for attempt := 1; attempt < 70; attempt++ {
		d, err := p.Next(now, attempt, errors.New("503"))
		if err != nil || d < minWait || d > maxWait {
			t.Fatalf("attempt %d: wait %v (%v) outside [%v, %v]", attempt, d, err, minWait, maxWait)
		}
	}
	day := &retry.StatusError{Code: 429, Status: "429 Too Many Requests", At: now.Add(24 * time.Hour)}
	if d, err := p.Next(now, 1, day); err != nil || d != maxWait {
		t.Fatalf("Retry-After of a day gave %v (%v), want the cap %v", d, err, maxWait)
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
