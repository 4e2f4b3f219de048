package pipeline

import (
	"fmt"
	"strings"
	"time"
)

// StageError is a failed or interrupted stage, with where a re-run starts;
// the command line says it as a command.
type StageError struct {
	Stage string
	Err   error
	// From is the stage a re-run starts at: the failed one, or the one a
	// *RerunError in Err names (a branch moved since preflight needs
	// preflight again). Force says that re-run must replace what differs;
	// Only that it is of From alone, the run going on from From after it.
	From  string
	Force bool
	Only  bool
	// Fix, when known, is what to fix before that re-run: a verdict's
	// *Refusal says it (the config key and the variable of a credential
	// the registry refused).
	Fix string
	// Interrupted: the operator stopped the run; nothing needs fixing.
	// Stopped then says when and what it cut short.
	Interrupted bool
	Stopped     *Interruption
}

func (e *StageError) Error() string {
	if e.Interrupted && e.Stopped != nil {
		// What was cut short is said in words: each stage's own error
		// is only that its context was cancelled.
		if len(e.Stopped.Cut) == 0 {
			return fmt.Sprintf("interrupted %s, before stage %s started", e.Stopped.When(), e.Stage)
		}
		return e.Stopped.String()
	}
	what := "failed"
	if e.Interrupted {
		what = "interrupted"
	}
	return fmt.Sprintf("stage %s %s: %v", e.Stage, what, e.Err)
}

// Interruption is the operator's stop of a run (Ctrl-C, SIGTERM): when,
// against T0, and what it cut short.
type Interruption struct {
	At, T0 time.Time
	// Cut are the stages cut short, in the pipeline's order.
	Cut []CutShort
}

// CutShort is a stage the operator stopped, with its steps under way then.
type CutShort struct {
	Stage string
	Steps []string
}

// When says when the run was stopped: "10s before T0", "3.2s after T0".
func (i *Interruption) When() string {
	d := i.At.Sub(i.T0)
	if d.Abs() < time.Minute {
		d = d.Round(100 * time.Millisecond)
	} else {
		d = d.Round(time.Second)
	}
	switch {
	case d < 0:
		return HumanDuration(-d) + " before T0"
	case d > 0:
		return HumanDuration(d) + " after T0"
	}
	return "at T0"
}

// String says it in a sentence: "interrupted 10s before T0, during gate
// (wait), push (prepare) and publish".
func (i *Interruption) String() string {
	var during []string
	for _, c := range i.Cut {
		if len(c.Steps) == 0 {
			during = append(during, c.Stage)
		} else {
			during = append(during, c.Stage+" ("+strings.Join(c.Steps, ", ")+")")
		}
	}
	return fmt.Sprintf("interrupted %s, during %s", i.When(), andList(during))
}

// andList joins items as "a, b and c".
func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// RerunError is a failure whose way out, once its cause is fixed, is a
// re-run from another stage than the one that failed, or with --force.
// Only says the forced re-run is of From alone (--only), since --force
// given to the stages after it would replace what they made: the run
// then goes on from From without it.
type RerunError struct {
	From  string
	Force bool
	Only  bool
	Err   error
}

func (e *RerunError) Error() string { return e.Err.Error() }
func (e *RerunError) Unwrap() error { return e.Err }

// RerunFrom marks err as fixed by a re-run from stage.
func RerunFrom(stage string, err error) error { return &RerunError{From: stage, Err: err} }

func (e *StageError) Unwrap() error { return e.Err }

// UsageError is bad command-line usage (exit 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }
