package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

// The summary ends `run` and `rehearse`: a line a stage saying what it made
// public and when, against T0. The steps were printed as they ran and
// `embargo status` lists them again; this is the table for the post-mortem.

// stageSummary is one row of the summary.
type stageSummary struct {
	name, state string
	public      string    // what the stage made public, "" for none
	first, last time.Time // the first and last public write, or the stage's end
	note        string    // what a stage that wrote nothing public did
}

func summarize(cfg *config.Config, s *pipeline.StageRecord) stageSummary {
	row := stageSummary{name: s.Name, state: s.State}
	writes, found := 0, 0
	for _, st := range s.Steps {
		wrote := false
		for _, m := range st.FirstMoments() {
			if !m.Public {
				continue
			}
			t := m.At
			wrote = true
			if row.first.IsZero() || t.Before(row.first) {
				row.first = t
			}
			if t.After(row.last) {
				row.last = t
			}
		}
		switch {
		case wrote:
			writes++
		case st.State == pipeline.StateDone && isCrateStep(st.Name):
			found++ // on the registry already, from an earlier run or by hand
		}
	}
	if writes > 0 || found > 0 {
		row.public = madePublic(cfg, s.Name, writes, found)
	}
	if row.first.IsZero() && s.Ended != nil && s.State != pipeline.StateSkipped {
		row.first, row.last = *s.Ended, *s.Ended
	}
	switch {
	case row.public != "":
	case s.Name == release.Preflight && s.State == pipeline.StateDone:
		row.note = fmt.Sprintf("ready: %s passed", plural(len(s.Steps), "check"))
	default:
		row.note = lastSummary(s)
	}
	return row
}

// isCrateStep is whether a step of the publish stage is one version's.
func isCrateStep(step string) bool {
	_, ok := release.CrateOfStep(step)
	return ok
}

// madePublic says in a few words what a stage's writes were.
func madePublic(cfg *config.Config, stage string, writes, found int) string {
	switch stage {
	case release.Push:
		var branches, tags []string
		for _, rel := range cfg.Releases {
			branches = append(branches, rel.PublicBranch)
			tags = append(tags, rel.Tag)
		}
		return "branches " + strings.Join(branches, ", ") + "; tags " + strings.Join(tags, ", ")
	case release.Publish:
		out := plural(writes, "version") + " uploaded"
		if found > 0 {
			out += fmt.Sprintf(", %d found there already", found)
		}
		return out
	case release.Promote:
		return plural(writes, "image") + " copied"
	case release.GHSA:
		if cfg.GHSA != nil {
			return "the GitHub security advisory " + cfg.GHSA.ID
		}
	case release.Announce, release.Notice:
		if a := cfg.Announce; a != nil {
			return plural(writes, "mail") + " accepted by " + a.SMTP
		}
	case release.Advisory:
		if cfg.Blog != nil && cfg.Blog.Feed != "" {
			return "the post and the feed entry, on the blog's " + cfg.Blog.Branch
		}
		if cfg.Blog != nil {
			return "the post, on the blog's " + cfg.Blog.Branch
		}
	}
	return plural(writes, "public write")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// lastSummary is the stage's error, or else the summary of its last step
// that has one: for the gate how it opened, for verify the timeline.
func lastSummary(s *pipeline.StageRecord) string {
	if s.Error != "" {
		return firstLine(s.Error)
	}
	if s.Note != "" {
		return s.Note
	}
	for i := len(s.Steps) - 1; i >= 0; i-- {
		if s.Steps[i].Error != "" {
			return firstLine(s.Steps[i].Error)
		}
		if v := s.Steps[i].Summary; v != "" {
			return v
		}
	}
	return ""
}

// printSummary writes the table.
func printSummary(w io.Writer, st *Status, cfg *config.Config, color bool) {
	fmt.Fprintf(w, "%s   T0 %s   advisory due %s (%s)\n", st.ID,
		st.T0.Format("2006-01-02 15:04:05Z"), st.Deadline.Format("2006-01-02 15:04:05Z"), relative(st.Deadline, st.Now))
	var t table
	t.row(cell{text: "  stage"}, cell{text: "state"}, cell{text: "at"}, cell{text: "T0 +"}, cell{text: "made public, or what it did"})
	for _, s := range st.Stages {
		row := summarize(cfg, s)
		state := cell{text: row.state}
		if color {
			state.color = stateColor[row.state]
		}
		at, offset := "", ""
		if !row.first.IsZero() {
			at = row.first.UTC().Format("15:04:05.000")
			offset = signed(row.first.Sub(st.T0))
			if row.last.Sub(row.first) >= time.Millisecond {
				at += "-" + row.last.UTC().Format(untilLayout(row.first, row.last))
				offset += " to " + signed(row.last.Sub(st.T0))
			}
		}
		what := row.public
		if what == "" {
			what = row.note
		}
		t.row(cell{text: "  " + row.name}, state, cell{text: at}, cell{text: offset}, cell{text: what})
	}
	t.write(w)
	fmt.Fprintln(w, "  every step: `embargo status`")
}

// stateColor colours a stage's state in the summary.
var stateColor = map[string]string{
	pipeline.StateDone: pipeline.Green, pipeline.StateFailed: pipeline.Red, pipeline.StateInterrupted: pipeline.Yellow,
	pipeline.StateSkipped: pipeline.Grey, pipeline.StatePending: pipeline.Grey, pipeline.StateRunning: pipeline.Yellow,
}

// untilLayout is how the end of a span of public writes is written after
// its start: its seconds alone within the start's minute, with the minute
// (or the hour) when it passed into another, never 49.071-14.758.
func untilLayout(first, last time.Time) string {
	switch {
	case first.UTC().Truncate(time.Hour) != last.UTC().Truncate(time.Hour):
		return "15:04:05.000"
	case first.UTC().Truncate(time.Minute) != last.UTC().Truncate(time.Minute):
		return "04:05.000"
	}
	return "05.000"
}

// signed formats an offset from T0 with its sign, to the millisecond.
func signed(d time.Duration) string {
	d = d.Round(time.Millisecond)
	if d < 0 {
		return pipeline.HumanDuration(d)
	}
	return "+" + pipeline.HumanDuration(d)
}
