package pipeline

import (
	"context"
	"fmt"
	"time"
)

// Gate guards T0. Waiting for T0 is the gate stage's job, but every step that
// writes to a public target asks the gate itself, so no call path (a stage
// run out of order, --only, a bug) can publish early.
type Gate struct {
	T0     time.Time
	Window time.Duration
	Clock  Clock
	// Sandbox is true in a rehearsal, where T0 is now and every target is
	// part of the sandbox world.
	Sandbox bool
}

// EarlyError is a refused public write.
type EarlyError struct {
	What      string
	T0        time.Time
	Remaining time.Duration
}

func (e *EarlyError) Error() string {
	return fmt.Sprintf("refusing to %s before T0 (%s, %s from now): nothing was made public",
		e.What, e.T0.UTC().Format(time.RFC3339), e.Remaining.Round(time.Second))
}

// Allow returns an *EarlyError when now is before T0. Call it immediately
// before each public write, naming the write.
func (g *Gate) Allow(what string) error {
	now := g.Clock.Now()
	if now.Before(g.T0) {
		return &EarlyError{What: what, T0: g.T0, Remaining: g.T0.Sub(now)}
	}
	return nil
}

// Deadline is when the advisory must be live.
func (g *Gate) Deadline() time.Time { return g.T0.Add(g.Window) }

// Tick reports the time left while waiting.
type Tick func(remaining time.Duration)

// Wait blocks until T0 on the gate's clock, calling tick at every interval
// boundary (each whole interval before T0). The last sleep is a single timer
// for the exact remainder, so waking is as close to T0 as the runtime allows.
// It returns how late it woke (0 when T0 had not yet come).
func (g *Gate) Wait(ctx context.Context, interval time.Duration, tick Tick) (late time.Duration, err error) {
	for {
		now := g.Clock.Now()
		remaining := g.T0.Sub(now)
		if remaining <= 0 {
			return -remaining, nil
		}
		if tick != nil {
			tick(remaining)
		}
		sleep := remaining
		if interval > 0 && remaining > interval {
			// Wake on the next whole interval of remaining time, so
			// countdown lines read 10:00, 9:00, ... rather than drift.
			sleep = remaining % interval
			if sleep == 0 {
				sleep = interval
			}
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-g.Clock.After(sleep):
		}
	}
}
