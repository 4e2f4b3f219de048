package release

import (
	"context"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
)

// Stage is one stage of the release: a package of stages/ with its own
// name (one of the constants above), what it needs done before it starts,
// and its Run, which reads as the list of its steps.
type Stage interface {
	Name() string
	// Summary says in one line what the stage does, for `plan`.
	Summary() string
	// Needs names the stages that must be done (or skipped) before it
	// starts; a stage outside the run's selection counts as done.
	Needs() []string
	Run(ctx context.Context, r *Run) error
}

// Skipper is implemented by optional stages: a non-empty reason skips it.
type Skipper interface {
	Skip(cfg *config.Config) string
}

// Planner is implemented by stages that can say in detail, without touching
// anything, what they will do.
type Planner interface {
	Plan(cfg *config.Config) []string
}

// Run is what a stage of the release sees: the engine's run of the stage
// (its journal, the gate, the output, the secrets) and the release it runs.
type Run struct {
	*pipeline.Run
	*Release
}

// Release is one run of the release, as its command set it up before any
// stage starts: the config, the state directory, where public writes go,
// and how the run goes. Stages read it and never change it.
type Release struct {
	Config   *config.Config
	StateDir string
	Targets  Targets
	Mode     Mode
}

// Engine is the engine that runs stages for rel: each stage sees rel
// beside the engine's run of it. rel may be nil for an engine that only
// names and selects stages.
func Engine(stages []Stage, rel *Release) *pipeline.Engine {
	e := &pipeline.Engine{}
	for _, st := range stages {
		e.Stages = append(e.Stages, bound{st, rel})
	}
	return e
}

// Names lists the stages' names, in order.
func Names(stages []Stage) []string {
	out := make([]string, len(stages))
	for i, st := range stages {
		out[i] = st.Name()
	}
	return out
}

// bound is a stage of the release as the engine runs it, for one release.
type bound struct {
	st  Stage
	rel *Release
}

func (b bound) Name() string    { return b.st.Name() }
func (b bound) Summary() string { return b.st.Summary() }
func (b bound) Needs() []string { return b.st.Needs() }

func (b bound) Skip() string {
	if s, ok := b.st.(Skipper); ok {
		return s.Skip(b.rel.Config)
	}
	return ""
}

func (b bound) Run(ctx context.Context, r *pipeline.Run) error {
	return b.st.Run(ctx, &Run{Run: r, Release: b.rel})
}
