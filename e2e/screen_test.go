package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/sandbox/registry"
)

// terminal runs embargo with the release's config and tokens in a
// width x height terminal.
func (rl *release) terminal(width, height int, args ...string) *terminal {
	rl.t.Helper()
	cmd := rl.command(args)
	return startTerminal(rl.t, width, height, rl.dir, []string{tokenEnv + "=" + token, registryTokenEnv + "=" + registryToken}, cmd.Args...)
}

// soon is a T0 far enough ahead for a run's preflight to finish before it,
// on a whole second.
func soon(d time.Duration) time.Time { return time.Now().Add(d).Truncate(time.Second) }

// The countdown in an 80-column terminal made 60 wide while it counts,
// then the publishes' progress: each live line is cut to the terminal and
// follows the resize, and when the run has ended no copy of one is left
// anywhere in the scrollback.
func TestTheLiveLineIsCutToTheTerminalAndLeavesNothingStale(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, soon(12*time.Second), registry.Options{IndexDelay: time.Second})
	term := rl.terminal(80, 20, "run")
	term.await("to T0, then:")
	term.tmux("resize-window", "-t", "main", "-x", "60")
	if code := term.exited(); code != 0 {
		t.Fatalf("run: exit %d:\n%s", code, term.text())
	}
	rows := term.rows()
	for _, row := range rows {
		if strings.HasPrefix(row, "T-") || strings.HasPrefix(row, "publish T0+") || strings.Contains(row, "version(s)") {
			t.Errorf("a stale copy of a live line is left in the scrollback: %q\n%s", row, strings.Join(rows, "\n"))
			break
		}
	}
	if !strings.Contains(term.text(), "ok publish: in ") {
		t.Errorf("the run's own lines are not all there:\n%s", term.text())
	}
}

// From the first moment after T0, with the index 3 s behind the uploads,
// the live line says what is in flight: per release line, the versions
// uploaded, those the index shows and the total, and the time since T0;
// and the push, while it waits for the registry.
func TestTheLiveLineSaysWhatIsInFlightFromT0(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, time.Now().Add(-time.Second), registry.Options{IndexDelay: 3 * time.Second})
	term := rl.terminal(140, 20, "run")
	term.await("1.13 1 uploaded, 0/2 visible")
	rows := term.rows()
	live := rows[len(rows)-1]
	// The push waits for the registry to take the first upload: until it
	// has, the live line says that too.
	if !regexp.MustCompile(`^(push: waiting for the registry to take the first upload · )?publish T0\+\d+s: 1\.13 [12] uploaded, 0/2 visible · 1\.12 [0-2] uploaded, 0/2 visible$`).MatchString(live) {
		t.Errorf("the bottom row is %q, want the publishes in flight:\n%s", live, strings.Join(rows, "\n"))
	}
	if code := term.exited(); code != 0 {
		t.Fatalf("run: exit %d:\n%s", code, term.text())
	}
}

// Ctrl-C during the countdown, in a terminal: the screen says, in words,
// that the run was interrupted before T0 and during what, that nothing is
// public, and the one command that resumes; no stage "failed", no context
// canceled, and neither the countdown nor the ^C the terminal echoed is
// left on the screen.
func TestCtrlCDuringTheCountdownSaysNothingIsPublicAndHowToResume(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, soon(60*time.Second), registry.Options{})
	term := rl.terminal(80, 30, "run")
	term.await("to T0, then:")
	term.tmux("send-keys", "-t", "main", "C-c")
	if code := term.exited(); code != 1 {
		t.Errorf("exit %d, want 1 for an interrupted run:\n%s", code, term.text())
	}
	text := term.text()
	for _, want := range []string{
		"gate: interrupted ", " before T0, during wait",
		"embargo: interrupted ", " before T0, during gate (wait), push ", " and publish",
		"nothing is public: the run was stopped before T0",
		"next: `embargo run -c " + rl.config + " --from gate` resumes where the run was stopped",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the screen lacks %q:\n%s", want, text)
		}
	}
	for _, unwanted := range []string{"context canceled", "!!!", "failed", "^C"} {
		if strings.Contains(text, unwanted) {
			t.Errorf("the screen says %q:\n%s", unwanted, text)
		}
	}
	for _, row := range term.rows() {
		if strings.HasPrefix(row, "T-") {
			t.Errorf("the countdown is left on the screen: %q", row)
		}
	}
	rl.assertUnreleased()
}

// Ctrl-C while check's preflight packages the crates (every registry
// request slowed, so it is still at work): check says it was stopped and
// that nothing was recorded or made public, not that the release has a
// problem, and exits 1.
func TestCtrlCDuringCheckSaysItWasStoppedNotThatTheReleaseHasAProblem(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, soon(time.Hour), registry.Options{Latency: 500 * time.Millisecond})
	term := rl.terminal(100, 30, "check")
	term.await("preflight: line 1.12")
	term.tmux("send-keys", "-t", "main", "C-c")
	if code := term.exited(); code != 1 {
		t.Errorf("exit %d, want 1 for an interrupted check:\n%s", code, term.text())
	}
	text := term.text()
	want := "not ready: stopped before preflight finished; nothing was recorded and nothing is public. Run the same command again to finish."
	if !strings.Contains(text, want) {
		t.Errorf("the screen lacks %q:\n%s", want, text)
	}
	for _, unwanted := range []string{"problem", "context canceled", "!!!"} {
		if strings.Contains(text, unwanted) {
			t.Errorf("the screen says %q:\n%s", unwanted, text)
		}
	}
	rl.assertUnreleased()
}

// Ctrl-C during the publishes, once the push is done and the first uploads
// are in but not yet in the index: the run says when and during what it
// was stopped, what is public so far, and the command that resumes. The
// run after it says it resumes the release begun at T0, not that T0 is in
// the past, and its timeline has, for each version uploaded before the
// interruption, when the index showed it by.
func TestCtrlCDuringPublishSaysWhatIsPublicAndTheResumedTimelineIsWhole(t *testing.T) {
	t.Parallel()
	const delay = 3 * time.Second
	rl := newPublishRelease(t, soon(15*time.Second), registry.Options{IndexDelay: delay})
	run := startStream(t, rl.command([]string{"run"}))
	run.await("ok push: in ")
	res := run.interrupt()
	if res.code != 1 {
		t.Errorf("want exit 1 for an interrupted run, got %s", res)
	}
	all := res.stdout + res.stderr
	for _, want := range []string{
		"publish: interrupted ", " after T0, during publish ",
		"embargo: interrupted ", " after T0, during publish (publish ",
		"public so far:\n  push     branches main, release-1.12; tags v1.13.1, v1.12.5\n  publish  ",
		"next: `embargo run -c " + rl.config + " --from publish` resumes where the run was stopped",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("output lacks %q:\n%s", want, res)
		}
	}
	if !regexp.MustCompile(`\n  publish  \d versions? uploaded\n`).MatchString(all) {
		t.Errorf("output does not say how many versions were uploaded:\n%s", res)
	}
	for _, unwanted := range []string{"context canceled", "!!!", "index: GET"} {
		if strings.Contains(all, unwanted) {
			t.Errorf("output says %q:\n%s", unwanted, res)
		}
	}

	// The versions uploaded before the stop show in the index before the
	// run resumes: it finds them there.
	var uploaded []string
	last := time.Time{}
	for _, req := range rl.registry.Requests() {
		if req.Method == "PUT" && req.Status == 200 {
			uploaded = append(uploaded, req.Crate+"@"+req.Version)
			last = req.Time.Add(req.Duration)
		}
	}
	if len(uploaded) == 0 {
		t.Fatalf("nothing was uploaded before the stop:\n%s", res)
	}
	time.Sleep(time.Until(last.Add(delay + 500*time.Millisecond))) // the index's own delay, a few seconds

	again := rl.run([]string{"run"})
	if again.code != 0 {
		t.Fatalf("the resumed run: %s", again)
	}
	for _, unwanted := range []string{"in the past", "embargo.at", " late)"} {
		if strings.Contains(again.stdout+again.stderr, unwanted) {
			t.Errorf("the resumed run says %q:\n%s", unwanted, again)
		}
	}
	if !strings.Contains(again.stdout, "gate: started ") || !strings.Contains(again.stdout, "after T0, resuming the release that began at T0+") {
		t.Errorf("the resumed run's gate does not say which release it resumes:\n%s", again.stdout)
	}
	for _, nv := range uploaded {
		if !regexp.MustCompile(regexp.QuoteMeta(nv) + ` uploaded \S+  \(T0 \+ \w+\), visible (by )?\S+  \(T0 \+ \w+\)`).MatchString(again.stdout) {
			t.Errorf("the resumed run's timeline has no visible time for %s, uploaded before the stop:\n%s", nv, again.stdout)
		}
	}
}

// Ctrl-C during a rehearsal's countdown: it says the rehearsal was stopped
// and removed its sandbox world, what it would have made public so far
// (nothing), and how to rehearse again; not that it failed, nor an empty
// "what would be public".
func TestCtrlCDuringARehearsalSaysItWasStoppedAndRemovedItsWorld(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, time.Now().Add(time.Hour), registry.Options{})
	run := startStream(t, rl.command([]string{"rehearse", "--in", "1m"}))
	run.await("gate: holding until T0")
	res := run.interrupt()
	if res.code != 1 {
		t.Errorf("want exit 1 for a stopped rehearsal, got %s", res)
	}
	for _, want := range []string{
		"the rehearsal was stopped; its sandbox world in " + filepath.Join(rl.dir, ".embargo", "rehearsal"),
		"was removed (--keep keeps it)",
		"embargo: interrupted ", " before T0, during gate (wait)",
		"nothing is public in the sandbox: the run was stopped before T0",
		"next: `embargo rehearse -c " + rl.config + "` rehearses again, in a new sandbox world",
	} {
		if !strings.Contains(res.stdout+res.stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, res)
		}
	}
	for _, unwanted := range []string{"the rehearsal failed", "what would be public", "fix the cause", "context canceled"} {
		if strings.Contains(res.stdout+res.stderr, unwanted) {
			t.Errorf("output says %q:\n%s", unwanted, res)
		}
	}
	if left, _ := os.ReadDir(filepath.Join(rl.dir, ".embargo", "rehearsal")); len(left) > 0 {
		t.Errorf("the stopped rehearsal left %v behind", left)
	}
}
