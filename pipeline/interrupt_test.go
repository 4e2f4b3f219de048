package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/async-rs/embargo/pipeline"
)

// Ctrl-C during a stage: the stage and its step are recorded interrupted,
// not failed, and the command to resume starts at that stage.
func TestAnInterruptedStageIsRecordedInterruptedAndResumesThere(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	e := pipelineOf(nil, map[string]func(context.Context, *pipeline.Run) error{
		"verify": func(ctx context.Context, r *pipeline.Run) error {
			_, err := pipeline.Step(r, pipeline.Key[pipeline.Said]{Stage: "verify", Step: "post"}, func(*pipeline.Said) error {
				cancel() // the operator presses Ctrl-C while the post is polled
				<-ctx.Done()
				return ctx.Err()
			})
			return err
		},
	})
	r := newRun(t, testEmbargo(), e, nil)
	err := e.Execute(ctx, r.Run, pipeline.Selection{})
	var se *pipeline.StageError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a StageError", err)
	}
	if !se.Interrupted || se.Stage != "verify" || se.From != "verify" {
		t.Errorf("StageError = %+v, want verify interrupted, resumed --from verify", se)
	}
	if !strings.Contains(err.Error(), "stage verify interrupted") {
		t.Errorf("error %q does not say verify was interrupted", err)
	}
	j := onDisk(t, r.path)
	if got := j.Stage("verify"); got.State != pipeline.StateInterrupted || got.Steps[0].State != pipeline.StateInterrupted || got.Steps[0].Attempts[0].State != pipeline.StateInterrupted {
		t.Errorf("verify = %+v, step %+v: want interrupted", got, got.Steps[0])
	}
}

// Ctrl-C while the gate waits: the stages waiting for it never start,
// and the run resumes at the gate, not before it.
func TestAnInterruptedGateResumesAtTheGate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	e := pipelineOf(nil, map[string]func(context.Context, *pipeline.Run) error{
		"gate": func(ctx context.Context, r *pipeline.Run) error {
			cancel()
			return ctx.Err()
		},
	})
	r := newRun(t, testEmbargo(), e, nil)
	var se *pipeline.StageError
	if err := e.Execute(ctx, r.Run, pipeline.Selection{}); !errors.As(err, &se) {
		t.Fatalf("got %v, want a StageError", err)
	}
	if se.Stage != "gate" || !se.Interrupted || se.From != "gate" {
		t.Errorf("StageError = %+v, want gate interrupted", se)
	}
	if got := states(onDisk(t, r.path)); got["preflight"] != pipeline.StateDone || got["gate"] != pipeline.StateInterrupted || got["push"] != pipeline.StatePending {
		t.Errorf("states %v", got)
	}
}

// Ctrl-C just as a stage finishes: the stages after it never start, and
// the run resumes at the first of them.
func TestARunStoppedBetweenStagesResumesAtTheNextOne(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var ran []string
	e := pipelineOf(&ran, map[string]func(context.Context, *pipeline.Run) error{
		"publish": func(context.Context, *pipeline.Run) error {
			cancel()
			return nil // everything was published before the signal came
		},
	})
	r := newRun(t, testEmbargo(), e, nil)
	var se *pipeline.StageError
	if err := e.Execute(ctx, r.Run, pipeline.Selection{}); !errors.As(err, &se) {
		t.Fatalf("got %v, want a StageError", err)
	}
	if se.Stage != "advisory" || !se.Interrupted || se.From != "advisory" {
		t.Errorf("StageError = %+v, want the run resumed at advisory", se)
	}
	if got := states(onDisk(t, r.path)); got["publish"] != pipeline.StateDone || got["advisory"] != pipeline.StatePending {
		t.Errorf("states %v", got)
	}
}
