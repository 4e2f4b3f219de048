package release_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// A run after T0 that nothing prepared proceeds only when the journal
// shows the release public already, in whichever stage recorded it (here
// the GitHub advisory's publication): otherwise it is refused until
// --late, however the journal's other stages look.
func TestALateStartProceedsOnlyOnceAnyStageRecordedSomethingPublic(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	cfg := &config.Config{Embargo: config.EmbargoSection{ID: "DEMO-SA-2026-001", At: t0}, Window: 6 * time.Hour, Path: "embargo.toml"}
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
		j, err := pipeline.OpenJournal(path, releasetest.EmbargoOf(cfg), []string{"preflight", "ghsa"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := &release.Run{Run: &pipeline.Run{Journal: j, Gate: &pipeline.Gate{T0: t0, Window: cfg.Window, Clock: pipeline.NewFakeClock(t0.Add(time.Hour))}},
			Release: &release.Release{Config: cfg, StateDir: dir}}
		err = release.CheckLateStart(r)
		var late *release.LateStartError
		if c.proceed && err != nil || !c.proceed && !errors.As(err, &late) {
			t.Errorf("first %s: lateStart = %v, want proceed %v", c.first, err, c.proceed)
		}
	}
}
