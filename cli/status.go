package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

// Status is what `status --json` prints and the final report carries.
type Status struct {
	ID       string                  `json:"id"`
	T0       time.Time               `json:"t0"`
	Window   string                  `json:"window"`
	Deadline time.Time               `json:"deadline"`
	Now      time.Time               `json:"now"`
	Stages   []*pipeline.StageRecord `json:"stages"`
	OK       bool                    `json:"ok"`
	Error    string                  `json:"error,omitempty"`
	Journal  string                  `json:"journal,omitempty"`
	// Distros is the distros pre-notice: when it was sent (as `embargo
	// notify` recorded it, else as embargo.distros says), or when notify
	// may send it; nil when the config neither names private recipients
	// nor says when the distros were notified.
	Distros *DistrosStatus `json:"distros,omitempty"`
}

// DistrosStatus is whether and when the distros were notified.
type DistrosStatus struct {
	Notified   bool       `json:"notified"`
	NotifiedAt *time.Time `json:"notified_at,omitempty"`
	// By is "embargo notify", or "embargo.distros" for the time written
	// in the config.
	By        string   `json:"by,omitempty"`
	MessageID string   `json:"message_id,omitempty"`
	To        []string `json:"to,omitempty"`
	Reply     string   `json:"reply,omitempty"`
	QueueID   string   `json:"queue_id,omitempty"`
	// WindowOpens and WindowCloses are when notify may send it.
	WindowOpens  time.Time `json:"window_opens"`
	WindowCloses time.Time `json:"window_closes"`
}

// distrosStatus reads the pre-notice from the journal j (nil: none) and cfg.
func distrosStatus(cfg *config.Config, j *pipeline.Journal) *DistrosStatus {
	opens, closes := release.DistrosWindow(cfg.T0())
	d := &DistrosStatus{WindowOpens: opens, WindowCloses: closes}
	if s, ok := release.DistrosNotified(j); ok {
		at := s.AcceptedAt.UTC()
		d.Notified, d.NotifiedAt, d.By = true, &at, "embargo notify"
		d.MessageID, d.To, d.Reply, d.QueueID = s.MessageID, s.To, s.Reply, s.QueueID
		return d
	}
	if at := cfg.Embargo.Distros; !at.IsZero() {
		at = at.UTC()
		d.Notified, d.NotifiedAt, d.By = true, &at, "embargo.distros"
		return d
	}
	if cfg.Announce != nil && len(cfg.Announce.Private) > 0 {
		return d
	}
	return nil
}

func buildStatus(cfg *config.Config, j *pipeline.Journal, now time.Time) *Status {
	st := &Status{ID: cfg.Embargo.ID, T0: cfg.T0(), Window: cfg.Window.String(), Deadline: cfg.Deadline(), Now: now.UTC(), OK: true}
	st.Distros = distrosStatus(cfg, j)
	if j != nil {
		snap := j.Snapshot()
		// The pre-notice is not a stage of the release: its own line.
		for _, s := range snap.Stages {
			if s.Name != release.Notify {
				st.Stages = append(st.Stages, s)
			}
		}
		if !snap.T0.IsZero() && !snap.T0.Equal(st.T0) {
			// The journal's own T0 (a rehearsal's, say): its times are
			// against that one.
			st.T0, st.Deadline = snap.T0.UTC(), snap.T0.UTC().Add(cfg.Window)
		}
	}
	for _, s := range st.Stages {
		if s.State == pipeline.StateFailed || s.State == pipeline.StateInterrupted {
			st.OK = false
		}
	}
	return st
}

func (a *app) statusCommand() *cobra.Command {
	var svg string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the journal: stages, steps, times, deadline",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			path := filepath.Join(a.stateDir(cfg), "journal.json")
			j, err := pipeline.ReadJournal(path)
			switch {
			case errors.Is(err, os.ErrNotExist):
				// Nothing has run: every stage is pending.
				j, err = pipeline.OpenJournal("", embargoOf(cfg), a.stageNames(), nil)
				if err != nil {
					return err
				}
			case err != nil:
				return err
			}
			st := buildStatus(cfg, j, a.clock.Now())
			st.Journal = path
			if svg != "" {
				if err := os.WriteFile(svg, timelineSVG(st), 0o644); err != nil {
					return err
				}
				if !a.g.json {
					fmt.Fprintf(a.stdout, "timeline written to %s\n", svg)
				}
			}
			if a.g.json {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(st); err != nil {
					return err
				}
			} else {
				printStatus(a.stdout, st, a.g.verbose)
			}
			// A failed stage exits 1, as the run that failed did, so that
			// a script polling status sees it; the table already says which.
			for _, s := range st.Stages {
				if s.State == pipeline.StateFailed {
					return &codeError{code: ExitFailed, err: fmt.Errorf("stage %s failed", s.Name), silent: true}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&svg, "svg", "", "also draw the timeline (stages, public writes, T0, the deadline) as an SVG picture in this `FILE`")
	return cmd
}

// printStatus writes the status table for people.
func printStatus(w io.Writer, st *Status, verbose bool) {
	now := st.Now
	fmt.Fprintf(w, "%s   T0 %s (%s)   advisory due %s (%s)\n", st.ID,
		st.T0.Format("2006-01-02 15:04:05Z"), relative(st.T0, now), st.Deadline.Format("2006-01-02 15:04:05Z"), relative(st.Deadline, now))
	printDistros(w, st)
	// The state column fits the longest state shown (interrupted).
	stateWidth := 8
	for _, s := range st.Stages {
		stateWidth = max(stateWidth, len(s.State))
	}
	for _, s := range st.Stages {
		times := ""
		if s.Started != nil {
			times = s.Started.UTC().Format("15:04:05")
			if s.Ended != nil {
				times += " - " + s.Ended.UTC().Format("15:04:05") + fmt.Sprintf(" (%s)", pipeline.HumanDuration(s.Ended.Sub(*s.Started).Round(time.Millisecond)))
			}
		}
		if beside := besides(st.Stages, s, now); len(beside) > 0 {
			times += "  beside " + strings.Join(beside, ", ")
		}
		fmt.Fprintf(w, "  %-10s %-*s %s\n", s.Name, stateWidth, s.State, times)
		if s.Note != "" {
			fmt.Fprintf(w, "             %s\n", s.Note)
		}
		for _, step := range s.Steps {
			summary := step.Summary
			if step.Error != "" {
				summary = firstLine(step.Error)
			}
			if !verbose && summary == "" {
				continue
			}
			fmt.Fprintf(w, "             %-7s %s: %s\n", step.State, step.Name, summary)
			printHistory(w, step, verbose)
		}
		if s.Error != "" {
			fmt.Fprintf(w, "             error: %s\n", strings.ReplaceAll(s.Error, "\n", "\n             "))
		}
	}
}

// printDistros says whether and when the distros were notified.
func printDistros(w io.Writer, st *Status) {
	d := st.Distros
	switch {
	case d == nil:
	case d.Notified && d.By == "embargo notify":
		fmt.Fprintf(w, "  distros notified %s (T0 - %s) by embargo notify: %s, %s\n", d.NotifiedAt.Format("2006-01-02 15:04:05Z"),
			pipeline.HumanDuration(st.T0.Sub(*d.NotifiedAt).Round(time.Minute)), d.MessageID, d.Reply)
	case d.Notified:
		fmt.Fprintf(w, "  distros notified %s (embargo.distros)\n", d.NotifiedAt.Format("2006-01-02 15:04:05Z"))
	default:
		fmt.Fprintf(w, "  distros not notified: %s\n", release.DistrosWindowWords(st.T0))
	}
}

// printHistory says, under a step run more than once, how many times and
// when what it made public first was; -v lists every attempt.
func printHistory(w io.Writer, step *pipeline.StepRecord, verbose bool) {
	n := len(step.Attempts) + step.Dropped
	if n < 2 {
		return
	}
	var first []string
	for _, m := range step.FirstMoments() {
		first = append(first, strings.TrimSuffix(m.Name, "_at")+" "+m.At.UTC().Format("15:04:05.000"))
	}
	line := fmt.Sprintf("%d attempts", n)
	if len(first) > 0 {
		line += "; first " + strings.Join(first, ", ")
	}
	fmt.Fprintf(w, "                     %s\n", line)
	if !verbose {
		return
	}
	for i, a := range step.Attempts {
		at := ""
		if a.Started != nil {
			at = a.Started.UTC().Format("15:04:05")
		}
		what := a.Summary
		if a.Error != "" {
			what = firstLine(a.Error)
		}
		no := i + 1
		if i > 0 {
			no += step.Dropped
		}
		fmt.Fprintf(w, "                     #%d %s %s: %s\n", no, at, a.State, what)
	}
}

// besides names the stages that ran at the same time as s: the stages that
// need nothing of each other run side by side.
func besides(stages []*pipeline.StageRecord, s *pipeline.StageRecord, now time.Time) []string {
	span := func(r *pipeline.StageRecord) (time.Time, time.Time, bool) {
		if r.Started == nil || r.State == pipeline.StateSkipped || r.State == pipeline.StatePending {
			return time.Time{}, time.Time{}, false
		}
		end := now
		if r.Ended != nil {
			end = *r.Ended
		}
		return *r.Started, end, true
	}
	from, to, ok := span(s)
	if !ok {
		return nil
	}
	var out []string
	for _, o := range stages {
		if o == s {
			continue
		}
		if f, t, ok := span(o); ok && f.Before(to) && from.Before(t) {
			out = append(out, o.Name)
		}
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// windowWords is the window a Status carries (Go's form, which scripts
// parse) as people read it: 6h, not 6h0m0s.
func windowWords(window string) string {
	if d, err := time.ParseDuration(window); err == nil {
		return pipeline.HumanDuration(d)
	}
	return window
}

// relative says "in 5m" or "2h ago".
func relative(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	switch {
	case d > 0:
		return "in " + pipeline.HumanDuration(d)
	case d < 0:
		return pipeline.HumanDuration(-d) + " ago"
	}
	return "now"
}
