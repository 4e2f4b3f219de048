// Package retry is the one policy by which the stages try a step again: how
// many times, how long to wait between tries, and until when, as data;
// which failures may pass, as their types (Retryable); the waits on the
// gate's clock, so that tests drive them and a release never waits past
// its window. Each caller still decides what to look at again before the
// next try: a public write that failed may have landed, and is never
// repeated blindly.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Clock is the gate's clock (pipeline.Clock is one).
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// Wall is this machine's clock, for a client used outside a release,
// where there is no gate.
type Wall struct{}

func (Wall) Now() time.Time                         { return time.Now() }
func (Wall) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Policy says how a step is tried again after a failure that may pass.
type Policy struct {
	// Attempts is the most tries in all; 0 means no limit but Deadline.
	Attempts int
	// First is the wait after the first failure; each wait doubles it, up
	// to Max (no cap when 0).
	First, Max time.Duration
	// Jitter adds to each backoff wait up to this fraction of it, at
	// random, within Max: clients polling side by side drift apart.
	Jitter float64
	// MaxAsked, when set, caps the wait a failure asks for (Asker): a
	// read that is cheap to repeat need not wait as long as a busy server
	// would like.
	MaxAsked time.Duration
	// Deadline, when set, is the latest a try may start.
	Deadline time.Time
	// LastAtDeadline cuts a wait that would end past Deadline short, for
	// one last try at Deadline itself: a poll looks until the very end,
	// where a retry asked to wait longer gives up at once.
	LastAtDeadline bool
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
	if p.Jitter > 0 && wait > 0 {
		wait += rand.N(time.Duration(float64(wait)*p.Jitter) + 1)
		if p.Max > 0 {
			wait = min(wait, p.Max)
		}
	}
	var ask Asker
	if errors.As(err, &ask) && ask.RetryAt().After(now) {
		wait = ask.RetryAt().Sub(now)
		if p.MaxAsked > 0 {
			wait = min(wait, p.MaxAsked)
		}
	}
	if at := now.Add(wait); !p.Deadline.IsZero() && at.After(p.Deadline) {
		if p.LastAtDeadline && now.Before(p.Deadline) {
			return p.Deadline.Sub(now), nil
		}
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

// Do tries try, the attempt counted from 1, until it succeeds, fails for
// good, or p ends, waiting on clock between tries. A failure is tried again
// only when Retryable says it may pass, and never once ctx has ended. The
// error is try's last when it is final, an *Exhausted wrapping it when p
// ended, or ctx's when it ended during a wait.
//
// Do suits a step that is safe to repeat as it is (a read). A step that
// writes where the world sees it cannot know whether a failed try landed:
// it looks again before each try, in a loop of its own.
func Do(ctx context.Context, clock Clock, p Policy, try func(attempt int) error) error {
	for attempt := 1; ; attempt++ {
		err := try(attempt)
		if err == nil || ctx.Err() != nil || !Retryable(err) {
			return err
		}
		wait, err := p.Next(clock.Now(), attempt, err)
		if err != nil {
			return err
		}
		if err := Sleep(ctx, clock, wait); err != nil {
			return err
		}
	}
}

// Retryable reports whether another try may succeed after err: the first
// error in its chain that says so (a Retryable() bool method) decides.
// Every other error is final, a context's end among them: only a failure
// known to pass is worth the wait.
func Retryable(err error) bool {
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}

// Transient marks err as a failure that may pass; nil stays nil.
func Transient(err error) error { return mark(err, true) }

// Permanent marks err as final, whatever it wraps; nil stays nil.
func Permanent(err error) error { return mark(err, false) }

func mark(err error, again bool) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, again: again}
}

// marked is an error with its class; its text is the error's own.
type marked struct {
	err   error
	again bool
}

func (m *marked) Error() string   { return m.err.Error() }
func (m *marked) Unwrap() error   { return m.err }
func (m *marked) Retryable() bool { return m.again }
