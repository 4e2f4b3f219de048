package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// publishStep is a publish step as the publish stage writes it: it uploads
// when the registry does not have the version yet, and otherwise records
// that it found it there; with refused set, the index did not show it
// yet and the registry refused the upload as a duplicate, and the step
// records its own try as the upload, as the publish stage does.
func publishStep(onRegistry, refused *bool) func(context.Context, *pipeline.Run) error {
	return func(ctx context.Context, r *pipeline.Run) error {
		_, err := pipeline.Step(r, publishDemo, func(res *uploadResult) error {
			if *onRegistry && !*refused {
				res.Said = "already on the registry with the sealed checksum"
				return nil
			}
			res.UploadedAt = r.Now().UTC()
			res.VisibleAt = r.Now().Add(time.Second).UTC()
			res.Said = "published; the index shows the sealed checksum"
			*onRegistry = true
			return nil
		})
		return err
	}
}

// The keys of the steps the tests record.
var (
	publishDemo = pipeline.Key[uploadResult]{Stage: "publish", Step: "publish demo@1.0.1"}
	verifyPost  = pipeline.Key[liveResult]{Stage: "verify", Step: "post"}
)

// uploadResult is a publish step's result, as a stage's type is: its
// moments are the upload, a public write, and the sight of it in the
// index.
type uploadResult struct {
	UploadedAt time.Time `json:"uploaded_at,omitzero"`
	VisibleAt  time.Time `json:"visible_at,omitzero"`
	Said       string    `json:"said,omitempty"`
}

func (u uploadResult) Summary() string { return u.Said }

func (u uploadResult) Moments() []pipeline.Moment {
	return []pipeline.Moment{{Name: "uploaded_at", At: u.UploadedAt, Public: true}, {Name: "visible_at", At: u.VisibleAt}}
}

type liveResult struct {
	LiveAt time.Time `json:"live_at,omitzero"`
	Said   string    `json:"said,omitempty"`
}

func (l liveResult) Summary() string { return l.Said }

func (l liveResult) Moments() []pipeline.Moment {
	return []pipeline.Moment{{Name: "live_at", At: l.LiveAt}}
}

// A step run again keeps the history of what it did: both attempts, and
// the time of the upload the first one made, which the re-run that found
// the crate already there does not overwrite.
func TestAStepRunTwiceKeepsBothAttemptsAndTheFirstUploadTimes(t *testing.T) {
	onRegistry, refused := false, false
	e := pipelineOf(nil, map[string]func(context.Context, *pipeline.Run) error{"publish": publishStep(&onRegistry, &refused)})
	r := newRun(t, testEmbargo(), e, nil)
	if err := e.Execute(context.Background(), r.Run, pipeline.Selection{}); err != nil {
		t.Fatal(err)
	}
	uploaded := onDisk(t, r.path).Stage("publish").Steps[0].FirstAt("uploaded_at")
	if uploaded == "" {
		t.Fatal("the first run recorded no upload time")
	}

	// An hour later the operator re-runs from publish, with the journal.
	r2 := openRun(t, testEmbargo(), e, nil, r.path)
	r2.Gate.Clock.(*pipeline.FakeClock).Advance(time.Hour)
	if err := e.Execute(context.Background(), r2.Run, pipeline.Selection{From: "publish"}); err != nil {
		t.Fatal(err)
	}

	step := onDisk(t, r.path).Stage("publish").Steps[0]
	if step.Summary != "already on the registry with the sealed checksum" {
		t.Errorf("the latest result is %s (%q), want the re-run's", step.Result, step.Summary)
	}
	if len(step.Attempts) != 2 {
		t.Fatalf("%d attempts recorded, want 2: %+v", len(step.Attempts), step.Attempts)
	}
	first, second := step.Attempts[0], step.Attempts[1]
	if first.Summary != "published; the index shows the sealed checksum" || first.Moments["uploaded_at"] != uploaded || first.State != pipeline.StateDone {
		t.Errorf("first attempt = %+v, want the upload", first)
	}
	if second.Summary != "already on the registry with the sealed checksum" || second.Moments["uploaded_at"] != "" {
		t.Errorf("second attempt = %+v, want the observation", second)
	}
	if second.Started == nil || first.Started == nil || second.Started.Sub(*first.Started) < time.Hour {
		t.Errorf("attempt times %v, %v: want the re-run an hour after the first", first.Started, second.Started)
	}
	if got := step.FirstAt("uploaded_at"); got != uploaded {
		t.Errorf("first uploaded_at = %q, want the first run's %q", got, uploaded)
	}
	visible := step.FirstAt("visible_at")
	if visible != step.Attempts[0].Moments["visible_at"] || visible == "" {
		t.Errorf("first visible_at = %q, want the first run's", visible)
	}

	// A third run, whose upload the registry refuses as a duplicate,
	// records its own time: the first ones stay.
	refused = true
	r3 := openRun(t, testEmbargo(), e, nil, r.path)
	r3.Gate.Clock.(*pipeline.FakeClock).Advance(2 * time.Hour)
	if err := e.Execute(context.Background(), r3.Run, pipeline.Selection{Only: "publish"}); err != nil {
		t.Fatal(err)
	}
	step = onDisk(t, r.path).Stage("publish").Steps[0]
	if len(step.Attempts) != 3 || step.Attempts[2].Moments["uploaded_at"] == uploaded {
		t.Fatalf("attempts %+v, want a third with its own time", step.Attempts)
	}
	if got := step.FirstAt("uploaded_at"); got != uploaded {
		t.Errorf("after a third run, first uploaded_at = %q, want the first run's %q", got, uploaded)
	}
	if got := step.FirstAt("visible_at"); got != visible {
		t.Errorf("after a third run, first visible_at = %q, want the first run's %q", got, visible)
	}
}

// A journal written before attempts were kept (a release in flight when
// embargo is upgraded) loads, and a re-run keeps the upload time it holds.
func TestAJournalWithoutHistoryKeepsItsUploadTimesAcrossARerun(t *testing.T) {
	onRegistry, refused := true, false
	e := pipelineOf(nil, map[string]func(context.Context, *pipeline.Run) error{"publish": publishStep(&onRegistry, &refused)})
	r := newRun(t, testEmbargo(), e, nil)
	old := `{
  "version": 1, "id": "ASYNC-STD-SA-2026-001", "t0": "` + testT0.Format(time.RFC3339) + `", "window": "6h0m0s",
  "stages": [
    {"name": "publish", "state": "done", "started": "2026-12-01T14:00:00Z", "ended": "2026-12-01T14:00:03Z",
     "steps": [{"name": "publish demo@1.0.1", "state": "done", "started": "2026-12-01T14:00:00Z", "ended": "2026-12-01T14:00:02Z",
       "result": {"uploaded_at": "2026-12-01T14:00:00.5Z", "visible_at": "2026-12-01T14:00:01.5Z", "summary": "published; the index shows the sealed checksum"}}]}
  ]
}`
	if err := os.WriteFile(r.path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	r2 := openRun(t, testEmbargo(), e, nil, r.path)
	if err := e.Execute(context.Background(), r2.Run, pipeline.Selection{From: "publish"}); err != nil {
		t.Fatal(err)
	}
	step := onDisk(t, r.path).Stage("publish").Steps[0]
	if got := step.FirstAt("uploaded_at"); got != "2026-12-01T14:00:00.5Z" {
		t.Errorf("first uploaded_at = %q, want the one the old journal held", got)
	}
	if len(step.Attempts) != 2 || step.Attempts[0].Summary != "published; the index shows the sealed checksum" {
		t.Errorf("attempts = %+v, want the old run and the re-run", step.Attempts)
	}
}

// A step repeated many times (verify, every few minutes) keeps a bounded
// history: its first attempt and the latest ones.
func TestAStepsHistoryIsBounded(t *testing.T) {
	n := 0
	e := pipelineOf(nil, map[string]func(context.Context, *pipeline.Run) error{
		"verify": func(ctx context.Context, r *pipeline.Run) error {
			_, err := pipeline.Step(r, verifyPost, func(res *liveResult) error {
				n++
				if n == 1 {
					res.LiveAt = r.Now().UTC()
				}
				res.Said = "try " + strings.Repeat("I", n%5)
				return nil
			})
			return err
		},
	})
	r := newRun(t, testEmbargo(), e, nil)
	for range 50 {
		if err := e.Execute(context.Background(), r.Run, pipeline.Selection{Only: "verify"}); err != nil {
			t.Fatal(err)
		}
	}
	step := onDisk(t, r.path).Stage("verify").Steps[0]
	if len(step.Attempts) > 20 || len(step.Attempts)+step.Dropped != 50 {
		t.Errorf("%d attempts kept, %d dropped; want at most 20 kept of 50", len(step.Attempts), step.Dropped)
	}
	if step.Attempts[0].Moments["live_at"] == "" || step.FirstAt("live_at") == "" {
		t.Errorf("the first attempt is not kept: %+v", step.Attempts[0])
	}
}

// A step that was running when the process was killed shows in its
// history as cut off, not as running beside the attempt that followed.
func TestAnAttemptCutOffByAKillIsRecordedSo(t *testing.T) {
	onRegistry, refused := true, false
	e := pipelineOf(nil, map[string]func(context.Context, *pipeline.Run) error{"publish": publishStep(&onRegistry, &refused)})
	r := newRun(t, testEmbargo(), e, nil)
	killed := `{
  "version": 2, "id": "ASYNC-STD-SA-2026-001", "t0": "` + testT0.Format(time.RFC3339) + `", "window": "6h0m0s",
  "stages": [
    {"name": "publish", "state": "running", "started": "2026-12-01T14:00:00Z",
     "steps": [{"name": "publish demo@1.0.1", "state": "running", "started": "2026-12-01T14:00:00Z",
       "attempts": [{"started": "2026-12-01T14:00:00Z", "state": "running"}]}]}
  ]
}`
	if err := os.WriteFile(r.path, []byte(killed), 0o600); err != nil {
		t.Fatal(err)
	}
	r2 := openRun(t, testEmbargo(), e, nil, r.path)
	if err := e.Execute(context.Background(), r2.Run, pipeline.Selection{From: "publish"}); err != nil {
		t.Fatal(err)
	}
	step := onDisk(t, r.path).Stage("publish").Steps[0]
	if len(step.Attempts) != 2 {
		t.Fatalf("attempts = %+v, want the killed one and the re-run", step.Attempts)
	}
	if a := step.Attempts[0]; a.State != pipeline.StateFailed || !strings.Contains(a.Error, "cut off") {
		t.Errorf("the killed attempt = %+v, want it failed, cut off", a)
	}
	if a := step.Attempts[1]; a.State != pipeline.StateDone {
		t.Errorf("the re-run = %+v, want done", a)
	}
}

// Steps that start together (every line's first upload beside the push, at
// T0) share the journal's writes, and still each step's start is on disk
// before its body runs: a kill -9 during the body leaves a record that the
// step began, which the re-run's observation starts from.
func TestStepsStartedTogetherAreEachOnDiskBeforeTheirBodyRuns(t *testing.T) {
	const steps = 24
	var path string
	e := pipelineOf(nil, map[string]func(context.Context, *pipeline.Run) error{"publish": func(ctx context.Context, r *pipeline.Run) error {
		var wg sync.WaitGroup
		errs := make(chan error, steps)
		for i := range steps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("publish demo-%d@1.0.1", i)
				_, err := pipeline.Step(r, pipeline.Key[pipeline.Said]{Stage: "publish", Step: name}, func(*pipeline.Said) error {
					j, err := pipeline.ReadJournal(path)
					if err != nil {
						return err
					}
					for _, st := range j.Snapshot().Stage("publish").Steps {
						if st.Name == name && st.State == pipeline.StateRunning {
							return nil
						}
					}
					return fmt.Errorf("%s runs but the journal on disk does not show it started", name)
				})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}})
	r := newRun(t, testEmbargo(), e, nil)
	path = r.path
	if err := e.Execute(context.Background(), r.Run, pipeline.Selection{Only: "publish"}); err != nil {
		t.Fatal(err)
	}
	done := 0
	for _, st := range onDisk(t, r.path).Stage("publish").Steps {
		if st.State == pipeline.StateDone {
			done++
		}
	}
	if done != steps {
		t.Errorf("%d steps done on disk, want %d", done, steps)
	}
}

// legacyUpload reads what a version 2 journal recorded for a publish step.
type legacyUpload struct{ uploadResult }

func (l *legacyUpload) ReadLegacy(m map[string]string) {
	l.UploadedAt, _ = time.Parse(time.RFC3339Nano, m["uploaded_at"])
	l.Said = m["summary"]
}

// A journal written before results were typed (version 2) is read through
// the result type's ReadLegacy, and a type without one reads nothing
// rather than a wrong value.
func TestAResultOfAVersion2JournalIsReadThroughItsType(t *testing.T) {
	e := pipelineOf(nil, nil)
	r := newRun(t, testEmbargo(), e, nil)
	old := `{
  "version": 2, "id": "ASYNC-STD-SA-2026-001", "t0": "` + testT0.Format(time.RFC3339) + `", "window": "6h0m0s",
  "stages": [
    {"name": "publish", "state": "done",
     "steps": [{"name": "publish demo@1.0.1", "state": "done", "started": "2026-12-01T14:00:00Z", "ended": "2026-12-01T14:00:02Z",
       "result": {"uploaded_at": "2026-12-01T14:00:00.5Z", "summary": "published; the index shows the sealed checksum"},
       "attempts": [{"started": "2026-12-01T14:00:00Z", "state": "done", "moments": {"uploaded_at": "2026-12-01T14:00:00.5Z"}}]}]}
  ]
}`
	if err := os.WriteFile(r.path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := pipeline.OpenJournal(r.path, testEmbargo(), e.Names(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := pipeline.Load(j, pipeline.Key[legacyUpload](publishDemo))
	if !ok || got.UploadedAt.Format(time.RFC3339Nano) != "2026-12-01T14:00:00.5Z" || got.Said != "published; the index shows the sealed checksum" {
		t.Errorf("Load = %+v, %v: want the version 2 result", got, ok)
	}
	if _, ok := pipeline.Load(j, publishDemo); ok {
		t.Error("a type without ReadLegacy read a version 2 result")
	}
	if s := j.Steps("publish")[0]; s.Summary != "published; the index shows the sealed checksum" || s.FirstAt("uploaded_at") != "2026-12-01T14:00:00.5Z" {
		t.Errorf("step = %+v: want its summary and moment kept", s)
	}
}
