package preflight

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
	"github.com/async-rs/embargo/stages/vault"
)

// checkedPreflight is preflight's fetch and line checks, the real ones
// (fast-forward, the leak check, tags, versions), on git's vault; like
// preflight it fails on what it finds.
func checkedPreflight(git *releasetest.Git) releasetest.Stage {
	return releasetest.Stage{Fn: func(r *release.Run) error {
		c := &checking{r: r, cfg: r.Config, v: git, missingBranch: map[string]bool{}, problemLines: map[string]bool{}}
		c.leak = leakReporter(r, c.add)
		if err := release.RunSteps(context.Background(), c.fetch, c.lines); err != nil {
			return err
		}
		if len(c.findings) > 0 {
			return &pipeline.FindingsError{Findings: c.findings}
		}
		return nil
	}}
}

// A held commit already reachable from a public ref before T0 is a leak:
// the run stops at preflight with the LEAK finding, and the push, which
// needs preflight, never starts.
func TestLeakBeforeT0StopsTheRunAndPushesNothing(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{
		Embargo: config.EmbargoSection{ID: "DEMO-SA-2026-001", At: releasetest.T0, Handler: "Jane Doe <jane@example.org>"},
		Source:  config.SourceSection{Repo: "demo", Public: "https://git.example/demo.git"},
		Releases: []config.Release{
			{Line: "1.1", Branch: "embargo/1.1", PublicBranch: "main", Tag: "v1.1.1"},
			{Line: "1.0", Branch: "embargo/1.0", PublicBranch: "release-1.0", Tag: "v1.0.4"},
		},
		Window: 6 * time.Hour,
	}
	r, clock, _ := releasetest.Run(t, cfg, releasetest.T0.Add(-time.Hour), nil)
	git := releasetest.NewGit(clock)
	_, held := git.Line(cfg.Releases[0], "1.1.0")
	git.Line(cfg.Releases[1], "1.0.3")
	git.Public["refs/heads/wip"] = vault.RemoteRef{Hash: held, Commit: held} // someone pushed the fix
	before := git.PublicRefs()

	pushed := false
	push := releasetest.Stage{Called: release.Push, After: []string{release.Preflight}, Fn: func(*release.Run) error {
		pushed = true
		return nil
	}}
	err := releasetest.Execute(t, r, pipeline.Selection{}, checkedPreflight(git), push)
	var findings *pipeline.FindingsError
	if !errors.As(err, &findings) {
		t.Fatalf("run: %v, want preflight's findings", err)
	}
	var leaks []string
	for _, f := range findings.Findings {
		if strings.HasPrefix(f.Msg, "LEAK: ") {
			leaks = append(leaks, f.Subject+": "+f.Msg)
		}
	}
	want := "release 1.1: LEAK: held commit " + release.Short(held) + " is reachable from public refs/heads/wip"
	if len(leaks) != 1 || leaks[0] != want {
		t.Errorf("leak findings %q, want %q", leaks, want)
	}
	if pushed {
		t.Error("the push started after preflight found a leak")
	}
	if !maps.Equal(git.PublicRefs(), before) {
		t.Errorf("the public repository changed: %v, was %v", git.PublicRefs(), before)
	}
}
