package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// StageError is a failed or interrupted stage, with where a re-run starts;
// the command line says it as a command.
type StageError struct {
	Stage string
	Err   error
	// From is the stage a re-run starts at: the failed one, or the one a
	// *RerunError in Err names (a branch moved since preflight needs
	// preflight again). Force says that re-run must replace what differs.
	From  string
	Force bool
	// Fix, when known, is what to fix before that re-run: a verdict's
	// *Refusal says it (the config key and the variable of a credential
	// the registry refused).
	Fix string
	// Interrupted: the operator stopped the run; nothing needs fixing.
	Interrupted bool
}

func (e *StageError) Error() string {
	what := "failed"
	if e.Interrupted {
		what = "interrupted"
	}
	return fmt.Sprintf("stage %s %s: %v", e.Stage, what, e.Err)
}

// RerunError is a failure whose way out, once its cause is fixed, is a
// re-run from another stage than the one that failed, or with --force.
type RerunError struct {
	From  string
	Force bool
	Err   error
}

func (e *RerunError) Error() string { return e.Err.Error() }
func (e *RerunError) Unwrap() error { return e.Err }

// RerunFrom marks err as fixed by a re-run from stage.
func RerunFrom(stage string, err error) error { return &RerunError{From: stage, Err: err} }

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
	// verdicts are the go/no-go decisions one stage settles for others
	// (verdict.go), by name, made on first use.
	verdictsMu sync.Mutex
	verdicts   map[string]*verdictState
}

type outcome struct {
	done  chan struct{} // closed when the stage has finished, run or not
	ok    bool          // done or skipped; written before done is closed
	needs []string      // the selected stages it starts after
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
		x.stages[stages[k].Name()].needs = needs[k]
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
			sr.stage = r.Journal.stage(st.Name())
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
		case errors.As(err, &se):
			others = append(others, err) // it names its stage
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
	failed.From = failed.Stage
	if re := (*RerunError)(nil); errors.As(failed.Err, &re) {
		failed.From, failed.Force = re.From, re.Force
	}
	for _, err := range append([]error{failed.Err}, others...) {
		if ref := (*Refusal)(nil); errors.As(err, &ref) && ref.Fix != "" {
			failed.Fix = ref.Fix
			break
		}
	}
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
		if why := sk.Skip(); why != "" {
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
	r.Out.Emit(Event{Kind: EventDone, Stage: st.Name(), Msg: fmt.Sprintf("in %s", HumanDuration(end.Sub(start).Round(time.Millisecond)))})
	return true, nil
}
