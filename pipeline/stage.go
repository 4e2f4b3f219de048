package pipeline

import (
	"context"
	"fmt"
	"time"
)

// Stage is one stage of a run. The engine knows stages only through this
// interface: stages/ holds the release's, a package each.
type Stage interface {
	Name() string
	// Summary says in one line what the stage does, for `plan`.
	Summary() string
	Run(ctx context.Context, r *Run) error
}

// Skipper is implemented by optional stages: a non-empty reason skips it.
type Skipper interface {
	Skip() string
}

// Run is what the engine gives a stage: the gate, the journal, the output
// and the secrets to scrub from both. What one stage hands to the next
// goes through the journal: each step's result is a Go value of the
// stage's own type (see Step and Load).
type Run struct {
	Gate    *Gate
	Journal *Journal
	Out     *Reporter
	Secrets *Secrets

	stage *StageRecord
	exec  *execution
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
