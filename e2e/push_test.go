package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/stages/push"
)

// The CI job: started before T0, it holds, counts down and pushes at T0;
// the public server sees no push before T0, only the read of its refs
// that prepared the push.
func TestRunPushesAtT0AndNeverBefore(t *testing.T) {
	t0 := time.Now().Add(3 * time.Second).Truncate(time.Second)
	rl := newRelease(t, t0)

	res := rl.run([]string{"run"})
	if res.code != 0 {
		t.Fatalf("run failed: %s", res)
	}
	posts, prepared := 0, false
	for _, r := range rl.server.ReceivePacks() {
		if r.Method != "POST" && r.Time.Before(t0) {
			prepared = true
		}
		if r.Method == "POST" && r.Time.Before(t0) {
			t.Errorf("%s %s at %s, before T0 %s", r.Method, r.Path, r.Time.Format(time.RFC3339Nano), t0.Format(time.RFC3339))
		}
		if r.Method == "POST" {
			posts++
			if late := r.Time.Sub(t0); late > 2*time.Second {
				t.Errorf("push reached the server %s after T0", late)
			}
		}
	}
	if posts != 1 {
		t.Errorf("want exactly one (atomic) push, the server saw %d", posts)
	}
	if !prepared {
		t.Error("the push was not prepared before T0: the server's refs were not read before it")
	}
	uploads := 0
	for _, r := range rl.registry.Requests() {
		if r.Method == http.MethodPut {
			uploads++
			if r.Time.Before(t0) {
				t.Errorf("upload of %s@%s at %s, before T0 %s", r.Crate, r.Version, r.Time.Format(time.RFC3339Nano), t0.Format(time.RFC3339))
			}
		}
	}
	if uploads != len(rl.versions()) {
		t.Errorf("the registry saw %d uploads, want %d", uploads, len(rl.versions()))
	}
	rl.assertReleased()
	for _, want := range []string{"holding until T0", "T-00:00:0", "pushed 4 refs in one atomic push"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, res.stdout)
		}
	}
	rl.assertNoSecret(res.stdout, res.stderr)

	// A second run finds everything public and pushes nothing.
	again := rl.run([]string{"run"})
	if again.code != 0 || rl.pushes() != 1 {
		t.Fatalf("re-run: pushes %d, %s", rl.pushes(), again)
	}
	if !strings.Contains(again.stdout, "nothing pushed") {
		t.Errorf("re-run does not say it pushed nothing:\n%s", again.stdout)
	}

	// Without the journal, the world alone says it is done.
	if err := os.Remove(filepath.Join(rl.dir, ".embargo", "journal.json")); err != nil {
		t.Fatal(err)
	}
	fresh := rl.run([]string{"run"})
	if fresh.code != 0 || rl.pushes() != 1 {
		t.Fatalf("run without journal: pushes %d, %s", rl.pushes(), fresh)
	}
	rl.assertReleased()
}

// An operator re-running after the push on a machine that never saw the
// release (no state directory at all) converges too.
func TestRunOnFreshStateAfterReleaseChangesNothing(t *testing.T) {
	t.Parallel()
	rl := newRelease(t, time.Now().Add(-time.Second))
	if res := rl.run([]string{"run"}); res.code != 0 {
		t.Fatal(res)
	}
	if err := os.RemoveAll(filepath.Join(rl.dir, ".embargo")); err != nil {
		t.Fatal(err)
	}
	res := rl.run([]string{"run", "--only", "push"})
	if res.code != 0 || rl.pushes() != 1 {
		t.Fatalf("pushes %d: %s", rl.pushes(), res)
	}
}

// Every public write asks the clock itself: running the push stage alone
// before T0 is refused and the server sees no push.
func TestPushAloneBeforeT0IsRefused(t *testing.T) {
	t.Parallel()
	rl := newRelease(t, time.Now().Add(time.Hour))
	res := rl.run([]string{"run", "--only", "push"})
	if res.code != 1 {
		t.Fatalf("want exit 1, got %s", res)
	}
	if !strings.Contains(res.stdout+res.stderr, "before T0") {
		t.Errorf("refusal does not say why:\n%s", res)
	}
	if rl.pushes() != 0 {
		t.Errorf("server saw %d pushes", rl.pushes())
	}
	rl.assertUnreleased()
}

// A crash (kill -9) at any step of the push, then a re-run, ends in the
// same refs as a clean run.
func TestKill9AtEveryPushStepThenRerun(t *testing.T) {
	t.Parallel()
	points := []string{
		"preflight.fetch.ran", "gate.wait.ran", "push.held.started", "push.tags.ran",
		"push.before", "push.push.started", "push.after", "push.push.ran", "push.verify.started",
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			rl := newRelease(t, time.Now().Add(-time.Second))
			crash := rl.run([]string{"run"}, "EMBARGO_TEST_KILL_AT="+point)
			if !crash.killed {
				t.Fatalf("expected a kill at %s: %s", point, crash)
			}
			var j map[string]any
			b, err := os.ReadFile(filepath.Join(rl.dir, ".embargo", "journal.json"))
			if err != nil || json.Unmarshal(b, &j) != nil {
				t.Fatalf("journal unreadable after kill at %s: %v", point, err)
			}
			res := rl.run([]string{"run"})
			if res.code != 0 {
				t.Fatalf("re-run after kill at %s: %s", point, res)
			}
			rl.assertReleased()
			if n := rl.pushes(); n > 1 {
				t.Errorf("%d pushes: the re-run pushed again what was public", n)
			}
		})
	}
}

// A second run while one holds the state directory exits 3, naming it.
func TestSecondConcurrentRunExits3(t *testing.T) {
	rl := newRelease(t, time.Now().Add(4*time.Second))
	first := rl.command([]string{"run"})
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Wait()
	lock := filepath.Join(rl.dir, ".embargo", "lock")
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, err := os.Stat(lock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first run never took the lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	second := rl.run([]string{"run"})
	if second.code != 3 {
		t.Fatalf("want exit 3, got %s", second)
	}
	if !strings.Contains(second.stderr, "pid") || !strings.Contains(second.stderr, "since") {
		t.Errorf("exit 3 does not name the holder:\n%s", second.stderr)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first run: %v", err)
	}
	rl.assertReleased()
}

// A wrong token is refused by the server; the token itself never shows.
func TestWrongTokenFailsWithoutPrintingIt(t *testing.T) {
	t.Parallel()
	rl := newRelease(t, time.Now().Add(-time.Second))
	res := rl.run([]string{"run", "--json"}, tokenEnv+"=wrong-"+token)
	if res.code != 1 {
		t.Fatalf("want exit 1, got %s", res)
	}
	if strings.Contains(res.stdout+res.stderr, "wrong-"+token) {
		t.Errorf("the token was printed:\n%s", res)
	}
	b, _ := os.ReadFile(filepath.Join(rl.dir, ".embargo", "journal.json"))
	if strings.Contains(string(b), "wrong-"+token) {
		t.Errorf("the token is in the journal")
	}
	rl.assertUnreleased()
}

// status --json: one object, stages in order with their states.
func TestStatusJSONAfterRun(t *testing.T) {
	t.Parallel()
	rl := newRelease(t, time.Now().Add(-time.Second))
	if res := rl.run([]string{"run"}); res.code != 0 {
		t.Fatal(res)
	}
	res := rl.run([]string{"status", "--json"})
	if res.code != 0 {
		t.Fatal(res)
	}
	rl.assertNoSecret(res.stdout, res.stderr)
	var st struct {
		ID     string `json:"id"`
		Stages []struct {
			Name  string `json:"name"`
			State string `json:"state"`
			Steps []struct {
				Name   string          `json:"name"`
				Result json.RawMessage `json:"result"`
			} `json:"steps"`
		} `json:"stages"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
		t.Fatalf("status --json is not one JSON object: %v\n%s", err, res.stdout)
	}
	var names []string
	for _, s := range st.Stages {
		names = append(names, s.Name+"="+s.State)
	}
	if got := strings.Join(names, " "); !strings.HasPrefix(got, "preflight=done gate=done push=done") {
		t.Errorf("stages: %s", got)
	}
	// The results are the stages' types: the push's refs a list, its
	// moment a time.
	for _, s := range st.Stages {
		for _, step := range s.Steps {
			if s.Name != "push" || step.Name != "push" {
				continue
			}
			var pushed push.RefsPushed
			if err := json.Unmarshal(step.Result, &pushed); err != nil || len(pushed.Pushed) != 2*len(rl.ex.World.Lines) || pushed.PushedAt.IsZero() {
				t.Errorf("status --json shows the push step's result %s (%v), want its refs and when", step.Result, err)
			}
			return
		}
	}
	t.Error("status --json shows no push step")
}

// --json: every line is an event; the last is the final report.
func TestRunJSONLinesEndWithReport(t *testing.T) {
	t.Parallel()
	rl := newRelease(t, time.Now().Add(-time.Second))
	res := rl.run([]string{"run", "--json"})
	if res.code != 0 {
		t.Fatal(res)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	for _, l := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
	}
	if ok, last := endsWithSuccessfulReport(res.stdout); !ok {
		t.Errorf("last line is not a successful report: %s", last)
	}
}

// The push lands but its answer is lost (the connection drops): the run
// never pushes blindly again; it re-reads the remote, finds the refs there,
// and verifies them.
func TestPushWhoseAnswerIsLostIsNotRepeated(t *testing.T) {
	t.Parallel()
	rl := newRelease(t, time.Now().Add(-time.Second))
	rl.server.DropAfterPush(1)
	res := rl.run([]string{"run"})
	if res.code != 0 {
		t.Fatalf("run: %s", res)
	}
	if !strings.Contains(res.stdout, "re-reading the remote") {
		t.Errorf("the lost answer was not reported:\n%s", res.stdout)
	}
	if n := rl.pushes(); n != 1 {
		t.Errorf("%d pushes reached the server; the re-read should have shown the first one landed", n)
	}
	rl.assertReleased()
}

// Started after T0 + window (a runner that never started on time): it
// proceeds, and says loudly that the window was missed.
func TestRunStartedAfterTheWindowSaysSoAndProceeds(t *testing.T) {
	t.Parallel()
	rl := newRelease(t, time.Now().Add(-7*time.Hour))
	res := rl.run([]string{"run"})
	if !strings.Contains(res.stdout, "WINDOW MISSED") {
		t.Errorf("no loud warning:\n%s", res)
	}
	rl.assertReleased()
}
