package release

import (
	"context"
	"fmt"
	"strings"
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
		e.T0.UTC().Format(time.RFC3339), pipeline.HumanDuration(e.Ago.Round(time.Second)), e.Config)
}

// CheckLateStart returns a *LateStartError for a run after T0 that must not
// proceed on its own, nil otherwise.
func CheckLateStart(r *Run) error {
	now := r.Now()
	if now.Before(r.Gate.T0) || r.Mode.Late || r.Mode.Rehearsal() {
		return nil
	}
	if JudgeLateStart(r).Proceeds() {
		return nil
	}
	return &LateStartError{T0: r.Gate.T0, Ago: now.Sub(r.Gate.T0), Config: r.Config.Path}
}

// LateStart is what the late-start rule finds for a run after T0: what
// shows the release was prepared before T0, and what shows it has begun;
// empty when nothing does, and the run is then refused without --late.
type LateStart struct {
	Prepared string // "sealed 2026-11-30T10:00:00Z", or ""
	Begun    string // "push: pushed_at 2026-12-01T14:00:01.120Z", or ""
	// BegunAt is the first public moment the journal records; zero when
	// the release was seen public but no journal here says when.
	BegunAt time.Time
}

// Proceeds is whether a run after T0 goes ahead without --late.
func (l LateStart) Proceeds() bool { return l.Prepared != "" || l.Begun != "" }

// JudgeLateStart applies the late-start rule to what r sees: its state
// directory's seal, its journal (earlier runs' and this run's preflight),
// and the public world as this run's preflight found it. run (at the gate,
// or a stage run alone), check and plan all judge with it, so that they
// cannot disagree.
func JudgeLateStart(r *Run) LateStart {
	l := LateStart{Prepared: preparedBeforeT0(r)}
	l.Begun, l.BegunAt = begunPublicly(r)
	return l
}

// Says is the sentence a run after T0 prints about itself, ago after T0.
func (l LateStart) Says(t0 time.Time, ago time.Duration) string {
	switch {
	case l.Begun != "" && !l.BegunAt.IsZero():
		return fmt.Sprintf("the release began at T0%s (%s): a run resumes it, doing only what is missing", signedAfter(l.BegunAt.Sub(t0)), l.Begun)
	case l.Begun != "":
		return fmt.Sprintf("the release has begun: %s; a run resumes it, doing only what is missing", l.Begun)
	case l.Prepared != "":
		return fmt.Sprintf("T0 passed %s ago; this release was prepared before it (%s): a run releases it at once", pipeline.HumanDuration(ago.Round(time.Second)), l.Prepared)
	}
	return ""
}

// Resuming says, for a run after T0 of a release already begun publicly
// (a re-run), which one it resumes: such a run is not late, it goes on.
// It is "" for a release not begun.
func (l LateStart) Resuming(t0 time.Time) string {
	switch {
	case l.Begun != "" && !l.BegunAt.IsZero():
		return "resuming the release that began at T0" + signedAfter(l.BegunAt.Sub(t0))
	case l.Begun != "":
		return "resuming the release, begun already (" + l.Begun + ")"
	}
	return ""
}

// signedAfter writes d as "+1m2s" or, before T0, "-3s".
func signedAfter(d time.Duration) string {
	if d < 0 {
		return pipeline.HumanDuration(d.Round(time.Millisecond))
	}
	return "+" + pipeline.HumanDuration(d.Round(time.Millisecond))
}

// preparedBeforeT0 says what shows this release was prepared while T0 was
// ahead: the seal made before T0, or some attempt of a preflight step in
// this state directory that finished before T0; "" when nothing does.
func preparedBeforeT0(r *Run) string {
	if m, ok, err := ReadSeal(r.StateDir); err == nil && ok && m.SealedAt.Before(r.Gate.T0) {
		return "sealed " + m.SealedAt.UTC().Format(time.RFC3339)
	}
	for _, st := range r.Journal.Steps(Preflight) {
		for _, a := range st.Attempts {
			if a.State == pipeline.StateDone && a.Ended != nil && a.Ended.Before(r.Gate.T0) {
				return "a preflight finished " + a.Ended.UTC().Format(time.RFC3339)
			}
		}
	}
	return ""
}

// begunPublicly says what shows part of this release public: a moment of
// it the journal records in any stage (a push, an upload, a copy, a post;
// a version or the post seen public: a step records one only once
// something is public), the earliest one, with when; or else what
// preflight saw public already (a branch at its held tip, a version on the
// registry). "" when nothing does.
func begunPublicly(r *Run) (what string, at time.Time) {
	for _, stage := range r.Journal.StageNames() {
		for _, st := range r.Journal.Steps(stage) {
			for moment, v := range st.First {
				t, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					t = time.Time{} // recorded, though not as a time: it still counts
				}
				if what == "" || !t.IsZero() && (at.IsZero() || t.Before(at)) {
					step := st.Name
					if !strings.HasPrefix(step, stage) {
						step = stage + " " + step
					}
					when := v
					if !t.IsZero() {
						when = t.UTC().Format("2006-01-02T15:04:05.000Z")
					}
					what, at = fmt.Sprintf("%s: %s %s", step, moment, when), t
				}
			}
		}
	}
	if what != "" {
		return what, at
	}
	for _, rel := range r.Config.Releases {
		if l, _ := CheckedLine(r.Journal, rel.Line); l.Held != "" && l.PublicTip == l.Held {
			return fmt.Sprintf("release %s: %s is at its held tip", rel.Line, rel.PublicBranch), time.Time{}
		}
		if p, _ := PackagedLine(r.Journal, rel.Line); len(p.Released) > 0 {
			return fmt.Sprintf("release %s: %s on the registry", rel.Line, strings.Join(p.Released, ", ")), time.Time{}
		}
	}
	return "", time.Time{}
}

// AwaitGate is where a stage that prepared before T0 makes its first
// public write: when the run's gate opens, or, for a stage run without the
// gate (--from, --only), at once if T0 has passed and the late-start rule
// allows it; before T0 the gate's own check refuses the write.
func AwaitGate(ctx context.Context, r *Run) error {
	if r.Selected(Gate) {
		return r.WaitFor(ctx, Gate)
	}
	return CheckLateStart(r)
}

// SleepUntilLead waits on the gate's clock until lead before T0, when this
// run's gate will open the stage's writes; a stage run without its gate
// does not wait (the gate refuses its writes before T0).
func SleepUntilLead(ctx context.Context, r *Run, lead time.Duration) error {
	if !r.Selected(Gate) {
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
