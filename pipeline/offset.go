package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Offset is the clock of one public target against the local clock, as
// measured from its HTTP Date headers: while the measurement holds, the
// target's clock reads the local time plus an offset between Low and High.
// The bounds are proven by the samples (a Date cannot be stamped before the
// request left or after the answer came back), never estimated; the gate
// counts on Low alone.
type Offset struct {
	Target string `json:"target"` // what is written there: "git remote", "registry API", ...
	URL    string `json:"url"`    // what was asked, without credentials
	// Low and High bound the target's clock minus the local clock.
	Low     time.Duration `json:"low_ns"`
	High    time.Duration `json:"high_ns"`
	Samples int           `json:"samples"`
	// Unmeasured, when set, says why the target has no clock here (it sent
	// no Date header, or could not be reached); the gate then counts on the
	// local clock for it.
	Unmeasured string `json:"unmeasured,omitempty"`
}

// Measured reports whether the bounds hold anything.
func (o Offset) Measured() bool { return o.Unmeasured == "" && o.Samples > 0 }

// Estimate is the middle of the bounds: how far the target's clock is
// ahead of the local one (negative: behind).
func (o Offset) Estimate() time.Duration { return o.Low + (o.High-o.Low)/2 }

// Uncertainty is half the width of the bounds.
func (o Offset) Uncertainty() time.Duration { return (o.High - o.Low) / 2 }

// Name is the target and its address, as messages show it.
func (o Offset) Name() string { return o.Target + " " + o.URL }

// String is the offset as people read it: "+0.012 s ±0.004 s".
func (o Offset) String() string {
	if !o.Measured() {
		return "not measured (" + o.Unmeasured + "): the local clock stands for it"
	}
	return fmt.Sprintf("%+.3f s ±%.3f s", o.Estimate().Seconds(), o.Uncertainty().Seconds())
}

// ClockCheck is one measurement of the public targets' clocks, as the
// journal keeps it.
type ClockCheck struct {
	Why     string    `json:"why"` // preflight, gate, first write
	At      time.Time `json:"at"`  // local time the measurement began
	Offsets []Offset  `json:"offsets"`
}

// Summary lists the offsets in one line.
func (c ClockCheck) Summary() string {
	if len(c.Offsets) == 0 {
		return "no public target with a clock to measure"
	}
	parts := make([]string, len(c.Offsets))
	for i, o := range c.Offsets {
		parts[i] = o.Target + " " + o.String()
	}
	return strings.Join(parts, "; ")
}

// ClockProbe measures the clocks of every public target the release writes
// to. It calls report with what it has proven so far after each round of
// samples (the gate uses it at once) and returns the final offsets. It
// must return soon after ctx is done, with what it has. Stages provide it;
// the engine only uses it.
type ClockProbe func(ctx context.Context, why string, report func([]Offset)) []Offset

// Why a clock measurement is made.
const (
	MeasureFirstWrite = "first write" // no measurement was handed to the gate before a public write
	MeasureGate       = "gate"        // the last seconds before T0
)
