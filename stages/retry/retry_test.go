package retry

import (
	"errors"
	"testing"
	"time"
)

type asking struct{ at time.Time }

func (a asking) Error() string      { return "429" }
func (a asking) RetryAt() time.Time { return a.at }

// The waits double up to the cap; the attempts run out; a failure that
// says when to come back is waited for, unless that is past the deadline.
func TestPolicyBacksOffHonoursRetryAtAndStopsAtItsEnds(t *testing.T) {
	now := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	p := Policy{Attempts: 5, First: time.Second, Max: 3 * time.Second}
	var waits []time.Duration
	for attempt := 1; attempt < 5; attempt++ {
		d, err := p.Next(now, attempt, errors.New("reset"))
		if err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		waits = append(waits, d)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
	var ex *Exhausted
	if _, err := p.Next(now, 5, errors.New("reset")); !errors.As(err, &ex) || ex.Attempts != 5 {
		t.Errorf("after the last attempt: %v, want Exhausted after 5", err)
	}

	untilDeadline := Policy{First: time.Second, Deadline: now.Add(time.Minute)}
	if d, err := untilDeadline.Next(now, 1, asking{now.Add(40 * time.Second)}); err != nil || d != 40*time.Second {
		t.Errorf("Retry-After 40 s within the deadline: %v, %v", d, err)
	}
	if _, err := untilDeadline.Next(now, 1, asking{now.Add(2 * time.Minute)}); !errors.As(err, &ex) || ex.At.IsZero() {
		t.Errorf("Retry-After past the deadline: %v, want Exhausted naming when", err)
	}
}
