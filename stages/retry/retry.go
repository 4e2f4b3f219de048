// Package retry is the one policy by which the stages try a step again: how
// many times, how long to wait between tries, and until when, as data; the
// waits on the gate's clock, so that tests drive them and a release never
// waits past its window. Each caller still decides what to look at again
// before the next try: a public write that failed may have landed, and is
// never repeated blindly.
package retry

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Clock is the gate's clock (pipeline.Clock is one).
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// Policy says how a step is tried again after a failure that may pass.
type Policy struct {
	// Attempts is the most tries in all; 0 means no limit but Deadline.
	Attempts int
	// First is the wait after the first failure; each wait doubles it, up
	// to Max (no cap when 0).
	First, Max time.Duration
	// Deadline, when set, is the latest a try may start.
	Deadline time.Time
}

// Asker is a failure that says when to come back (a registry's
// Retry-After); that time replaces the backoff.
type Asker interface{ RetryAt() time.Time }

// Exhausted is the end of a policy: the last failure, and why no try
// follows it.
type Exhausted struct {
	Attempts int
	// At is when the next try would have been, past the deadline; zero
	// when the attempts ran out.
	At       time.Time
	Deadline time.Time
	Err      error
}

func (e *Exhausted) Error() string {
	if !e.At.IsZero() {
		return fmt.Sprintf("the next try would be at %s, past %s: %v", e.At.UTC().Format(time.RFC3339), e.Deadline.UTC().Format(time.RFC3339), e.Err)
	}
	return fmt.Sprintf("failed after %d attempts: %v", e.Attempts, e.Err)
}

func (e *Exhausted) Unwrap() error { return e.Err }

// Next says how long to wait, from now, before try attempt+1 after try
// attempt failed with err; an *Exhausted when no try follows.
func (p Policy) Next(now time.Time, attempt int, err error) (time.Duration, error) {
	if p.Attempts > 0 && attempt >= p.Attempts {
		return 0, &Exhausted{Attempts: attempt, Err: err}
	}
	wait := p.backoff(attempt)
	var ask Asker
	if errors.As(err, &ask) && ask.RetryAt().After(now) {
		wait = ask.RetryAt().Sub(now)
	}
	if at := now.Add(wait); !p.Deadline.IsZero() && at.After(p.Deadline) {
		return 0, &Exhausted{Attempts: attempt, At: at, Deadline: p.Deadline, Err: err}
	}
	return wait, nil
}

func (p Policy) backoff(attempt int) time.Duration {
	d := p.First
	for i := 1; i < attempt; i++ {
		d *= 2
		if p.Max > 0 && d >= p.Max {
			return p.Max
		}
	}
	if p.Max > 0 {
		d = min(d, p.Max)
	}
	return d
}

// Sleep waits d on clock, or until ctx ends.
func Sleep(ctx context.Context, clock Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-clock.After(d):
		return nil
	}
}
