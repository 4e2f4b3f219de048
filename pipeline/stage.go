package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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
	BlogRepo      string
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

// Step runs fn as a named step of the current stage, recording its state,
// times, result and error in the journal, written before and after. Each
// run of a step is an attempt, kept in its history; a result key ending in
// _at is a moment (when something happened in the world), and the first
// value each moment had is kept however often the step runs again.
func (r *Run) Step(name string, fn func(result map[string]string) error) error {
	now := r.Now().UTC()
	var rec *StepRecord
	var attempt *Attempt
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
		attempt = rec.begin(now)
	}); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	r.Out.Debugf(r.Stage(), "step %s", name)
	point := r.Stage() + "." + strings.ReplaceAll(name, " ", "_")
	Checkpoint(point + ".started")
	result := map[string]string{}
	err := recovered(func() error { return fn(result) })
	Checkpoint(point + ".ran")
	// Once in the journal, the result is the journal's, read and scrubbed
	// under its lock by the steps running beside this one.
	summary := result["summary"]
	end := r.Now().UTC()
	state := StateDone
	switch {
	case err != nil && r.Interrupted():
		state = StateInterrupted
	case err != nil:
		state = StateFailed
	}
	if jerr := r.Journal.update(func() {
		rec.end(attempt, end, state, result, err)
	}); jerr != nil && err == nil {
		err = fmt.Errorf("write journal: %w", jerr)
	}
	if err == nil {
		r.Out.Emit(Event{Kind: EventDone, Stage: r.Stage(), Step: name, Msg: summary})
	}
	return err
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

// StageError is a failed or interrupted stage, with the command that
// resumes.
type StageError struct {
	Stage string
	Err   error
	Next  string
	// Interrupted: the operator stopped the run; nothing needs fixing.
	Interrupted bool
}

func (e *StageError) Error() string {
	what := "failed"
	if e.Interrupted {
		what = "interrupted"
	}
	return fmt.Sprintf("stage %s %s: %v\nnext: %s", e.Stage, what, e.Err, e.Next)
}

func (e *StageError) Unwrap() error { return e.Err }

// Selection picks the stages of a run: all, from one on (in the list's
// order), or only one.
type Selection struct {
	From string
	Only string
}

// Needer is implemented by stages that name the stages they need finished
// before they start. A stage that does not implement it needs the one
// before it in the list, so an engine of plain stages runs them one after
// another. A need outside the run's selection (or outside the engine)
// counts as met: `--from` re-runs a stage on what earlier runs left.
type Needer interface {
	Needs() []string
}

// Engine runs a graph of stages: each starts once every stage it needs is
// done (or skipped), so stages that need nothing of each other run side by
// side. A failed stage stops the stages that need it, not the others.
type Engine struct {
	Stages []Stage
	// BeforeStage, when set, is called as each stage starts, once the
	// journal records it running and before it runs; never by two stages
	// at once.
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
	from, to, err := e.span(sel)
	if err != nil {
		return nil, err
	}
	return e.Stages[from:to], nil
}

// span is where a selection lies in the list: e.Stages[from:to].
func (e *Engine) span(sel Selection) (from, to int, err error) {
	if sel.From != "" && sel.Only != "" {
		return 0, 0, &UsageError{Msg: "--from and --only exclude each other"}
	}
	want := sel.From + sel.Only
	if want == "" {
		return 0, len(e.Stages), nil
	}
	for i, s := range e.Stages {
		if s.Name() == want {
			if sel.Only != "" {
				return i, i + 1, nil
			}
			return i, len(e.Stages), nil
		}
	}
	return 0, 0, &UsageError{Msg: fmt.Sprintf("unknown stage %q; stages are: %s", want, strings.Join(e.Names(), ", "))}
}

// Needs is what stage i of the list needs.
func (e *Engine) needs(i int) []string {
	if n, ok := e.Stages[i].(Needer); ok {
		return n.Needs()
	}
	if i == 0 {
		return nil
	}
	return []string{e.Stages[i-1].Name()}
}

// UsageError is bad command-line usage (exit 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// execution is what the stages of one Execute share: each stage's outcome,
// for the stages that wait on it.
type execution struct {
	ctx    context.Context     // the run's: cancelled when the operator stops it
	stages map[string]*outcome // the selected stages
	// before serialises BeforeStage.
	before sync.Mutex
}

type outcome struct {
	done chan struct{} // closed when the stage has finished, run or not
	ok   bool          // done or skipped; written before done is closed
}

// WaitFor blocks until the named stage of this run has finished, and fails
// when it did not succeed. A stage outside this run's selection is not
// waited for: nil at once. Stages that prepare before T0 wait for the gate
// this way right before their first public write, so a run's gate opens
// them all at once, while a stage run alone still meets the gate's refusal.
func (r *Run) WaitFor(ctx context.Context, stage string) error {
	if r.exec == nil {
		return nil
	}
	o, selected := r.exec.stages[stage]
	if !selected {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-o.done:
	}
	if !o.ok {
		return fmt.Errorf("stage %s did not finish", stage)
	}
	return nil
}

// Selected is true when the named stage is part of this run.
func (r *Run) Selected(stage string) bool {
	if r.exec == nil {
		return false
	}
	_, ok := r.exec.stages[stage]
	return ok
}

// Execute runs the selected stages, each once what it needs is done. The
// journal is written before and after every stage and step. The error
// names the first failed stage in the list's order (a run --from it
// re-runs every failed one), with the others' errors joined.
func (e *Engine) Execute(ctx context.Context, r *Run, sel Selection) error {
	first, to, err := e.span(sel)
	if err != nil {
		return err
	}
	stages := e.Stages[first:to]
	x := &execution{ctx: ctx, stages: map[string]*outcome{}}
	for _, st := range stages {
		x.stages[st.Name()] = &outcome{done: make(chan struct{})}
	}
	needs := make([][]string, len(stages))
	for k := range stages {
		for _, n := range e.needs(first + k) {
			if _, selected := x.stages[n]; selected {
				needs[k] = append(needs[k], n)
			}
		}
	}

	errs := make([]error, len(stages))
	var wg sync.WaitGroup
	for k, st := range stages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := x.stages[st.Name()]
			defer close(mine.done)
			for _, n := range needs[k] {
				need := x.stages[n]
				select {
				case <-ctx.Done():
					return // not started: the journal keeps it pending
				case <-need.done:
				}
				if !need.ok {
					return // what it needs failed: it waits for a re-run
				}
			}
			if ctx.Err() != nil {
				return // stopped as its needs were met: it starts on the re-run
			}
			sr := *r
			sr.exec = x
			sr.stage = r.Journal.Stage(st.Name())
			mine.ok, errs[k] = e.runStage(ctx, &sr, st)
		}()
	}
	wg.Wait()

	var failed *StageError
	var others []error
	for k, err := range errs {
		var se *StageError
		switch {
		case err == nil:
		case failed == nil && errors.As(err, &se):
			failed = se
		case failed == nil:
			return err // the journal could not be written
		default:
			others = append(others, fmt.Errorf("stage %s %s: %w", stages[k].Name(), stateOf(err), err))
		}
	}
	if ctx.Err() != nil {
		// Stopped by the operator: the run resumes at the first stage
		// that did not finish, interrupted or never started.
		resume := ""
		for _, st := range stages {
			if !x.stages[st.Name()].ok {
				resume = st.Name()
				break
			}
		}
		if resume == "" {
			return nil // every stage had finished
		}
		if failed == nil || failed.Stage != resume {
			cause := errors.New("the run was stopped before this stage started")
			if failed != nil {
				cause = fmt.Errorf("%w; stage %s %s: %w", cause, failed.Stage, stateOf(failed), failed.Err)
			}
			failed = &StageError{Stage: resume, Err: cause, Interrupted: failed == nil || failed.Interrupted}
		}
		for _, o := range others {
			if stateOf(o) == StateFailed {
				failed.Interrupted = false // a stage failed as well: fix it first
			}
		}
	}
	if failed == nil {
		return nil
	}
	failed.Next = nextCommand(r, failed.Stage, failed.Interrupted)
	if len(others) > 0 {
		failed.Err = errors.Join(append([]error{failed.Err}, others...)...)
	}
	return failed
}

// stateOf says how a stage's error ended it: "failed" or "interrupted".
func stateOf(err error) string {
	var se *StageError
	if errors.As(err, &se) && se.Interrupted {
		return StateInterrupted
	}
	return StateFailed
}

// runStage runs one stage (or records it skipped) with its journal record;
// ok is true when it is done or skipped.
func (e *Engine) runStage(ctx context.Context, r *Run, st Stage) (ok bool, err error) {
	rec := r.stage
	if sk, isSkipper := st.(Skipper); isSkipper {
		if why := sk.Skip(r.Config); why != "" {
			now := r.Now().UTC()
			if err := r.Journal.update(func() {
				rec.State, rec.Started, rec.Ended, rec.Error, rec.Note = StateSkipped, &now, &now, "", why
			}); err != nil {
				return false, err
			}
			r.Out.Emit(Event{Kind: EventSkip, Stage: st.Name(), Msg: why})
			return true, nil
		}
	}
	start := r.Now().UTC()
	if err := r.Journal.update(func() {
		rec.State, rec.Started, rec.Ended, rec.Error, rec.Note = StateRunning, &start, nil, "", ""
	}); err != nil {
		return false, fmt.Errorf("write journal: %w", err)
	}
	r.Out.Emit(Event{Kind: EventStart, Stage: st.Name(), Msg: st.Summary()})
	if e.BeforeStage != nil {
		r.exec.before.Lock()
		e.BeforeStage(r)
		r.exec.before.Unlock()
	}
	runErr := recovered(func() error { return st.Run(ctx, r) })
	end := r.Now().UTC()
	interrupted := runErr != nil && ctx.Err() != nil
	if err := r.Journal.update(func() {
		rec.Ended = &end
		switch {
		case interrupted:
			rec.State, rec.Error = StateInterrupted, runErr.Error()
		case runErr != nil:
			rec.State, rec.Error = StateFailed, runErr.Error()
		default:
			rec.State = StateDone
		}
	}); err != nil && runErr == nil {
		runErr = fmt.Errorf("write journal: %w", err)
	}
	if runErr != nil {
		r.Out.Emit(Event{Kind: EventFail, Stage: st.Name(), Msg: runErr.Error()})
		return false, &StageError{Stage: st.Name(), Err: runErr, Interrupted: interrupted}
	}
	r.Out.Emit(Event{Kind: EventDone, Stage: st.Name(), Msg: fmt.Sprintf("in %s", end.Sub(start).Round(time.Millisecond))})
	return true, nil
}

func nextCommand(r *Run, stage string, interrupted bool) string {
	cmd := "embargo run"
	if r.Targets != nil && r.Gate.Sandbox {
		cmd = "embargo rehearse"
	}
	if r.Config != nil && r.Config.Path != "" && r.Config.Path != "embargo.toml" {
		cmd += " -c " + r.Config.Path
	}
	if interrupted {
		return fmt.Sprintf("`%s --from %s` resumes where the run was stopped (safe to re-run: every step re-checks the world first)", cmd, stage)
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
