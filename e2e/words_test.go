package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/async-rs/embargo/sandbox/demo"
	"github.com/async-rs/embargo/sandbox/gitserver"
	"github.com/async-rs/embargo/sandbox/registry"
)

// check in the operator's clone (the state directory inside it, as
// .embargo beside an embargo.toml kept there is) writes the vault, the
// work trees and the cargo homes, and git status does not show any of it:
// the state directory ignores itself.
func TestCheckLeavesGitStatusOfTheCloneClean(t *testing.T) {
	requireTool(t, "git")
	rl := newRelease(t, time.Now().Add(24*time.Hour))
	clone := rl.ex.World.Source
	before := gitCmd(t, clone, "status", "--porcelain", "--untracked-files=all")
	state := filepath.Join(clone, ".embargo")
	if res := rl.run([]string{"check", "--state", state}); res.code != 0 {
		t.Fatalf("check: %s", res)
	}
	for _, written := range []string{"vault.git", "work", "cargo"} {
		if _, err := os.Stat(filepath.Join(state, written)); err != nil {
			t.Errorf("check wrote no %s in the state directory: %v", written, err)
		}
	}
	if after := gitCmd(t, clone, "status", "--porcelain", "--untracked-files=all"); after != before {
		t.Errorf("git status of the clone after check:\n%s\nbefore:\n%s", after, before)
	}
}

// A rehearsal that fails before its stages run (here the public
// repository cannot be mirrored) leaves nothing under the state
// directory's rehearsal/, not even the scratch of the lockfile it
// resolved for a line that commits none.
func TestARehearsalThatFailsEarlyLeavesNothingBehind(t *testing.T) {
	rl := buildReleaseWith(t, time.Now().Add(24*time.Hour), gitserver.Options{}, &registry.Options{}, func(o *demo.Options) {
		o.NoLockfile = true
	})
	rl.server.Close()
	res := rl.rehearseWithoutTokens()
	if res.code == 0 {
		t.Fatalf("a rehearsal whose public repository cannot be mirrored passed: %s", res)
	}
	rehearsals := filepath.Join(rl.dir, ".embargo", "rehearsal")
	entries, err := os.ReadDir(rehearsals)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		var left []string
		filepath.WalkDir(filepath.Join(rehearsals, e.Name()), func(p string, d os.DirEntry, err error) error {
			if rel, _ := filepath.Rel(rehearsals, p); err == nil && len(left) < 5 {
				left = append(left, rel)
			}
			return nil
		})
		t.Errorf("the failed rehearsal left %v behind:\n%s", left, res)
	}
}
