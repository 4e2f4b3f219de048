package preflight

import (
	"context"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

// startClocks begins preflight's measurement in the background, while the
// rest of preflight runs; recordClocks waits for it.
func startClocks(ctx context.Context, r *release.Run) (wait func() ([]pipeline.Offset, bool)) {
	var (
		offs []pipeline.Offset
		ok   bool
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		why := release.MeasurePreflight
		if r.Mode.Check() {
			why = release.MeasureCheck
		}
		offs, ok = r.Gate.Measure(ctx, why)
	}()
	return func() ([]pipeline.Offset, bool) {
		<-done
		return offs, ok
	}
}

// recordClocks is preflight's clocks step: each target's offset in the
// journal and the output, a warning for a clock far off, a problem for one
// off by more than the window.
func recordClocks(r *release.Run, wait func() ([]pipeline.Offset, bool), add func(subject, fix, format string, args ...any)) error {
	_, err := pipeline.Step(r.Run, clocksKey, func(res *ClocksMeasured) error {
		offs, ok := wait()
		if !ok {
			return nil
		}
		res.Measured, res.Offsets = true, offs
		warnings, findings := release.JudgeClocks(offs, r.Gate.Window)
		for _, w := range warnings {
			r.Warnf("%s", w)
		}
		for _, f := range findings {
			add(f.Subject, f.Fix, "%s", f.Msg)
		}
		return nil
	})
	return err
}
