package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/sandbox/registry"
)

// leakToRegistry puts the release's first line on the registry ahead of
// T0, with the very bytes preflight packages (a colleague's early
// `cargo publish`), and returns the versions it put there.
func (rl *release) leakToRegistry() []string {
	rl.t.Helper()
	if res := rl.run([]string{"check"}); res.code != 0 {
		rl.t.Fatalf("check before the leak: %s", res)
	}
	line := rl.ex.World.Lines[0]
	var leaked []string
	for _, c := range rl.ex.World.Crates {
		file := filepath.Join(rl.dir, ".embargo", "work", line.Line+".target", "package", c+"-"+line.FixVersion+".crate")
		b, err := os.ReadFile(file)
		if err != nil {
			rl.t.Fatal(err)
		}
		if err := rl.registry.Seed(registry.IndexEntry{Name: c, Vers: line.FixVersion}, b); err != nil {
			rl.t.Fatal(err)
		}
		leaked = append(leaked, c+"@"+line.FixVersion)
	}
	return leaked
}

// assertNothingWritten checks no push and no upload reached the public
// servers, and nothing of the fix is public.
func (rl *release) assertNothingWritten() {
	rl.t.Helper()
	if n := rl.pushes(); n != 0 {
		rl.t.Errorf("%d pushes reached the public server", n)
	}
	for _, r := range rl.registry.Requests() {
		if r.Method == http.MethodPut {
			rl.t.Errorf("the registry saw an upload: %s", r.Path)
		}
	}
	rl.assertUnreleased()
}

// The fix on the registry before T0 is a leak, as loud as a leaked commit:
// check exits 1 naming the versions and when they were published, and run
// refuses with nothing made public.
func TestFixOnTheRegistryBeforeT0IsALeak(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, time.Now().Add(time.Hour), registry.Options{})
	leaked := rl.leakToRegistry()
	for _, cmd := range [][]string{{"check"}, {"run"}} {
		res := rl.run(cmd)
		if res.code != 1 {
			t.Fatalf("%s: want exit 1, got %s", cmd[0], res)
		}
		out := res.stdout + res.stderr
		for _, nv := range leaked {
			if !strings.Contains(out, "LEAK: already on the registry before T0") || !strings.Contains(out, nv+" (published 20") {
				t.Errorf("%s does not report %s as a leak with its publish time:\n%s", cmd[0], nv, out)
			}
		}
		if !strings.Contains(out, "embargo run --late") {
			t.Errorf("%s does not say how to release the rest:\n%s", cmd[0], out)
		}
	}
	rl.assertNothingWritten()

	// The operator's word: the embargo is over, and what is still missing
	// goes out now, an hour before T0, the leaked versions left as they are.
	res := rl.run([]string{"run", "--late"})
	if res.code != 0 || !strings.Contains(res.stdout, "EMBARGO OVER (--late)") {
		t.Fatalf("run --late: %s", res)
	}
	rl.assertReleased()
	uploads := map[string]int{}
	for _, r := range rl.registry.Requests() {
		if r.Method == http.MethodPut {
			uploads[r.Crate+"@"+r.Version]++
		}
	}
	for _, nv := range rl.versions() {
		want := 1
		if slices.Contains(leaked, nv) {
			want = 0
		}
		if uploads[nv] != want {
			t.Errorf("%s uploaded %d times, want %d", nv, uploads[nv], want)
		}
	}
}

// A T0 in the past that nothing prepared for (a wrong year in embargo.at,
// say) releases nothing: check is not ready, naming embargo.at and --late,
// as run refuses with nothing public; only --late, the operator's word
// that the embargo is over, makes check ready and run release. Once the
// release has begun, check and a re-run need no word: check says the
// release began at T0+x and a run resumes it, from the journal, or, on a
// machine without it, from what it finds public.
func TestRunAfterAT0ThatNothingPreparedIsRefusedUntilLate(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, time.Now().Add(-2*time.Hour), registry.Options{})
	rl.late = false // the operator has not said the embargo is over
	res := rl.run([]string{"check"})
	out := res.stdout + res.stderr
	if res.code != 1 || !strings.Contains(out, "embargo.at: T0 ") || !strings.Contains(out, "passed 2h") ||
		!strings.Contains(out, "`embargo run` refuses to release it") || !strings.Contains(out, "`embargo run --late`") || strings.Contains(out, "\nready:") {
		t.Errorf("check after a T0 nothing prepared: want exit 1 naming embargo.at and --late, got %s", res)
	}
	res = rl.run([]string{"run"})
	if res.code != 1 || !strings.Contains(res.stdout+res.stderr, "no run prepared this release before it") || !strings.Contains(res.stdout+res.stderr, "embargo run --late") {
		t.Fatalf("run after a T0 nothing prepared: %s", res)
	}
	for _, only := range []string{"push", "publish", "advisory"} {
		if res := rl.run([]string{"run", "--only", only}); res.code != 1 || !strings.Contains(res.stdout+res.stderr, "no run prepared this release before it") {
			t.Errorf("run --only %s: %s", only, res)
		}
	}
	rl.assertNothingWritten()
	if res := rl.run([]string{"check", "--late"}); res.code != 0 || !strings.Contains(res.stdout, "--late, the embargo is over: a run releases it at once") || !strings.Contains(res.stdout, "ready:") {
		t.Errorf("check --late: want ready, saying the run releases at once: %s", res)
	}
	rl.assertNothingWritten()

	if res := rl.run([]string{"run", "--late"}); res.code != 0 {
		t.Fatalf("run --late: %s", res)
	}
	rl.assertReleased()
	rl.assertPublishedOnce()
	pushes, puts := rl.pushes(), rl.uploads()
	res = rl.run([]string{"check"})
	if res.code != 0 || !strings.Contains(res.stdout, "the release began at T0+2h") || !strings.Contains(res.stdout, "a run resumes it") || strings.Contains(res.stdout+res.stderr, "in the past") {
		t.Errorf("check of a release begun, by the journal: want ready, saying a run resumes it: %s", res)
	}
	if res := rl.run([]string{"run"}); res.code != 0 {
		t.Errorf("a re-run of a release already public: %s", res)
	}
	// Another machine, without this state directory: what is public says
	// the release has begun.
	if err := os.Rename(filepath.Join(rl.dir, ".embargo"), filepath.Join(rl.dir, "elsewhere")); err != nil {
		t.Fatal(err)
	}
	res = rl.run([]string{"check"})
	if res.code != 0 || !strings.Contains(res.stdout, "the release has begun: release ") || !strings.Contains(res.stdout, "a run resumes it") {
		t.Errorf("check of a release begun, by what is public: want ready, saying a run resumes it: %s", res)
	}
	if rl.pushes() != pushes || rl.uploads() != puts {
		t.Errorf("the checks and the re-run pushed or uploaded again")
	}
}

// uploads counts the uploads the registry was sent.
func (rl *release) uploads() int {
	n := 0
	for _, r := range rl.registry.Requests() {
		if r.Method == http.MethodPut {
			n++
		}
	}
	return n
}

// A release sealed before T0 and run after it proceeds at once, without
// --late: the seal says it was prepared while T0 was ahead.
func TestRunAfterT0OfAReleaseSealedBeforeItProceeds(t *testing.T) {
	// T0 far enough ahead that the seal (its preflight measures the
	// targets' clocks to the millisecond, a few seconds) ends before it
	// on a loaded machine.
	t0 := time.Now().Add(12 * time.Second).Truncate(time.Second)
	rl := newPublishRelease(t, t0, registry.Options{})
	if res := rl.run([]string{"seal"}); res.code != 0 {
		t.Fatalf("seal: %s", res)
	}
	time.Sleep(time.Until(t0.Add(100 * time.Millisecond)))
	res := rl.run([]string{"run"})
	if res.code != 0 {
		t.Fatalf("run after T0 of a release sealed before it: %s", res)
	}
	rl.assertReleased()
}

// The fix reachable from a public ref before T0 (a pull request opened
// from the held branch, say) is a leak that stops the release, and `run
// --late`, the operator's word that the embargo is over, releases the rest
// at once, as for a leak on the registry.
func TestFixLeakedThroughGitBeforeT0IsReleasedOnlyWithLate(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, time.Now().Add(time.Hour), registry.Options{})
	gitCmd(t, rl.ex.World.Source, "push", "-q", rl.ex.World.Public, "embargo/1.13:refs/pull/7/head")
	res := rl.run([]string{"run"})
	out := res.stdout + res.stderr
	if res.code != 1 || !strings.Contains(out, "LEAK: held commit") || !strings.Contains(out, "refs/pull/7/head") || !strings.Contains(out, "embargo run --late") {
		t.Fatalf("run with the fix public through git: want exit 1 with the LEAK and how to release the rest, got %s", res)
	}
	rl.assertNothingWritten()

	res = rl.run([]string{"run", "--late"})
	if res.code != 0 || !strings.Contains(res.stdout, "EMBARGO OVER (--late): release 1.13: held commit") {
		t.Fatalf("run --late: %s", res)
	}
	rl.assertReleased()
}
