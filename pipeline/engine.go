package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

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

// execution is what the stages of one Execute share: each stage's outcome,
// for the stages that wait on it.
type execution struct {
	ctx    context.Context     // the run's: cancelled when the operator stops it
	stages map[string]*outcome // the selected stages
	// stoppedAt is when ctx was cancelled, on the gate's clock.
	stopMu    sync.Mutex
	stoppedAt time.Time
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
	defer context.AfterFunc(ctx, func() { x.stopped(r) })()
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
	var cut []CutShort
	for _, err := range errs {
		if se := (*StageError)(nil); errors.As(err, &se) && se.Interrupted && se.Stopped != nil {
			cut = append(cut, se.Stopped.Cut...)
		}
	}
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
		if failed.Interrupted {
			failed.Stopped = &Interruption{At: x.stopped(r), T0: r.Gate.T0, Cut: cut}
		}
	}
	if failed == nil {
		return nil
	}
	failed.From = failed.Stage
	if re := (*RerunError)(nil); errors.As(failed.Err, &re) {
		failed.From, failed.Force, failed.Only = re.From, re.Force, re.Only
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

// stopped is when the operator stopped the run: the first call after it
// was cancelled (the AfterFunc of Execute, as the signal came) records it.
func (x *execution) stopped(r *Run) time.Time {
	x.stopMu.Lock()
	defer x.stopMu.Unlock()
	if x.stoppedAt.IsZero() {
		x.stoppedAt = r.Now()
	}
	return x.stoppedAt
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
	var stop *Interruption
	said := ""
	if interrupted {
		// Said in words, in the journal too: the stage's own error is
		// only that its context was cancelled.
		stop = &Interruption{At: r.exec.stopped(r), T0: r.Gate.T0, Cut: []CutShort{{Stage: st.Name(), Steps: r.Journal.cutShort(rec)}}}
		said = "interrupted " + stop.When()
		if steps := stop.Cut[0].Steps; len(steps) > 0 {
			said += ", during " + strings.Join(steps, ", ")
		}
	}
	if err := r.Journal.update(func() {
		rec.Ended = &end
		switch {
		case interrupted:
			rec.State, rec.Error = StateInterrupted, said
		case runErr != nil:
			rec.State, rec.Error = StateFailed, runErr.Error()
		default:
			rec.State = StateDone
		}
	}); err != nil && runErr == nil {
		runErr = fmt.Errorf("write journal: %w", err)
	}
	if interrupted {
		r.Out.Emit(Event{Kind: EventInterrupted, Stage: st.Name(), Msg: said})
		return false, &StageError{Stage: st.Name(), Err: runErr, Interrupted: true, Stopped: stop}
	}
	if runErr != nil {
		r.Out.Emit(Event{Kind: EventFail, Stage: st.Name(), Msg: runErr.Error()})
		return false, &StageError{Stage: st.Name(), Err: runErr}
	}
	r.Out.Emit(Event{Kind: EventDone, Stage: st.Name(), Msg: fmt.Sprintf("in %s", HumanDuration(end.Sub(start).Round(time.Millisecond)))})
	return true, nil
}
