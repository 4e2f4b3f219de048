package stages

import (
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/stages/cargo"
)

// crates.io answers a burst of new versions with 429 and a date, then lets
// one version through a minute: a release of many crates waits as long as
// it takes inside the window, and says so when the window would not do.
func TestRateLimitsAreWaitedOutWithinTheWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 16, 0, 0, 0, time.UTC)
	horizon := t0.Add(6 * time.Hour)
	now := t0.Add(10 * time.Minute)

	limited := &cargo.PublishError{Status: 429, RetryAfter: now.Add(time.Minute)}
	for _, attempt := range []int{1, publishRetries, 40} {
		wait, err := retryPlan(now, horizon, limited, attempt)
		if err != nil || wait != time.Minute {
			t.Errorf("429 at attempt %d: wait %s, err %v; want the registry's minute", attempt, wait, err)
		}
	}

	// Without a date, the wait backs off and stays bounded however many
	// attempts were made.
	undated := &cargo.PublishError{Status: 429}
	if w1, _ := retryPlan(now, horizon, undated, 1); w1 != 500*time.Millisecond {
		t.Errorf("first undated wait %s", w1)
	}
	if w, err := retryPlan(now, horizon, undated, 200); err != nil || w != 30*time.Second {
		t.Errorf("undated wait at attempt 200: %s, %v; want 30s", w, err)
	}

	// A date past the window's end is refused, naming both.
	_, err := retryPlan(now, horizon, &cargo.PublishError{Status: 429, RetryAfter: horizon.Add(time.Minute)}, 1)
	if err == nil || !strings.Contains(err.Error(), "2026-11-24T22:01:00Z") || !strings.Contains(err.Error(), "2026-11-24T22:00:00Z") {
		t.Errorf("a retry after the window: %v", err)
	}

	// Server errors are retried a bounded number of times.
	failing := &cargo.PublishError{Status: 503}
	if _, err := retryPlan(now, horizon, failing, publishRetries-1); err != nil {
		t.Errorf("503 at attempt %d: %v", publishRetries-1, err)
	}
	if _, err := retryPlan(now, horizon, failing, publishRetries); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("503 at attempt %d: %v, want a final error", publishRetries, err)
	}
}
