package gate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// A re-run after T0 of a release that has begun is not late: the gate
// says which release it resumes, from when it began, and proceeds.
func TestTheGateOfARerunSaysItResumesTheRelease(t *testing.T) {
	t.Parallel()
	t0 := releasetest.T0
	cfg := &config.Config{Embargo: config.EmbargoSection{ID: "DEMO-SA-2026-001", At: t0}, Window: 6 * time.Hour, Path: "embargo.toml"}
	dir := t.TempDir()
	journal := `{"version": 2, "id": "DEMO-SA-2026-001", "t0": "2026-12-01T14:00:00Z", "window": "6h0m0s", "stages": [
		{"name": "preflight", "state": "done"}, {"name": "gate", "state": "done"},
		{"name": "publish", "state": "interrupted", "steps": [{"name": "publish demo-core@1.13.1", "state": "interrupted", "first": {"uploaded_at": "2026-12-01T14:00:00.093Z"}}]}]}`
	path := filepath.Join(dir, "journal.json")
	if err := os.WriteFile(path, []byte(journal), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := pipeline.OpenJournal(path, releasetest.EmbargoOf(cfg), []string{release.Preflight, release.Gate, release.Publish}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := pipeline.NewFakeClock(t0.Add(7583 * time.Millisecond))
	var out strings.Builder
	r := &release.Run{
		Run:     &pipeline.Run{Journal: j, Out: pipeline.NewReporter(&out, false, clock, nil), Gate: &pipeline.Gate{T0: t0, Window: cfg.Window, Clock: clock}},
		Release: &release.Release{Config: cfg, StateDir: dir},
	}
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: release.Gate}, Stage{}); err != nil {
		t.Fatal(err)
	}
	if want := "started 7.583s after T0, resuming the release that began at T0+93ms: proceeding at once"; !strings.Contains(out.String(), want) {
		t.Errorf("the gate says\n%s\nwant %q", out.String(), want)
	}
	if res, _ := pipeline.Load(j, OpenedKey); strings.Contains(res.Text, "late") {
		t.Errorf("the gate's summary calls a re-run late: %q", res.Text)
	}
}
