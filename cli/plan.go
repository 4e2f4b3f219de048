package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

func (a *app) planCommand() *cobra.Command {
	var ci bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what will happen, in order, with times",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			now := a.clock.Now()
			if ci {
				if a.g.json {
					return flagError{fmt.Errorf("plan --ci prints CI schedule lines to paste; it has no --json form")}
				}
				a.planCI(cfg, now)
				return nil
			}
			if a.g.json {
				return a.planJSON(cmd.Context(), cfg, now)
			}
			w := a.stdout
			// The clocks are measured while the rest is printed.
			clocks := make(chan []pipeline.Offset, 1)
			go func() { clocks <- release.MeasureClocks(cmd.Context(), a.looking(cfg, nil, nil)) }()
			fmt.Fprintf(w, "%s: %s\n", cfg.Embargo.ID, cfg.Advisory.Title)
			a.planCalendar(cfg, now)
			if !now.Before(cfg.T0()) {
				a.planLateStart(cfg, now)
			}
			fmt.Fprintln(w)
			a.planStages(cfg)
			fmt.Fprintf(w, "\nrelease lines (public: %s)\n", cfg.Source.Public)
			for _, rel := range cfg.Releases {
				crates := "all publishable crates"
				if len(rel.Crates) > 0 {
					crates = strings.Join(rel.Crates, ", ")
				}
				fmt.Fprintf(w, "  %-8s %s -> %s, tag %s, %s\n", rel.Line, rel.Branch, rel.PublicBranch, rel.Tag, crates)
			}
			a.planVersions(cmd.Context(), cfg)
			a.planPublishRate(cmd.Context(), cfg)
			a.planClocks(cfg, <-clocks)
			return nil
		},
	}
	cmd.Flags().BoolVar(&ci, "ci", false, "print the CI schedule that starts the release job before T0 (see ci/)")
	return cmd
}

// planStages lists the stages in order, each with when it runs and what it
// does, or, for a stage not configured, why it is skipped; columns as wide
// as their widest entry.
func (a *app) planStages(cfg *config.Config) {
	type row struct{ no, name, when, what string }
	rows := make([]row, len(a.stages))
	var wNo, wName, wWhen int
	for i, st := range a.stages {
		r := row{no: fmt.Sprintf("%d.", i+1), name: st.Name(), when: stageWhen(cfg, st, a.stages), what: st.Summary()}
		if sk, ok := st.(release.Skipper); ok {
			if why := sk.Skip(cfg); why != "" {
				r.when, r.what = "skipped", why
			}
		}
		rows[i] = r
		wNo, wName, wWhen = max(wNo, len(r.no)), max(wName, len(r.name)), max(wWhen, len(r.when))
	}
	indent := strings.Repeat(" ", wNo+1+wName+1+wWhen+1)
	for i, r := range rows {
		fmt.Fprintf(a.stdout, "%-*s %-*s %-*s %s\n", wNo, r.no, wName, r.name, wWhen, r.when, r.what)
		if r.when == "skipped" {
			continue
		}
		if p, ok := a.stages[i].(release.Planner); ok {
			for _, line := range p.Plan(cfg) {
				fmt.Fprintf(a.stdout, "%s%s\n", indent, line)
			}
		}
		if a.stages[i].Name() == release.Announce {
			fmt.Fprintf(a.stdout, "%s%s\n", indent, a.planSigningKey(cfg))
		}
	}
	if why := noAdvisoryPosted(cfg); why != "" {
		fmt.Fprintf(a.stdout, "\n!!! %s\n", why)
	}
}

// planSigningKey names the key that signs the announcement, by its
// fingerprint, or what keeps it from signing; never the key.
func (a *app) planSigningKey(cfg *config.Config) string {
	an := cfg.Announce
	if an == nil || len(an.To) == 0 {
		return "no announcement to sign"
	}
	secrets := pipeline.NewSecrets(a.getenv)
	r := a.looking(cfg, nil, nil)
	r.Targets = release.Real(cfg, secrets)
	k, err := release.SigningKey(r, cfg.T0())
	if err != nil {
		if fs := pipeline.AsFindings(err); fs != nil {
			return fmt.Sprintf("!!! signing key: %s: %s", fs[0].Subject, secrets.Scrub(fs[0].Msg))
		}
		return "!!! signing key: " + secrets.Scrub(err.Error())
	}
	return fmt.Sprintf("signed with key %s (%s)", k.Fingerprint(), an.SigningKeyEnv)
}

// noAdvisoryPosted says, for a config without [blog], that no advisory
// goes out unless the operator posts it: "" with a blog.
func noAdvisoryPosted(cfg *config.Config) string {
	if cfg.Blog != nil {
		return ""
	}
	return fmt.Sprintf("no advisory will be posted: there is no [blog] in %s; publish the advisory by hand, by %s (T0 + %s)",
		cfg.Path, cfg.Deadline().UTC().Format("2006-01-02 15:04:05Z"), pipeline.HumanDuration(cfg.Window))
}

// lateStartSeen is what the late-start rule finds in cfg's state
// directory, its seal and its journal (a journal of another release is
// err, which a run stops at too). Only check looks at the public world.
func (a *app) lateStartSeen(cfg *config.Config, now time.Time) (release.LateStart, error) {
	state := a.stateDir(cfg)
	j, err := pipeline.OpenJournalInMemory(filepath.Join(state, "journal.json"), embargoOf(cfg), a.stageNames(), nil)
	if err != nil {
		return release.LateStart{}, err
	}
	r := a.looking(cfg, j, &pipeline.Gate{T0: cfg.T0(), Window: cfg.Window, Clock: pipeline.NewFakeClock(now)})
	return release.JudgeLateStart(r), nil
}

// planLateStart says what a run started now does with a T0 in the past,
// by the rule run applies, to what the state directory shows.
func (a *app) planLateStart(cfg *config.Config, now time.Time) {
	w, ago := a.stdout, now.Sub(cfg.T0()).Round(time.Second)
	l, err := a.lateStartSeen(cfg, now)
	if err != nil {
		fmt.Fprintf(w, "!!! %v\n", err)
	}
	if l.Proceeds() {
		fmt.Fprintf(w, "after T0: %s\n", l.Says(cfg.T0(), ago))
		return
	}
	fmt.Fprintf(w, "!!! T0 IS IN THE PAST (%s ago), and nothing in %s shows this release prepared before T0 or begun:\n"+
		"    a run refuses it, unless part of it is public already (`embargo check` looks), until `embargo run --late`\n"+
		"    says the embargo is over. Check embargo.at in %s.\n", pipeline.HumanDuration(ago), a.stateDir(cfg), cfg.Path)
}

// stageWhen says when a stage runs, against T0: after the stages it
// waits for that this config runs (the post waits for the mail only when
// [announce] is configured).
func stageWhen(cfg *config.Config, st release.Stage, all []release.Stage) string {
	switch st.Name() {
	case release.Preflight:
		return "before T0"
	case release.Gate:
		return "until T0"
	case release.Verify:
		return "by T0+" + pipeline.HumanDuration(cfg.Window)
	}
	skipped := map[string]bool{}
	for _, other := range all {
		if sk, ok := other.(release.Skipper); ok && sk.Skip(cfg) != "" {
			skipped[other.Name()] = true
		}
	}
	var after []string
	for _, need := range st.Needs() {
		if need != release.Preflight && !skipped[need] {
			after = append(after, need)
		}
	}
	if len(after) > 0 {
		return "after " + strings.Join(after, ", ")
	}
	return "at T0"
}

// planCalendar prints the disclosure's dates and what departs from the
// policy: the distros notice (as `embargo notify` recorded it, or when it
// may be sent), T0, the advisory's deadline.
func (a *app) planCalendar(cfg *config.Config, now time.Time) {
	w := a.stdout
	j := a.readJournal(cfg)
	for _, e := range release.Calendar(cfg, j) {
		if e.Name == "T0" {
			fmt.Fprintf(w, "T0        %s (%s)\n", e.At.Format("2006-01-02 15:04:05Z07:00"), relative(e.At, now))
			continue
		}
		fmt.Fprintf(w, "%-9s %s: %s\n", e.Name, e.At.Format("2006-01-02 15:04:05Z07:00"), e.What)
	}
	for _, m := range release.CalendarWarnings(cfg, j) {
		fmt.Fprintf(w, "  warning: %s\n", m)
	}
}

// readJournal is the journal of cfg's state directory, for display; nil
// when there is none (nothing has run) or it cannot be read.
func (a *app) readJournal(cfg *config.Config) *pipeline.Journal {
	j, err := pipeline.ReadJournal(filepath.Join(a.stateDir(cfg), "journal.json"))
	if err != nil {
		return nil
	}
	return j
}

// ciLead is how long before T0 the scheduled CI job starts at the
// latest: schedulers start late, and the job waits in-process for T0.
// ciBackupLead is the second, later schedule's: a backup for a dropped
// first run, still early enough for preflight before T0.
const (
	ciLead       = 45 * time.Minute
	ciBackupLead = 25 * time.Minute
)

// offMinute moves t earlier to a minute no scheduler favours: GitHub's is
// busiest at the start of every hour, and most schedules fall on round
// minutes (:00, :15, :30, every 5).
func offMinute(t time.Time) time.Time {
	t = t.Truncate(time.Minute)
	for t.Minute()%5 == 0 {
		t = t.Add(-time.Minute)
	}
	return t
}

func cronLine(t time.Time) string {
	return fmt.Sprintf("%d %d %d %d *", t.Minute(), t.Hour(), t.Day(), int(t.Month()))
}

// planCI prints the schedule for the templates in ci/.
func (a *app) planCI(cfg *config.Config, now time.Time) {
	w := a.stdout
	start, backup := offMinute(cfg.T0().Add(-ciLead)), offMinute(cfg.T0().Add(-ciBackupLead))
	first, second := cronLine(start), cronLine(backup)
	fmt.Fprintf(w, "T0 %s; the CI job starts %d minutes earlier, at %s UTC, and once more at %s UTC as a backup.\n\n",
		cfg.T0().Format("2006-01-02 15:04:05Z07:00"), int(cfg.T0().Sub(start).Minutes()), start.Format("2006-01-02 15:04"), backup.Format("15:04"))
	fmt.Fprintf(w, "GitHub Actions (ci/github-actions.yml), under on.schedule:\n    - cron: %q\n    - cron: %q\n\n", first, second)
	fmt.Fprintf(w, "GitLab CI (ci/gitlab-ci.yml), two pipeline schedules:\n    interval pattern: %s\n    interval pattern: %s\n    cron timezone:    UTC\n\n", first, second)
	fmt.Fprintln(w, "CI schedulers start late, by minutes and at busy times by more: the job checks everything")
	fmt.Fprintln(w, "at once, then waits in-process for T0 and releases to the second; started after T0, it")
	fmt.Fprintln(w, "releases at once. GitHub's scheduler is busiest at the start of every hour and can drop")
	fmt.Fprintln(w, "a run altogether: both lines are off the round minutes, and the second is the backup. It")
	fmt.Fprintln(w, "waits while the first runs (one release job at a time), then finds the release done by")
	fmt.Fprintln(w, "looking at the world and exits cleanly; if the first never started, it releases.")
	fmt.Fprintln(w, "The lines fire every year: delete the schedule after the release.")
	if now.After(start) {
		fmt.Fprintf(w, "\nthe start time has passed (%s): start the job by hand.\n", relative(start, now))
	}
}

// planVersions classifies every published version of the advisory's
// package (read from the registry, read only), so that a maintained line
// forgotten in the config shows before T0.
func (a *app) planVersions(ctx context.Context, cfg *config.Config) {
	w := a.stdout
	m, err := release.AdvisoryModel(cfg)
	if err != nil {
		fmt.Fprintf(w, "\nadvisory: %v\n", err)
		return
	}
	fmt.Fprintf(w, "\npatched: %s\n", strings.Join(m.Patched(), "; "))
	versions, err := a.packageVersions(ctx, cfg)
	if err != nil {
		fmt.Fprintf(w, "versions of %s: not read from the registry (%v)\n", cfg.Advisory.Package, err)
		return
	}
	if len(versions) == 0 {
		fmt.Fprintf(w, "versions of %s: none on the registry yet\n", cfg.Advisory.Package)
		return
	}
	fmt.Fprintf(w, "versions of %s on the registry:\n", cfg.Advisory.Package)
	fmt.Fprintf(w, "  %-14s %-16s %s\n", "version", "status", "upgrade to")
	for _, c := range m.Classify(versions) {
		fmt.Fprintf(w, "  %-14s %-16s %s\n", c.Version, c.Status, c.FixedBy)
	}
	if nf := m.NoFixSeries(versions); len(nf) > 0 {
		fmt.Fprintf(w, "no fix for series %s: is a maintained line missing from the config?\n", strings.Join(nf, ", "))
	}
}

// planClocks shows each public target's clock against this machine's: the
// gate opens when T0 has passed on all of them.
func (a *app) planClocks(cfg *config.Config, offs []pipeline.Offset) {
	w := a.stdout
	if len(offs) == 0 {
		fmt.Fprintf(w, "\nclocks: no public target with a clock of its own; the gate counts on this machine's\n")
		return
	}
	fmt.Fprintf(w, "\nclocks of the public targets against this machine's (T0 must pass on each; measured once, to about\na tenth of a second: check measures to about a round trip, and the gate again before T0):\n")
	for _, o := range offs {
		fmt.Fprintf(w, "  %-28s %-34s %s\n", o.Target, o.URL, o)
	}
	warnings, findings := release.JudgeClocks(offs, cfg.Window)
	for _, f := range findings {
		fmt.Fprintf(w, "  ERROR %s\n", f)
	}
	for _, m := range warnings {
		fmt.Fprintf(w, "  warning: %s\n", m)
	}
}
