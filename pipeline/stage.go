package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
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
	Skip(cfg *Config) string
}

// Planner is implemented by stages that can say in detail, without touching
// anything, what they will do.
type Planner interface {
	Plan(cfg *Config) []string
}

// Run is what a stage sees: the config, the gate, the journal, the output.
// What one stage hands to the next goes through journal step results, typed
// by the stage that writes them.
type Run struct {
	Config   *Config
	Gate     *Gate
	Journal  *Journal
	Out      *Reporter
	Secrets  *Secrets
	StateDir string
	// Force lets the advisory stage replace a post whose content differs.
	Force bool
	// Check is true under `embargo check`: observe and report, change nothing.
	Check bool
	// Targets, when set, replace the public targets (a rehearsal's sandbox).
	Targets *Targets

	stage *StageRecord
}

// Targets are where public writes go. In a normal run they come from the
// config; in a rehearsal, from the sandbox world.
type Targets struct {
	Public        string // git remote URL or path
	RegistryIndex string
	RegistryToken string
	BlogRepo      string
	// BlogURL, when set, replaces blog.url's site for the live check; a
	// rehearsal without one checks the post in its blog copy only.
	BlogURL string
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

// Step runs fn as a named step of the current stage, recording its state,
// times, result and error in the journal, written before and after.
func (r *Run) Step(name string, fn func(result map[string]string) error) error {
	now := r.Now().UTC()
	var rec *StepRecord
	if err := r.Journal.update(func() {
		for _, s := range r.stage.Steps {
			if s.Name == name {
				rec = s
			}
		}
		if rec == nil {
			rec = &StepRecord{Name: name}
			r.stage.Steps = append(r.stage.Steps, rec)
		}
		rec.State, rec.Started, rec.Ended, rec.Error = StateRunning, &now, nil, ""
	}); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	r.Out.Debugf(r.Stage(), "step %s", name)
	point := r.Stage() + "." + strings.ReplaceAll(name, " ", "_")
	Checkpoint(point + ".started")
	result := map[string]string{}
	err := recovered(func() error { return fn(result) })
	Checkpoint(point + ".ran")
	end := r.Now().UTC()
	if jerr := r.Journal.update(func() {
		rec.Ended, rec.Result = &end, result
		if err != nil {
			rec.State, rec.Error = StateFailed, err.Error()
		} else {
			rec.State = StateDone
		}
	}); jerr != nil && err == nil {
		err = fmt.Errorf("write journal: %w", jerr)
	}
	if err == nil {
		r.Out.Emit(Event{Kind: EventDone, Stage: r.Stage(), Step: name, Msg: result["summary"]})
	}
	return err
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

// StageError is a failed stage, with the command that resumes.
type StageError struct {
	Stage string
	Err   error
	Next  string
}

func (e *StageError) Error() string {
	return fmt.Sprintf("stage %s failed: %v\nnext: %s", e.Stage, e.Err, e.Next)
}

func (e *StageError) Unwrap() error { return e.Err }

// Selection picks the stages of a run: all, from one on, or only one.
type Selection struct {
	From string
	Only string
}

// Engine runs stages in order.
type Engine struct {
	Stages []Stage
	// BeforeStage, when set, is called as each stage starts, once the
	// journal records it running and before it runs.
	BeforeStage func(*Run)
}

// Names lists the stage names in order.
func (e *Engine) Names() []string {
	out := make([]string, len(e.Stages))
	for i, s := range e.Stages {
		out[i] = s.Name()
	}
	return out
}

// Select returns the stages a selection runs, or a usage error.
func (e *Engine) Select(sel Selection) ([]Stage, error) {
	if sel.From != "" && sel.Only != "" {
		return nil, &UsageError{Msg: "--from and --only exclude each other"}
	}
	want := sel.From + sel.Only
	if want == "" {
		return e.Stages, nil
	}
	for i, s := range e.Stages {
		if s.Name() == want {
			if sel.Only != "" {
				return e.Stages[i : i+1], nil
			}
			return e.Stages[i:], nil
		}
	}
	return nil, &UsageError{Msg: fmt.Sprintf("unknown stage %q; stages are: %s", want, strings.Join(e.Names(), ", "))}
}

// UsageError is bad command-line usage (exit 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Execute runs the selected stages in order, stopping at the first failure.
// The journal is written before and after every stage and step.
func (e *Engine) Execute(ctx context.Context, r *Run, sel Selection) error {
	stages, err := e.Select(sel)
	if err != nil {
		return err
	}
	for _, st := range stages {
		rec := r.Journal.Stage(st.Name())
		r.stage = rec
		if sk, ok := st.(Skipper); ok {
			if why := sk.Skip(r.Config); why != "" {
				now := r.Now().UTC()
				if err := r.Journal.update(func() {
					rec.State, rec.Started, rec.Ended, rec.Error, rec.Note = StateSkipped, &now, &now, "", why
				}); err != nil {
					return err
				}
				r.Out.Emit(Event{Kind: EventSkip, Stage: st.Name(), Msg: why})
				continue
			}
		}
		start := r.Now().UTC()
		if err := r.Journal.update(func() {
			rec.State, rec.Started, rec.Ended, rec.Error, rec.Note = StateRunning, &start, nil, "", ""
		}); err != nil {
			return fmt.Errorf("write journal: %w", err)
		}
		r.Out.Emit(Event{Kind: EventStart, Stage: st.Name(), Msg: st.Summary()})
		if e.BeforeStage != nil {
			e.BeforeStage(r)
		}
		runErr := recovered(func() error { return st.Run(ctx, r) })
		end := r.Now().UTC()
		if err := r.Journal.update(func() {
			rec.Ended = &end
			if runErr != nil {
				rec.State, rec.Error = StateFailed, runErr.Error()
			} else {
				rec.State = StateDone
			}
		}); err != nil && runErr == nil {
			runErr = fmt.Errorf("write journal: %w", err)
		}
		if runErr != nil {
			r.Out.Emit(Event{Kind: EventFail, Stage: st.Name(), Msg: runErr.Error()})
			return &StageError{Stage: st.Name(), Err: runErr, Next: nextCommand(r, st.Name())}
		}
		r.Out.Emit(Event{Kind: EventDone, Stage: st.Name(), Msg: fmt.Sprintf("in %s", end.Sub(start).Round(time.Millisecond))})
	}
	r.stage = nil
	return nil
}

func nextCommand(r *Run, stage string) string {
	cmd := "embargo run"
	if r.Targets != nil && r.Gate.Sandbox {
		cmd = "embargo rehearse"
	}
	if r.Config != nil && r.Config.Path != "" && r.Config.Path != "embargo.toml" {
		cmd += " -c " + r.Config.Path
	}
	return fmt.Sprintf("fix the cause above, then `%s --from %s` (safe to re-run: every step re-checks the world first)", cmd, stage)
}

// Finding is one problem a check found, with the fix where there is one.
type Finding struct {
	Subject string // what it is about: "release 1.13", "source.token_env"
	Msg     string
	Fix     string
}

func (f Finding) String() string {
	s := f.Subject + ": " + f.Msg
	if f.Fix != "" {
		s += "\n      fix: " + f.Fix
	}
	return s
}

// FindingsError lists every problem a stage found, not just the first.
type FindingsError struct {
	Findings []Finding
}

func (e *FindingsError) Error() string {
	lines := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		lines[i] = "  - " + f.String()
	}
	noun := "problems"
	if len(lines) == 1 {
		noun = "problem"
	}
	return fmt.Sprintf("%d %s:\n%s", len(lines), noun, strings.Join(lines, "\n"))
}

// AsFindings returns the findings of err, if it carries any.
func AsFindings(err error) []Finding {
	var fe *FindingsError
	if errors.As(err, &fe) {
		return fe.Findings
	}
	return nil
}
