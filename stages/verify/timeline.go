package verify

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

// Stage's last step: when each thing became public, against T0 and the
// deadline.

// timeline prints and records when each thing became public, relative to
// T0, the deadline and the margin left. The times are the first ones the
// journal holds (a re-run that found the crates already on the registry
// did not publish them); a stage that recorded no such moment shows when
// it finished. An interrupted verify checked nothing to the end: it
// reports no margin to spare, and fails.
func timeline(r *release.Run, res *Timeline) error {
	t0, deadline, now := r.Gate.T0, r.Gate.Deadline(), r.Now()
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	rel := func(t time.Time) string {
		d := t.Sub(t0).Round(time.Second)
		if d < 0 {
			return "T0 - " + pipeline.HumanDuration(-d)
		}
		return "T0 + " + pipeline.HumanDuration(d)
	}
	r.Infof("timeline:")
	r.Infof("  %-10s %s", "T0", stamp(t0))
	res.T0 = t0.UTC()
	for _, name := range r.Journal.StageNames() {
		if name == r.Stage() {
			continue
		}
		state, ended := r.Journal.StageState(name)
		switch {
		case state == pipeline.StateDone && ended != nil:
			res.stage(name, ended.UTC().Format(time.RFC3339Nano))
			if public := firstMoments(r.Journal, name); len(public) > 0 {
				for _, m := range public {
					if m.what == "" && len(public) > 1 {
						// Several writes of no subject (the announcement
						// and the notice): each is its step.
						m.what = m.step
					}
					r.Infof("  %-10s %s", name, m.describe(stamp, rel))
					for i, k := range m.keys {
						res.public(name+"/"+m.step+" "+k, m.times[i].UTC())
					}
				}
				continue
			}
			r.Infof("  %-10s done %s  (%s)", name, stamp(*ended), rel(*ended))
		case state == pipeline.StatePending:
			r.Infof("  %-10s not run", name)
			res.stage(name, state)
		default:
			r.Infof("  %-10s %s", name, state)
			res.stage(name, state)
		}
	}
	r.Infof("  %-10s %s  (%s)", r.Stage(), stamp(now), rel(now))
	r.Infof("  %-10s %s  (T0 + %s)", "deadline", stamp(deadline), pipeline.HumanDuration(r.Gate.Window))
	margin := deadline.Sub(now).Round(time.Second)
	res.Verified, res.Deadline, res.Margin = now.UTC(), deadline.UTC(), margin
	if r.Interrupted() {
		r.Warnf("INTERRUPTED at %s: not everything was verified; %s left before the deadline", rel(now), pipeline.HumanDuration(margin))
		res.Text = fmt.Sprintf("interrupted %s after T0, before everything was verified", pipeline.HumanDuration(now.Sub(t0).Round(time.Second)))
		return fmt.Errorf("verify was interrupted %s after T0, before everything was verified: nothing is proven live", pipeline.HumanDuration(now.Sub(t0).Round(time.Second)))
	}
	if margin >= 0 {
		res.WithinWindow = true
		r.Infof("  %-10s %s to spare", "margin", pipeline.HumanDuration(margin))
		res.Text = fmt.Sprintf("checked %s after T0, %s before the deadline", pipeline.HumanDuration(now.Sub(t0).Round(time.Second)), pipeline.HumanDuration(margin))
		return nil
	}
	r.Warnf("WINDOW MISSED: checked %s after the deadline %s", pipeline.HumanDuration(-margin), stamp(deadline))
	res.Text = fmt.Sprintf("checked %s after T0: %s past the deadline", pipeline.HumanDuration(now.Sub(t0).Round(time.Second)), pipeline.HumanDuration(-margin))
	return nil
}

// moment is when a step of a stage first made something public.
type moment struct {
	step  string
	what  string // the step's subject (a version, an image); "" for a push
	keys  []string
	times []time.Time
}

func (m moment) describe(stamp, rel func(time.Time) string) string {
	parts := make([]string, len(m.keys))
	for i, k := range m.keys {
		what := strings.TrimSuffix(k, "_at")
		if k == release.SeenMoment {
			what = "visible by"
		}
		parts[i] = fmt.Sprintf("%s %s  (%s)", what, stamp(m.times[i]), rel(m.times[i]))
	}
	out := strings.Join(parts, ", ")
	if m.what != "" {
		out = m.what + " " + out
	}
	return out
}

// firstMoments are the first public moments of a stage's steps: those
// of the attempts that made things public, not of a re-run that found
// them so.
func firstMoments(j *pipeline.Journal, stage string) []moment {
	var out []moment
	for _, st := range j.Steps(stage) {
		// "publish demo@1.0.1" is about demo@1.0.1; "push" about the stage.
		_, what, _ := strings.Cut(st.Name, " ")
		m := moment{step: st.Name, what: what}
		seen := slices.ContainsFunc(st.FirstMoments(), func(fm pipeline.FirstMoment) bool { return fm.Name == release.VisibleMoment })
		for _, fm := range st.FirstMoments() {
			if fm.Name == release.SeenMoment && seen {
				// Found in the index by a later run, it was visible by
				// then; when it became visible is recorded already.
				continue
			}
			m.keys, m.times = append(m.keys, fm.Name), append(m.times, fm.At)
		}
		if len(m.keys) > 0 {
			out = append(out, m)
		}
	}
	return out
}
