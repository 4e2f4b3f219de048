package stages

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// A run after T0 that nothing prepared proceeds only when the journal
// shows the release public already, in whichever stage recorded it (here
// the GitHub advisory's publication): otherwise it is refused until
// --late, however the journal's other stages look.
func TestALateStartProceedsOnlyOnceAnyStageRecordedSomethingPublic(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	cfg := &pipeline.Config{Embargo: pipeline.EmbargoSection{ID: "DEMO-SA-2026-001", At: t0}, Window: 6 * time.Hour, Path: "embargo.toml"}
	for _, c := range []struct {
		first   string
		proceed bool
	}{
		{`{"published_at": "2026-12-01T14:00:01Z"}`, true},
		{`{}`, false},
	} {
		dir := t.TempDir()
		journal := `{"version": 2, "id": "DEMO-SA-2026-001", "t0": "2026-12-01T14:00:00Z", "window": "6h0m0s", "stages": [
			{"name": "preflight", "state": "done"},
			{"name": "ghsa", "state": "failed", "steps": [{"name": "publish", "state": "failed", "first": ` + c.first + `}]}]}`
		path := filepath.Join(dir, "journal.json")
		if err := os.WriteFile(path, []byte(journal), 0o600); err != nil {
			t.Fatal(err)
		}
		j, err := pipeline.OpenJournal(path, cfg, []string{"preflight", "ghsa"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := &pipeline.Run{Config: cfg, Journal: j, StateDir: dir,
			Gate: &pipeline.Gate{T0: t0, Window: cfg.Window, Clock: pipeline.NewFakeClock(t0.Add(time.Hour))}}
		err = lateStart(r)
		var late *LateStartError
		if c.proceed && err != nil || !c.proceed && !errors.As(err, &late) {
			t.Errorf("first %s: lateStart = %v, want proceed %v", c.first, err, c.proceed)
		}
	}
}

// A re-run after T0 of a release that has begun is not late: the gate
// says which release it resumes, from when it began, and proceeds.
func TestTheGateOfARerunSaysItResumesTheRelease(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	cfg := &pipeline.Config{Embargo: pipeline.EmbargoSection{ID: "DEMO-SA-2026-001", At: t0}, Window: 6 * time.Hour, Path: "embargo.toml"}
	dir := t.TempDir()
	journal := `{"version": 2, "id": "DEMO-SA-2026-001", "t0": "2026-12-01T14:00:00Z", "window": "6h0m0s", "stages": [
		{"name": "preflight", "state": "done"}, {"name": "gate", "state": "done"},
		{"name": "publish", "state": "interrupted", "steps": [{"name": "publish demo-core@1.13.1", "state": "interrupted", "first": {"uploaded_at": "2026-12-01T14:00:00.093Z"}}]}]}`
	path := filepath.Join(dir, "journal.json")
	if err := os.WriteFile(path, []byte(journal), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := pipeline.OpenJournal(path, cfg, []string{"preflight", "gate", "publish"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := pipeline.NewFakeClock(t0.Add(7583 * time.Millisecond))
	var out strings.Builder
	r := &pipeline.Run{Config: cfg, Journal: j, StateDir: dir, Out: pipeline.NewReporter(&out, false, clock, nil),
		Gate: &pipeline.Gate{T0: t0, Window: cfg.Window, Clock: clock}}
	if err := execute(t, r, pipeline.Selection{Only: "gate"}, Gate{}); err != nil {
		t.Fatal(err)
	}
	if want := "started 7.583s after T0, resuming the release that began at T0+93ms: proceeding at once"; !strings.Contains(out.String(), want) {
		t.Errorf("the gate says\n%s\nwant %q", out.String(), want)
	}
	if res, _ := pipeline.Load[GateOpened](j, "gate", "wait"); strings.Contains(res.Text, "late") {
		t.Errorf("the gate's summary calls a re-run late: %q", res.Text)
	}
}
