package stages

import (
	"context"
	"fmt"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// A run that starts after T0 proceeds at once only when this release was
// prepared while T0 was still ahead (a preflight finished before T0, or the
// seal was made before it) or has already begun publicly (a re-run). Any
// other T0 in the past may be a wrong date in embargo.at, and releasing
// then would make an embargoed fix public at once: the run refuses, nothing
// public, until the operator says with --late that the embargo is over.

// LateStartError is a run after T0 that nothing shows was meant to be.
type LateStartError struct {
	T0     time.Time
	Ago    time.Duration
	Config string
}

func (e *LateStartError) Error() string {
	return fmt.Sprintf("T0 %s is %s ago, and no run prepared this release before it (no preflight finished, no seal made before T0) and none of it is public yet: "+
		"a wrong date in embargo.at would make the embargoed fix public now. Nothing was made public. Check embargo.at in %s; if the embargo is really over, confirm with `embargo run --late`",
		e.T0.UTC().Format(time.RFC3339), e.Ago.Round(time.Second), e.Config)
}

// lateStart returns a *LateStartError for a run after T0 that must not
// proceed on its own, nil otherwise.
func lateStart(r *pipeline.Run) error {
	now := r.Now()
	if now.Before(r.Gate.T0) || r.Late || r.Gate.Sandbox {
		return nil
	}
	if preparedBeforeT0(r) || begunPublicly(r) {
		return nil
	}
	return &LateStartError{T0: r.Gate.T0, Ago: now.Sub(r.Gate.T0), Config: r.Config.Path}
}

// preparedBeforeT0: some attempt of a preflight step finished before T0 in
// this state directory, or the seal was made before T0.
func preparedBeforeT0(r *pipeline.Run) bool {
	if m, ok, err := readSeal(r); err == nil && ok && m.SealedAt.Before(r.Gate.T0) {
		return true
	}
	for _, st := range r.Journal.Steps("preflight") {
		for _, a := range st.Attempts {
			if a.State == pipeline.StateDone && a.Ended != nil && a.Ended.Before(r.Gate.T0) {
				return true
			}
		}
	}
	return false
}

// begunPublicly: the journal records a moment of this release in any
// stage (a push, an upload, a copy, a post; a version or the post seen
// public: a step records one only once something is public), or preflight
// saw part of it public already (a branch at its held tip, a version on the
// registry).
func begunPublicly(r *pipeline.Run) bool {
	for _, stage := range r.Journal.StageNames() {
		for _, st := range r.Journal.Steps(stage) {
			if len(st.First) > 0 {
				return true
			}
		}
	}
	for _, rel := range r.Config.Releases {
		if l, _ := CheckedLine(r, rel); l.Held != "" && l.PublicTip == l.Held {
			return true
		}
		if p, _ := PackagedLine(r, rel); len(p.Released) > 0 {
			return true
		}
	}
	return false
}

// awaitGate is where a stage that prepared before T0 makes its first
// public write: when the run's gate opens, or, for a stage run without the
// gate (--from, --only), at once if T0 has passed and the late-start rule
// allows it; before T0 the gate's own check refuses the write.
func awaitGate(ctx context.Context, r *pipeline.Run) error {
	if r.Selected("gate") {
		return r.WaitFor(ctx, "gate")
	}
	return lateStart(r)
}

// sleepUntilLead waits on the gate's clock until lead before T0, when this
// run's gate will open the stage's writes; a stage run without its gate
// does not wait (the gate refuses its writes before T0).
func sleepUntilLead(ctx context.Context, r *pipeline.Run, lead time.Duration) error {
	if !r.Selected("gate") {
		return nil
	}
	// The opening, not T0: a target whose clock is behind, or a gate
	// the operator opened early, moves it.
	open, _ := r.Gate.Opening()
	d := open.Add(-lead).Sub(r.Now())
	if d <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.Gate.Clock.After(d):
		return nil
	}
}
