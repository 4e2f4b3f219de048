package release_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// A release prepared by an embargo whose journal recorded results as maps
// of strings (version 2) is released by this one with what its preflight
// recorded: the held tip checked, the crates, the sealed checksums in
// order, the pinned lockfile, the versions already released, the rendered
// outputs' digests.
func TestPreflightResultsOfAVersion2JournalAreReadByTheStagesAfterIt(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Embargo: config.EmbargoSection{ID: "DEMO-SA-2026-001", At: releasetest.T0}, Window: time.Hour,
		Releases: []config.Release{{Line: "1.0", Branch: "embargo/1.0", Tag: "v1.0.1"}}}
	rel := cfg.Releases[0]
	path := filepath.Join(t.TempDir(), "journal.json")
	old := `{"version": 2, "id": "DEMO-SA-2026-001", "t0": "` + releasetest.T0.Format(time.RFC3339) + `", "window": "1h0m0s",
  "stages": [{"name": "preflight", "state": "done", "steps": [
    {"name": "fetch", "state": "done", "result": {"source_tags": "v1.0.1", "summary": "1 held branches read"}},
    {"name": "line 1.0", "state": "done", "result": {"held": "aaaa", "public_tip": "bbbb", "crates": "demo-core@1.0.1,demo@1.0.1"}},
    {"name": "package 1.0", "state": "done", "result": {"order": "demo-core@1.0.1,demo@1.0.1", "demo-core@1.0.1": "11", "demo@1.0.1": "22",
      "cargo_version": "cargo 1.95.0", "pinned_lockfile": "33", "released": "demo-core@1.0.1", "summary": "2 crate(s) packaged"}},
    {"name": "advisory", "state": "done", "result": {"sha256 source/blog/post.md": "44", "no_fix": "0.9"}}]}]}`
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := pipeline.OpenJournal(path, releasetest.EmbargoOf(cfg), []string{"preflight", "publish"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &release.Run{Run: &pipeline.Run{Journal: j}, Release: &release.Release{Config: cfg}}

	if l, ok := release.CheckedLine(r.Journal, rel.Line); !ok || l.Held != "aaaa" || l.PublicTip != "bbbb" || !slices.Equal(l.Crates, []string{"demo-core@1.0.1", "demo@1.0.1"}) {
		t.Errorf("line = %+v, %v", l, ok)
	}
	s, ok := release.ReadSealed(r, rel)
	if !ok || !slices.Equal(s.Order, []string{"demo-core@1.0.1", "demo@1.0.1"}) || s.Sha256["demo@1.0.1"] != "22" || s.Cargo != "cargo 1.95.0" || s.PinnedLock != "33" {
		t.Errorf("sealed = %+v, %v: want the version 2 package step's", s, ok)
	}
	if what, _ := release.BegunPublicly(r); what == "" {
		t.Error("a version the old preflight found released does not count as public")
	}
	if got := release.AdvisoryDigests(r.Journal); got["source/blog/post.md"] != "44" {
		t.Errorf("advisory digests %v", got)
	}
	if f, _ := pipeline.Load(j, release.FetchedKey); !slices.Equal(f.SourceTags, []string{"v1.0.1"}) {
		t.Errorf("fetch = %+v", f)
	}
}
