package pipeline

import (
	"context"
	"fmt"
	"sync"
)

// A verdict is a go or no-go that one stage of a run settles for the
// others. Publish settles whether the registry takes the release's
// credential; push and promote, whose writes cannot be taken back, await
// it once their gate has opened, so that a credential the registry refuses
// at T0 leaves nothing else public (no fix on the public branch without a
// patched crate to upgrade to).

// Verdict names one decision and the stage that settles it. It is a value
// declared once, beside the stage that settles it.
type Verdict struct {
	Name  string // what it decides, in words: "the registry takes the publish credential"
	Stage string // the stage that settles it
}

// Refusal is a verdict settled against: what refused, in the settling
// stage's words, and what to fix before running again (the config key and
// the variable), which the command line says in its next: hint.
type Refusal struct {
	Err error
	Fix string
}

func (e *Refusal) Error() string { return e.Err.Error() }
func (e *Refusal) Unwrap() error { return e.Err }

// verdictState is one verdict of one Execute.
type verdictState struct {
	settled chan struct{} // closed once settled; refusal is then set
	once    sync.Once
	refusal *Refusal // nil: go
}

// verdict is v's state in this execution, made on first use.
func (x *execution) verdict(v Verdict) *verdictState {
	x.verdictsMu.Lock()
	defer x.verdictsMu.Unlock()
	if x.verdicts == nil {
		x.verdicts = map[string]*verdictState{}
	}
	s := x.verdicts[v.Name]
	if s == nil {
		s = &verdictState{settled: make(chan struct{})}
		x.verdicts[v.Name] = s
	}
	return s
}

// Settle settles v for the stages of this run that await it: go when
// refusal is nil, else no-go. Only the first settling counts (lines
// publishing in parallel: the first answer decides); it reports whether
// this one did. Only v's own stage settles it; a run outside an engine
// (a stage's test) has no one to tell.
func (r *Run) Settle(v Verdict, refusal *Refusal) bool {
	if r.Stage() != v.Stage {
		panic(fmt.Sprintf("verdict %q is settled by stage %s, not %s", v.Name, v.Stage, r.Stage()))
	}
	if r.exec == nil {
		return false
	}
	s := r.exec.verdict(v)
	first := false
	s.once.Do(func() {
		s.refusal, first = refusal, true
		close(s.settled)
	})
	return first
}

// Await blocks until v is settled, and returns its *Refusal when it was
// settled against. v is go at once when its stage is not part of this run
// (`--only push`), and go when its stage ended without settling it: it
// had nothing to decide (nothing left to upload), or failed for another
// reason than the one v is about. An interrupt ends the wait with the
// context's error.
func (r *Run) Await(ctx context.Context, v Verdict) error {
	if r.exec == nil {
		return nil
	}
	owner, selected := r.exec.stages[v.Stage]
	if !selected {
		return nil
	}
	if r.exec.after(v.Stage, r.Stage()) {
		// Its stage starts only once this one is done: waiting would
		// never end.
		return fmt.Errorf("stage %s cannot await %q: stage %s, which settles it, starts after %s", r.Stage(), v.Name, v.Stage, r.Stage())
	}
	s := r.exec.verdict(v)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.settled:
	case <-owner.done:
		// Settled, if at all, before its stage ended.
	}
	if err := ctx.Err(); err != nil {
		return err // stopped: its stage may have ended cut short, deciding nothing
	}
	select {
	case <-s.settled:
		if s.refusal != nil {
			return s.refusal
		}
	default:
	}
	return nil
}

// after is true when stage a starts only once stage b is done: a needs b,
// or needs a stage that does.
func (x *execution) after(a, b string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(n string) bool {
		if seen[n] {
			return false
		}
		seen[n] = true
		o := x.stages[n]
		if o == nil {
			return false
		}
		for _, m := range o.needs {
			if m == b || walk(m) {
				return true
			}
		}
		return false
	}
	return walk(a)
}
