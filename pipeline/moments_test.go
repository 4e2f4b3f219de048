package pipeline_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// renamedUpload records its upload under a JSON name that says nothing of
// a moment, and a field ending in _at that is none.
type renamedUpload struct {
	Accepted   time.Time `json:"accepted"`
	LeftAt     time.Time `json:"left_at,omitzero"`
	ShowedFrom time.Time `json:"showed_from,omitzero"`
}

func (renamedUpload) Summary() string { return "uploaded" }

func (u renamedUpload) Moments() []pipeline.Moment {
	return []pipeline.Moment{{Name: "uploaded_at", At: u.Accepted, Public: true}, {Name: "visible_at", At: u.ShowedFrom}}
}

// What counts as a step's public moment is what its result says of itself
// (Moments), not how its fields are named in the journal: a JSON name
// ending in _at is no moment, a moment is recorded under its own name, and
// the journal says which were public writes.
func TestTheMomentsOfAStepAreWhatItsResultDeclares(t *testing.T) {
	at := testT0.Add(1500 * time.Millisecond)
	key := pipeline.Key[renamedUpload]{Stage: "publish", Step: "publish demo@1.0.1"}
	e := pipelineOf(nil, map[string]func(context.Context, *pipeline.Run) error{"publish": func(ctx context.Context, r *pipeline.Run) error {
		_, err := pipeline.Step(r, key, func(res *renamedUpload) error {
			res.Accepted, res.LeftAt, res.ShowedFrom = at, at.Add(time.Hour), at.Add(time.Second)
			return nil
		})
		return err
	}})
	r := newRun(t, testEmbargo(), e, nil)
	if err := e.Execute(context.Background(), r.Run, pipeline.Selection{Only: "publish"}); err != nil {
		t.Fatal(err)
	}
	step := onDisk(t, r.path).Stage("publish").Steps[0]
	if got := step.FirstAt("uploaded_at"); got != at.Format(time.RFC3339Nano) {
		t.Errorf("first uploaded_at = %q, want the declared moment %s", got, at.Format(time.RFC3339Nano))
	}
	if got := step.FirstAt("left_at"); got != "" {
		t.Errorf("left_at, a field named _at but no moment, was recorded as one: %q", got)
	}
	var names []string
	for _, m := range step.FirstMoments() {
		names = append(names, m.Name)
		if m.Public != (m.Name == "uploaded_at") {
			t.Errorf("moment %s public = %v", m.Name, m.Public)
		}
	}
	if !slices.Equal(names, []string{"uploaded_at", "visible_at"}) {
		t.Errorf("first moments = %v, want the upload, then the sight of it", names)
	}
}

// A journal written by the previous version (3: typed results, moments
// named by their _at keys) is read as it was written: every step's result
// and first moments, and the moments that version counted as public
// writes (the push, the uploads) are public writes still; the sight of a
// version in the index is not.
func TestAVersion3JournalKeepsItsResultsAndPublicWrites(t *testing.T) {
	e := pipelineOf(nil, nil)
	r := newRun(t, testEmbargo(), e, nil)
	v3 := `{
  "version": 3, "id": "ASYNC-STD-SA-2026-001", "t0": "` + testT0.Format(time.RFC3339) + `", "window": "6h0m0s",
  "stages": [
    {"name": "push", "state": "done", "steps": [{"name": "push refs", "state": "done", "result": {"remote": "https://github.com/async-rs/async-std.git"},
       "first": {"pushed_at": "2026-12-01T14:00:00.2Z"}, "attempts": [{"started": "2026-12-01T14:00:00Z", "state": "done", "moments": {"pushed_at": "2026-12-01T14:00:00.2Z"}}]}]},
    {"name": "publish", "state": "done", "steps": [{"name": "publish demo@1.0.1", "state": "done",
       "result": {"uploaded_at": "2026-12-01T14:00:00.5Z", "visible_at": "2026-12-01T14:00:01.5Z", "said": "published"},
       "first": {"uploaded_at": "2026-12-01T14:00:00.5Z", "visible_at": "2026-12-01T14:00:01.5Z"},
       "attempts": [{"started": "2026-12-01T14:00:00Z", "state": "done", "moments": {"uploaded_at": "2026-12-01T14:00:00.5Z", "visible_at": "2026-12-01T14:00:01.5Z"}}]}]}
  ]
}`
	if err := os.WriteFile(r.path, []byte(v3), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := pipeline.OpenJournal(r.path, testEmbargo(), e.Names(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := pipeline.Load(j, pushRefs); !ok || got.Remote != "https://github.com/async-rs/async-std.git" {
		t.Errorf("push refs = %+v, %v: want the version 3 result", got, ok)
	}
	if got, ok := pipeline.Load(j, publishDemo); !ok || got.UploadedAt.Format(time.RFC3339Nano) != "2026-12-01T14:00:00.5Z" || got.Said != "published" {
		t.Errorf("publish = %+v, %v: want the version 3 result", got, ok)
	}
	snap := j.Snapshot()
	publish := snap.Stage("publish").Steps[0]
	for _, m := range publish.FirstMoments() {
		if m.Public != (m.Name == "uploaded_at") {
			t.Errorf("publish moment %s public = %v: the upload is the public write, the index's sight of it is not", m.Name, m.Public)
		}
	}
	if m := snap.Stage("push").Steps[0].FirstMoments(); len(m) != 1 || !m[0].Public || m[0].At.Format(time.RFC3339Nano) != "2026-12-01T14:00:00.2Z" {
		t.Errorf("push moments = %+v, want its public push", m)
	}
}
