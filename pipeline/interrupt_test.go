package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

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
	if !strings.Contains(err.Error(), "interrupted 1s after T0, during verify (post)") {
		t.Errorf("error %q does not say verify was interrupted in its step post", err)
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

// neededStage is a stage that needs the ones it names, as the real ones
// do: gate, push and publish all start once preflight is done.
type neededStage struct {
	fakeStage
	needs []string
}

func (s *neededStage) Needs() []string { return s.needs }

// Ctrl-C during the countdown, while the gate waits, push prepares and
// publish waits for T0: each stage says it was interrupted, when against
// T0 and in which step, and the run's error says it all in one sentence,
// with no "context canceled" and no failure mark.
func TestAnInterruptionSaysWhenAndWhatItCutShort(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var waiting sync.WaitGroup
	waiting.Add(3)
	block := func(step string) func(context.Context, *pipeline.Run) error {
		return func(ctx context.Context, r *pipeline.Run) error {
			if step == "" {
				waiting.Done()
				<-ctx.Done()
				return ctx.Err()
			}
			_, err := pipeline.Step(r, pipeline.Key[pipeline.Said]{Stage: r.Stage(), Step: step}, func(*pipeline.Said) error {
				waiting.Done()
				<-ctx.Done()
				return ctx.Err()
			})
			return err
		}
	}
	e := &pipeline.Engine{}
	for _, st := range []struct {
		name  string
		needs []string
		run   func(context.Context, *pipeline.Run) error
	}{
		{"preflight", nil, nil},
		{"gate", []string{"preflight"}, block("wait")},
		{"push", []string{"preflight"}, block("prepare")},
		{"publish", []string{"preflight"}, block("")},
		{"advisory", []string{"publish"}, nil},
	} {
		e.Stages = append(e.Stages, &neededStage{fakeStage{name: st.name, run: st.run}, st.needs})
	}
	r := newRun(t, testEmbargo(), e, nil)
	r.Gate.Clock = pipeline.NewFakeClock(testT0.Add(-10 * time.Second))
	go func() {
		waiting.Wait()
		cancel() // the operator presses Ctrl-C
	}()
	err := e.Execute(ctx, r.Run, pipeline.Selection{})
	var se *pipeline.StageError
	if !errors.As(err, &se) || !se.Interrupted || se.From != "gate" {
		t.Fatalf("got %v, want the run interrupted and resumed from the gate", err)
	}
	if got, want := err.Error(), "interrupted 10s before T0, during gate (wait), push (prepare) and publish"; got != want {
		t.Errorf("the run's error is %q, want %q", got, want)
	}
	out := r.out.String()
	for _, want := range []string{"gate: interrupted 10s before T0, during wait\n", "push: interrupted 10s before T0, during prepare\n", "publish: interrupted 10s before T0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"context canceled", "!!!"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("output says %q:\n%s", unwanted, out)
		}
	}
}
