package cli

import (
	"context"
	"encoding/json"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

// planReport is what `plan --json` prints: the plan as one object, for a
// script or a CI summary to read.
type planReport struct {
	ID       string    `json:"id"`
	Title    string    `json:"title"`
	T0       time.Time `json:"t0"`
	Window   string    `json:"window"`
	Deadline time.Time `json:"deadline"`
	// Distros is when linux-distros was notified: as `embargo notify`
	// recorded it (DistrosNotice, its Message-ID and the server's reply),
	// else embargo.distros; CalendarWarnings the calendar's departures
	// from the policy.
	Distros          *time.Time              `json:"distros,omitempty"`
	DistrosNotice    *release.MailAcceptance `json:"distros_notice,omitempty"`
	CalendarWarnings []string                `json:"calendar_warnings,omitempty"`
	// T0Past is true when T0 is not ahead: a run then releases at once
	// only as the late-start rule allows.
	T0Past bool `json:"t0_in_past"`
	// LateStart, when T0 is past, is what a run started now does by the
	// state directory's seal and journal: "resume" a release begun,
	// "release" one prepared before T0, or "refuse" without --late.
	LateStart string        `json:"late_start,omitempty"`
	Stages    []planStage   `json:"stages"`
	Lines     []planLine    `json:"lines"`
	Patched   []string      `json:"patched"`
	Versions  []planVersion `json:"versions"`
	// VersionsError says why the registry's versions were not read.
	VersionsError string             `json:"versions_error,omitempty"`
	NoFixSeries   []string           `json:"no_fix_series,omitempty"`
	Clocks        []pipeline.Offset  `json:"clocks"`
	ClockWarnings []string           `json:"clock_warnings,omitempty"`
	ClockErrors   []pipeline.Finding `json:"clock_errors,omitempty"`
	Publish       *planPublish       `json:"publish,omitempty"`
}

// planPublish is the release's uploads under crates.io's rate limit (see
// writePublishForecast).
type planPublish struct {
	release.PublishCount
	// LimitedFor is how long after T0 the limit lets the last upload
	// through, "" when it does not bite or the registry is not crates.io.
	LimitedFor string `json:"limited_for,omitempty"`
	FitsWindow bool   `json:"fits_window"`
	Error      string `json:"error,omitempty"`
}

type planStage struct {
	Name    string   `json:"name"`
	When    string   `json:"when"`
	Summary string   `json:"summary"`
	Skipped string   `json:"skipped,omitempty"` // why, for an optional stage not configured
	Plan    []string `json:"plan,omitempty"`
}

type planLine struct {
	Line         string   `json:"line"`
	Branch       string   `json:"branch"`
	PublicBranch string   `json:"public_branch"`
	Tag          string   `json:"tag"`
	Crates       []string `json:"crates,omitempty"` // empty: every publishable crate
}

type planVersion struct {
	Version string `json:"version"`
	Status  string `json:"status"`
	FixedBy string `json:"fixed_by,omitempty"`
}

// planJSON prints the plan as one JSON object.
func (a *app) planJSON(ctx context.Context, cfg *config.Config, now time.Time) error {
	rep := planReport{ID: cfg.Embargo.ID, Title: cfg.Advisory.Title, T0: cfg.T0(), Window: cfg.Window.String(), Deadline: cfg.Deadline(),
		T0Past: !now.Before(cfg.T0()), Stages: []planStage{}, Lines: []planLine{}, Versions: []planVersion{}}
	j := a.readJournal(cfg)
	if at, _ := release.DistrosNotice(cfg.Embargo.Distros, j); !at.IsZero() {
		rep.Distros = &at
	}
	if s, ok := release.DistrosNotified(j); ok {
		rep.DistrosNotice = &s
	}
	rep.CalendarWarnings = release.CalendarWarnings(cfg, j)
	if rep.T0Past {
		switch l, _ := a.lateStartSeen(cfg, now); {
		case l.Begun != "":
			rep.LateStart = "resume"
		case l.Prepared != "":
			rep.LateStart = "release"
		default:
			rep.LateStart = "refuse"
		}
	}
	for _, st := range a.stages {
		ps := planStage{Name: st.Name(), When: stageWhen(cfg, st, a.stages), Summary: st.Summary()}
		if sk, ok := st.(release.Skipper); ok {
			ps.Skipped = sk.Skip(cfg)
		}
		if p, ok := st.(release.Planner); ok {
			ps.Plan = p.Plan(cfg)
		}
		rep.Stages = append(rep.Stages, ps)
	}
	for _, rel := range cfg.Releases {
		rep.Lines = append(rep.Lines, planLine{Line: rel.Line, Branch: rel.Branch, PublicBranch: rel.PublicBranch, Tag: rel.Tag, Crates: rel.Crates})
	}
	if m, err := release.AdvisoryModel(cfg); err != nil {
		rep.VersionsError = err.Error()
	} else {
		rep.Patched = m.Patched()
		versions, err := a.packageVersions(ctx, cfg)
		if err != nil {
			rep.VersionsError = err.Error()
		}
		for _, c := range m.Classify(versions) {
			rep.Versions = append(rep.Versions, planVersion{Version: c.Version, Status: c.Status, FixedBy: c.FixedBy})
		}
		rep.NoFixSeries = m.NoFixSeries(versions)
	}
	rep.Clocks = release.MeasureClocks(ctx, a.looking(cfg, nil, nil))
	if rep.Clocks == nil {
		rep.Clocks = []pipeline.Offset{}
	}
	rep.ClockWarnings, rep.ClockErrors = release.JudgeClocks(rep.Clocks, cfg.Window)
	rep.Publish = a.publishForecast(ctx, cfg)
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
