package e2e

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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

// check shows the clocks of the public targets as finely as the gate
// measures them: on this machine's loopback, to a few milliseconds, not
// to the tenth of a second one round gives.
func TestCheckMeasuresTheClocksToAFewMilliseconds(t *testing.T) {
	rl := newPublishRelease(t, time.Now().Add(24*time.Hour), registry.Options{})
	res := rl.run([]string{"check"})
	if res.code != 0 {
		t.Fatalf("check: %s", res)
	}
	var line string
	for _, l := range strings.Split(res.stdout, "\n") {
		if strings.Contains(l, "preflight: clocks: ") {
			line = l
		}
	}
	bounds := regexp.MustCompile(`±(\d+\.\d+) s`).FindAllStringSubmatch(line, -1)
	if len(bounds) != 2 {
		t.Fatalf("check shows %d clock(s), want the git remote's and the registry's:\n%s", len(bounds), res.stdout)
	}
	for _, b := range bounds {
		if u, _ := strconv.ParseFloat(b[1], 64); u > 0.025 {
			t.Errorf("check shows a clock on this machine's loopback to ±%s s: %s", b[1], line)
		}
	}
}

// make demo's rehearsal runs clean: the built-in example, served, then
// rehearsed with its T0 a little ahead, warns of nothing; its post is
// read live from the rehearsal's copy of the example's blog, served as
// the example's own site serves it.
func TestTheDemoRehearsalWarnsOfNothing(t *testing.T) {
	requireTool(t, "cargo")
	dir := t.TempDir()
	res := execute(t, exec.Command(binary, "sandbox", "demo", "--dir", dir, "-q"))
	if res.code != 0 {
		t.Fatal(res)
	}
	config := strings.TrimSpace(res.stdout)
	serve := exec.Command(binary, "sandbox", "serve", "--dir", dir)
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		serve.Process.Signal(os.Interrupt)
		serve.Wait()
	})
	lines := bufio.NewScanner(stdout)
	for i := 0; i < 2; i++ {
		if !lines.Scan() {
			t.Fatalf("sandbox serve printed %d line(s), want the registry's index and the blog's site", i)
		}
	}
	go io.Copy(io.Discard, stdout)

	res = execute(t, exec.Command(binary, "rehearse", "-c", config, "--in", "2s"))
	if res.code != 0 {
		t.Fatal(res)
	}
	for _, l := range strings.Split(res.stdout+res.stderr, "\n") {
		if strings.Contains(l, "!!") {
			t.Errorf("the demo's rehearsal warns: %s", l)
		}
	}
	if !strings.Contains(res.stdout, "verify: post: live at http://127.0.0.1:") {
		t.Errorf("the demo's rehearsal did not read the post live:\n%s", res.stdout)
	}
}
