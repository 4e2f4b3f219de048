package pipeline_test

import (
	"context"
	"testing"

	"github.com/async-rs/embargo/pipeline"
)

// What a reader holds of the journal (status, verify's timeline, a
// late start's judgement) is a copy: the steps still running, which
// write the journal beside it, never change it under the reader, and what
// the reader changes is never written.
func TestASnapshotIsACopyTheRunningStepsNeverChange(t *testing.T) {
	var snaps []*pipeline.Snapshot
	e := pipelineOf(nil, map[string]func(context.Context, *pipeline.Run) error{
		"publish": func(ctx context.Context, run *pipeline.Run) error {
			snaps = append(snaps, run.Journal.Snapshot())
			_, err := pipeline.Step(run, publishAsyncStd, func(res *commandResult) error {
				res.Command = "cargo publish"
				return nil
			})
			return err
		},
	})
	r := newRun(t, testEmbargo(), e, nil)
	if err := e.Execute(context.Background(), r.Run, pipeline.Selection{}); err != nil {
		t.Fatal(err)
	}
	during := snaps[0]
	if got := during.Stage("publish"); got.State != pipeline.StateRunning || len(got.Steps) != 0 {
		t.Errorf("the snapshot taken as publish started holds %+v, want it running with no step: the run changed it since", got)
	}
	during.Stage("publish").State = pipeline.StateFailed
	if got := r.Journal.Snapshot().Stage("publish"); got.State != pipeline.StateDone || len(got.Steps) != 1 {
		t.Errorf("the journal holds publish %+v, want it done with its step: a reader's copy changed it", got)
	}
	if got := onDisk(t, r.path).Stage("publish").State; got != pipeline.StateDone {
		t.Errorf("the journal on disk holds publish %s, want done", got)
	}
}
