package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Gate guards T0. Waiting for T0 is the gate stage's job, but every step that
// writes to a public target asks the gate itself, so no call path (a stage
// run out of order, --only, a bug) can publish early.
//
// T0 is the world's T0, not only this machine's: the gate opens when T0 has
// passed on the local clock and, by the measured lower bound of its offset,
// on the clock of every public target. Allow and Wait apply that one rule.
type Gate struct {
	T0     time.Time
	Window time.Duration
	Clock  Clock
	// Probe, when set, measures the public targets' clocks. The gate calls
	// it before its first decision if no measurement was handed to it, and
	// Wait calls it again in the last seconds before T0. Without it the
	// gate trusts the local clock.
	Probe ClockProbe

	mu         sync.Mutex
	world      []Offset
	measured   bool
	measuredAt time.Time     // local time the measurement in hand began
	measuredBy string        // why it was made
	changed    chan struct{} // closed, and replaced, when the world changes

	measuring sync.Mutex // one measurement at a time

	openedEarly time.Time // OpenNow's moment
	openedWhy   string
}

// OpenNow opens the gate before T0, on the operator's word (`run --late`)
// that the embargo is over because the fix is already public: why says
// where. Only a run that has seen the leak calls it; the gate then lets
// what is still missing go out at once.
func (g *Gate) OpenNow(why string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now := g.Clock.Now(); g.openedEarly.IsZero() && now.Before(g.T0) {
		g.openedEarly, g.openedWhy = now, why
	}
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

// OpenedEarly says whether OpenNow opened the gate before T0, and why.
func (g *Gate) OpenedEarly() (bool, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.openedEarly.IsZero(), g.openedWhy
}

// EarlyError is a refused public write.
type EarlyError struct {
	What      string
	T0        time.Time
	Remaining time.Duration
	// Clock is the target whose clock is still before T0, or "" for the
	// local clock.
	Clock string
}

func (e *EarlyError) Error() string {
	on := ""
	if e.Clock != "" {
		on = " on the clock of " + e.Clock
	}
	return fmt.Sprintf("refusing to %s before T0 (%s, %s from now%s): nothing was made public",
		e.What, e.T0.UTC().Format(time.RFC3339), HumanDuration(e.Remaining.Round(time.Second)), on)
}

// Allow returns an *EarlyError when T0 has not come on the local clock or
// on any measured target's clock. Call it immediately before each public
// write, naming the write.
func (g *Gate) Allow(what string) error {
	g.measureFirst(context.Background())
	now := g.Clock.Now()
	at, by := g.Opening()
	if now.Before(at) {
		return &EarlyError{What: what, T0: g.T0, Remaining: at.Sub(now), Clock: by}
	}
	return nil
}

// Deadline is when the advisory must be live.
func (g *Gate) Deadline() time.Time { return g.T0.Add(g.Window) }

// Opening is the local time at which T0 has passed on every clock the gate
// knows, and the target whose clock sets it ("" when the local clock does).
func (g *Gate) Opening() (at time.Time, by string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.openingLocked()
}

func (g *Gate) openingLocked() (at time.Time, by string) {
	if !g.openedEarly.IsZero() {
		return g.openedEarly, ""
	}
	at = g.T0
	for _, o := range g.world {
		// The target's clock reads at least local + Low: it has passed T0
		// once local time reaches T0 - Low.
		if t := g.T0.Add(-o.Low); o.Measured() && t.After(at) {
			at, by = t, o.Name()
		}
	}
	return at, by
}

// World is the measurement in hand.
func (g *Gate) World() []Offset {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Offset(nil), g.world...)
}

// SetWorld hands the gate a measurement of the targets' clocks, begun at
// local time at. It replaces the one in hand, target by target: a clock may
// have been stepped since, so the bounds of a target measured again are
// its new ones only. A target that could not be measured again keeps its
// last bounds, which say more than the local clock would.
func (g *Gate) SetWorld(offsets []Offset, at time.Time) { g.set("", offsets, at) }

func (g *Gate) set(why string, offsets []Offset, at time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	world := make([]Offset, len(offsets))
	for i, o := range offsets {
		world[i] = o
		if o.Measured() {
			continue
		}
		for _, old := range g.world {
			if old.URL == o.URL && old.Measured() {
				world[i] = old
			}
		}
	}
	g.world = world
	g.measured, g.measuredAt, g.measuredBy = true, at, why
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

// state is what Wait needs at once: the opening, whether the measurement
// in hand is the gate's own for that opening, and a channel closed at the
// next change.
func (g *Gate) state() (open time.Time, fresh bool, changed <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.changed == nil {
		g.changed = make(chan struct{})
	}
	open, _ = g.openingLocked()
	return open, g.freshLocked(open), g.changed
}

// freshLocked: the measurement in hand is the gate's own, begun in the last
// Remeasure before the opening. Any other (preflight's, hours or a few
// seconds ago) is measured again.
func (g *Gate) freshLocked(open time.Time) bool {
	return g.measuredBy == MeasureGate && !g.measuredAt.Before(open.Add(-Remeasure))
}

// Measure runs the probe now and hands each round's offsets to the gate as
// they come. It reports false when the gate has no probe.
func (g *Gate) Measure(ctx context.Context, why string) ([]Offset, bool) {
	if g.Probe == nil {
		return nil, false
	}
	g.measuring.Lock()
	defer g.measuring.Unlock()
	return g.measureLocked(ctx, why), true
}

func (g *Gate) measureLocked(ctx context.Context, why string) []Offset {
	if ctx.Err() != nil {
		return nil // the wait it was for is over
	}
	start := g.Clock.Now()
	final := g.Probe(ctx, why, func(offs []Offset) {
		if ctx.Err() == nil {
			g.set(why, offs, start)
		}
	})
	if ctx.Err() == nil {
		g.set(why, final, start)
	}
	return final
}

// remeasure is Wait's measurement in the last seconds: one for all the
// stages waiting at once, the others finding it fresh.
func (g *Gate) remeasure(ctx context.Context) {
	g.measuring.Lock()
	defer g.measuring.Unlock()
	g.mu.Lock()
	open, _ := g.openingLocked()
	fresh := g.freshLocked(open)
	g.mu.Unlock()
	if !fresh {
		g.measureLocked(ctx, MeasureGate)
	}
}

// measureFirst measures the clocks unless a measurement is in hand: no
// public write is decided on the local clock alone when a probe exists.
func (g *Gate) measureFirst(ctx context.Context) {
	if g.Probe == nil || g.hasWorld() {
		return // never queue behind a measurement under way: one is in hand
	}
	g.measuring.Lock()
	defer g.measuring.Unlock()
	if !g.hasWorld() {
		g.measureLocked(ctx, MeasureFirstWrite)
	}
}

func (g *Gate) hasWorld() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.measured
}

// Remeasure is how long before the opening Wait measures the clocks again:
// late enough that no clock drifts or is stepped unseen before T0, early
// enough that the rounds of the measurement are done by then.
const Remeasure = 10 * time.Second

// remeasures bounds the measurements of one Wait, for a target whose clock
// keeps moving the opening.
const remeasures = 3

// Tick reports the time left while waiting.
type Tick func(remaining time.Duration)

// Wait blocks until the gate opens (T0 on the local clock and on every
// measured target's clock), calling tick at every interval boundary (each
// whole interval before the opening). The last sleep is a single timer for
// the exact remainder, so waking is as close to the opening as the runtime
// allows. In the last Remeasure before the opening it measures the clocks
// again, in the background, and follows each round of the measurement.
// It returns how late it woke after the opening (0 when it had not yet
// come).
// LastTick is the countdown line a wait with a long interval (a minute,
// in a CI log) prints in addition, this long before the opening.
const LastTick = 10 * time.Second

func (g *Gate) Wait(ctx context.Context, interval time.Duration, tick Tick) (late time.Duration, err error) {
	g.measureFirst(ctx)
	mctx, cancel := context.WithCancel(ctx)
	defer cancel() // a measurement still under way ends with the wait
	var (
		measuring <-chan struct{} // closed when the background measurement ends
		measures  int
		// The pending wake is kept when a measurement wakes the wait
		// first, unless the opening moved before it.
		timer     <-chan time.Time
		timerAt   time.Time
		timerTick bool // whether that wake is a countdown line's
		showTick  = true
	)
	for {
		open, fresh, changed := g.state()
		now := g.Clock.Now()
		remaining := open.Sub(now)
		if remaining <= 0 {
			return -remaining, nil
		}
		if g.Probe != nil && measuring == nil && measures < remeasures && remaining <= Remeasure && !fresh {
			measures++
			done := make(chan struct{})
			measuring = done
			go func() {
				defer close(done)
				g.remeasure(mctx)
			}()
		}
		if tick != nil && showTick {
			tick(remaining)
		}
		sleep, line := remaining, true
		if interval > 0 && remaining > interval {
			// Wake on the next whole interval of remaining time, so
			// countdown lines read 10:00, 9:00, ... rather than drift.
			sleep = remaining % interval
			if sleep == 0 {
				sleep = interval
			}
		}
		if interval > LastTick && remaining > LastTick && remaining-sleep < LastTick {
			// A log that prints a line a minute gets one more in the
			// last seconds, to show the wait is about to end.
			sleep = remaining - LastTick
		}
		if g.Probe != nil && remaining > Remeasure && remaining-sleep < Remeasure {
			// Wake to measure on time, between two countdown lines.
			sleep, line = remaining-Remeasure, false
		}
		if at := now.Add(sleep); timer == nil || timerAt.After(at) {
			timer, timerAt, timerTick = g.Clock.After(sleep), at, line
		}
		showTick = false
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-timer:
			timer, showTick = nil, timerTick
		case <-changed: // a new measurement: the opening may have moved
		case <-measuring:
			measuring = nil
		}
	}
}
