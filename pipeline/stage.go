package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/async-rs/embargo/config"
)

// Stage is one step of the release. Stages live in stages/, one a file; the
// engine knows them only through this interface.
type Stage interface {
	Name() string
	// Summary says in one line what the stage does, for `plan`.
	Summary() string
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

// Run is what a stage sees: the config, the gate, the journal, the output.
// What one stage hands to the next goes through the journal: each step's
// result is a Go value of the stage's own type (see Step and Load).
type Run struct {
	Config   *config.Config
	Gate     *Gate
	Journal  *Journal
	Out      *Reporter
	Secrets  *Secrets
	StateDir string
	// Force lets the advisory stage replace a post whose content differs.
	Force bool
	// Check is true under `embargo check`: observe and report, change nothing.
	Check bool
	// Resealing is true for the preflight `embargo seal` runs: it makes
	// the new seal, so it is not held to an older one.
	Resealing bool
	// Late is the operator's word (`run --late`) that the embargo is over:
	// a fix already public, or a T0 in the past that no earlier run
	// prepared for, is released now instead of refused.
	Late bool
	// Targets, when set, replace the public targets (a rehearsal's sandbox).
	Targets *Targets

	stage *StageRecord
	exec  *execution
}

// Targets are where public writes go. In a normal run they come from the
// config; in a rehearsal, from the sandbox world.
type Targets struct {
	Public        string // git remote URL or path
	RegistryIndex string
	RegistryToken string
	// RegistryProxy, when set, is the proxy a rehearsal's cargo reaches
	// RegistryIndex through while keeping the registry's real index URL,
	// which cargo writes into the packages of an alternative registry's
	// crates; RegistryProxyCA is the certificate authority cargo trusts
	// for it.
	RegistryProxy, RegistryProxyCA string
	// OIDCURL and OIDCRequestToken stand in for a CI runner's OIDC
	// endpoint (the sandbox registry's), for Trusted Publishing.
	OIDCURL          string
	OIDCRequestToken string
	BlogRepo         string
	// BlogURL, when set, replaces blog.url's site for the live check; a
	// rehearsal without one checks the post in its blog copy only.
	BlogURL string
	// GHSAAPI and GHSAToken are the sandbox GitHub API holding a copy of
	// the draft advisory, and its own token; without them a rehearsal
	// never calls GitHub.
	GHSAAPI   string
	GHSAToken string
}

// Now is the gate clock's time.
func (r *Run) Now() time.Time { return r.Gate.Clock.Now() }

// Stage is the name of the running stage.
func (r *Run) Stage() string {
	if r.stage == nil {
		return ""
	}
	return r.stage.Name
}

// Infof reports progress of the running stage.
func (r *Run) Infof(format string, args ...any) {
	r.Out.Emit(Event{Kind: EventInfo, Stage: r.Stage(), Msg: fmt.Sprintf(format, args...)})
}

// Warnf reports something the operator must see.
func (r *Run) Warnf(format string, args ...any) {
	r.Out.Emit(Event{Kind: EventWarn, Stage: r.Stage(), Msg: fmt.Sprintf(format, args...)})
}

// Note records a line on the stage in the journal (shown by status).
func (r *Run) Note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.Journal.update(func() {
		if r.stage.Note != "" {
			r.stage.Note += "; "
		}
		r.stage.Note += msg
	})
}

// Interrupted is true once the operator has stopped the run (Ctrl-C,
// SIGTERM): what fails from then on was cut short, not refused.
func (r *Run) Interrupted() bool {
	return r.exec != nil && r.exec.ctx.Err() != nil
}

// recovered runs fn and turns a panic inside it into its error: a step or
// stage that panics fails, and the journal says where, instead of showing it
// running forever.
func recovered(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	return fn()
}
