// Package gate is the stage that holds the release until T0 has passed on
// this machine's clock and on the clock of every public target, with a
// countdown, and records how late it woke.
package gate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/vault"
)

// Stage is the gate: it waits for T0 on every clock: this machine's and those of the public
// targets, which the gate measures again in the last seconds. It is only
// the visible half of the gate: every public write also asks
// pipeline.Gate.Allow itself.
type Stage struct{}

func (Stage) Name() string    { return release.Gate }
func (Stage) Needs() []string { return []string{release.Preflight} }
func (Stage) Summary() string { return "wait for T0, on this machine's clock and every target's" }

func (Stage) Run(ctx context.Context, r *release.Run) error {
	g := r.Gate
	_, err := pipeline.Step(r.Run, OpenedKey, func(res *Opened) error {
		start := r.Now()
		res.T0 = g.T0.UTC()
		resumes := ""
		if !start.Before(g.T0) {
			if err := release.CheckLateStart(r); err != nil {
				return err
			}
			late := start.Sub(g.T0)
			res.LateStart = late.Round(time.Millisecond)
			resumes = release.JudgeLateStart(r).Resuming(r.Gate.T0)
			if late > g.Window {
				r.Warnf("WINDOW MISSED: started %s after T0; the advisory was due by %s. Proceeding now: every minute counts.",
					pipeline.HumanDuration(late.Round(time.Second)), g.Deadline().UTC().Format(time.RFC3339))
			} else if at, _ := g.Opening(); late > 0 && !at.After(start) {
				if r.Mode.Rehearsal() {
					// A rehearsal's T0 is its own start: nothing is late.
					r.Infof("the rehearsal's T0 is %s, when it started: releasing into the sandbox now", g.T0.UTC().Format("15:04:05"))
				} else if resumes != "" {
					r.Infof("started %s after T0, %s: proceeding at once", pipeline.HumanDuration(late.Round(time.Millisecond)), resumes)
				} else {
					r.Infof("started %s after T0: proceeding at once", pipeline.HumanDuration(late.Round(time.Millisecond)))
				}
			}
		} else if early, why := g.OpenedEarly(); early {
			r.Warnf("EMBARGO OVER (--late): %s; releasing now, %s before T0", why, pipeline.HumanDuration(g.T0.Sub(start).Round(time.Second)))
			res.OpenedEarly = why
		} else {
			r.Infof("holding until T0 %s (%s from now):", g.T0.UTC().Format(time.RFC3339), pipeline.HumanDuration(g.T0.Sub(start).Round(time.Second)))
			for _, rel := range r.Config.Releases {
				checked, _ := release.CheckedLine(r.Journal, rel.Line)
				held := vault.ShortHex(checked.Held)
				r.Infof("  %s: %s %s -> %s, tag %s", rel.Line, rel.Branch, held, rel.PublicBranch, rel.Tag)
			}
		}
		if at, by := g.Opening(); by != "" && at.After(start) && at.Sub(g.T0) >= noticeable {
			r.Infof("T0 comes later on the clock of %s: holding until %s here", by, at.UTC().Format("15:04:05.000"))
		}
		interval := time.Minute
		if r.Out.TTY {
			interval = time.Second
		}
		then := awaited(r)
		late, err := g.Wait(ctx, interval, func(left time.Duration) {
			r.Out.Emit(pipeline.Event{Kind: pipeline.EventCountdown, Stage: release.Gate, Msg: "T-" + countdown(left) + then,
				Data: map[string]any{"remaining_s": left.Seconds()}})
		})
		woke := r.Now()
		r.Out.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: release.Gate}) // the countdown is over
		if err != nil {
			return fmt.Errorf("interrupted while waiting for T0: %w", err)
		}
		world := g.World()
		res.Woke, res.Late, res.Clocks = woke.UTC(), late, world
		opened, by := g.Opening()
		if by != "" && start.Before(opened) {
			res.OpenedBy, res.OpenedAfterT0 = by, opened.Sub(g.T0)
		}
		if by != "" && start.Before(opened) && opened.Sub(g.T0) >= noticeable {
			r.Infof("T0 passed on the clock of %s last, %s after this machine's T0", by, pipeline.HumanDuration(opened.Sub(g.T0).Round(time.Millisecond)))
		}
		if len(world) > 0 && start.Before(g.T0) {
			// What the gate opened by: its own measurement of the last
			// seconds, as far as it had come.
			r.Infof("clocks at T0: %s", pipeline.ClockCheck{Offsets: world}.Summary())
		}
		switch {
		case !start.Before(opened) && resumes != "":
			res.Text = "T0 already passed: " + resumes
		case !start.Before(opened):
			res.Text = "T0 already passed (" + pipeline.HumanDuration(res.LateStart) + " late)"
			if by != "" {
				res.Text = "T0 already passed on every clock"
			}
		default:
			res.Text = fmt.Sprintf("T0 reached on every clock, woke %s late", pipeline.HumanDuration(late.Round(time.Microsecond)))
		}
		return nil
	})
	return err
}

// OpenedKey is the gate's wait.
var OpenedKey = pipeline.Key[Opened]{Stage: release.Gate, Step: "wait"}

// Opened is the gate's wait: when it woke, how late, on which clocks.
type Opened struct {
	T0 time.Time `json:"t0"`
	// LateStart is how long after T0 the run reached the gate, if it did.
	LateStart time.Duration `json:"late_start_ns,omitempty"`
	// OpenedEarly says why the gate opened before T0 (--late).
	OpenedEarly string    `json:"opened_early,omitempty"`
	Woke        time.Time `json:"woke,omitzero"`
	// Late is how long after the opening the gate woke.
	Late   time.Duration     `json:"late_ns"`
	Clocks []pipeline.Offset `json:"clocks,omitempty"`
	// OpenedBy is the clock T0 passed on last, OpenedAfterT0 how long
	// after this machine's T0.
	OpenedBy      string        `json:"opened_by,omitempty"`
	OpenedAfterT0 time.Duration `json:"opened_after_t0_ns,omitempty"`
	Text          string        `json:"summary,omitempty"`
}

func (g Opened) Summary() string { return g.Text }

// awaited says what the countdown waits for: what this run makes public
// when the gate opens.
func awaited(r *release.Run) string {
	var parts []string
	if r.Selected(release.Push) {
		parts = append(parts, fmt.Sprintf("push %d line(s)' branches and tags", len(r.Config.Releases)))
	}
	if r.Selected(release.Publish) {
		versions := 0
		for _, rel := range r.Config.Releases {
			checked, _ := release.CheckedLine(r.Journal, rel.Line)
			versions += len(checked.Crates)
		}
		if versions > 0 {
			parts = append(parts, fmt.Sprintf("publish %d version(s)", versions))
		} else {
			parts = append(parts, "publish")
		}
	}
	if r.Selected(release.Promote) && len(r.Config.Images) > 0 {
		parts = append(parts, fmt.Sprintf("promote %d image(s)", len(r.Config.Images)))
	}
	if len(parts) == 0 {
		return ""
	}
	return " to T0, then: " + strings.Join(parts, ", ")
}

// noticeable is how much later than T0 here the gate must open for the
// output to say which clock holds it; below it, it is the measurement's
// own margin.
const noticeable = time.Second

// countdown formats a duration as [Dd ]HH:MM:SS, rounding up so the display
// reaches 00:00:01 and never shows 00:00:00 before T0.
func countdown(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	days := s / 86400
	s %= 86400
	out := fmt.Sprintf("%02d:%02d:%02d", s/3600, (s%3600)/60, s%60)
	if days > 0 {
		out = fmt.Sprintf("%dd %s", days, out)
	}
	return strings.TrimSpace(out)
}
