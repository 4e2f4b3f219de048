package stages

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/vault"
)

// The push stage against a fake git world: what is public, when, and how
// many pushes made it so, without a repository or a server.

func pushReleaseConfig() *pipeline.Config {
	return &pipeline.Config{
		Embargo: pipeline.EmbargoSection{ID: "DEMO-SA-2026-001", At: fakeT0, Handler: "Jane Doe <jane@example.org>"},
		Source:  pipeline.SourceSection{Repo: "demo", Public: "https://git.example/demo.git"},
		Releases: []pipeline.Release{
			{Line: "1.1", Branch: "embargo/1.1", PublicBranch: "main", Tag: "v1.1.1"},
			{Line: "1.0", Branch: "embargo/1.0", PublicBranch: "release-1.0", Tag: "v1.0.4"},
		},
		Advisory: pipeline.AdvisorySection{Package: "demo-core"},
		Window:   6 * time.Hour,
	}
}

// fakePush is a run of the two-line release at now, its held branches one
// commit ahead of their public branches, the stages given git.
func fakePush(t *testing.T, now time.Time) (*pipeline.Run, *pipeline.FakeClock, *fakeGit, map[string]plumbing.Hash) {
	t.Helper()
	r, clock, _ := fakeRun(t, pushReleaseConfig(), now, nil)
	git := newFakeGit(clock)
	held := map[string]plumbing.Hash{}
	for i, rel := range r.Config.Releases {
		_, held[rel.Line] = git.line(rel, []string{"1.1.0", "1.0.3"}[i])
	}
	useClients(t, func(c *Clients) { c.PushVault, c.Vault = git.opener(), git.releaseOpener() })
	return r, clock, git, held
}

// checkedPreflight is preflight's fetch and line checks, the real ones
// (fast-forward, the leak check, tags, versions), on the vault the stages
// are given; like preflight it fails on what it finds.
var checkedPreflight = recordingPreflight{fn: func(r *pipeline.Run) error {
	v, err := openVault(r)
	if err != nil {
		return err
	}
	c := &checking{r: r, cfg: r.Config, v: v, missingBranch: map[string]bool{}, problemLines: map[string]bool{}}
	c.leak = leakReporter(r, c.add)
	if err := runSteps(context.Background(), c.fetch, c.lines); err != nil {
		return err
	}
	if len(c.findings) > 0 {
		return &pipeline.FindingsError{Findings: c.findings}
	}
	return nil
}}

// awaitWaiters returns once n things wait on the clock.
func awaitWaiters(t *testing.T, clock *pipeline.FakeClock, n int, ended <-chan error) {
	t.Helper()
	if err := clock.AwaitWaiters(n, ended, 10*time.Second); err != nil {
		t.Fatalf("waiting for T0: %v", err)
	}
}

// stepsDone follows a run's steps as its output reports them done, after
// the journal has recorded them: a test waits for a step on that event.
type stepsDone struct {
	mu      sync.Mutex
	done    map[string]bool // "stage step"
	changed chan struct{}   // closed, and replaced, when a step is done
}

// watchSteps makes r report its events to a stepsDone; call it before
// the run starts.
func watchSteps(r *pipeline.Run) *stepsDone {
	w := &stepsDone{done: map[string]bool{}, changed: make(chan struct{})}
	r.Out = pipeline.NewReporter(w, true, r.Gate.Clock, r.Secrets.Scrub)
	return w
}

// Write takes one event, a JSON line.
func (w *stepsDone) Write(b []byte) (int, error) {
	var ev pipeline.Event
	if json.Unmarshal(b, &ev) == nil && ev.Kind == pipeline.EventDone && ev.Step != "" {
		w.mu.Lock()
		w.done[ev.Stage+" "+ev.Step] = true
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}
	return len(b), nil
}

// awaitStep returns the summary of a stage's step once it is done.
func awaitStep(t *testing.T, r *pipeline.Run, steps *stepsDone, stage, step string, ended <-chan error) pipeline.Said {
	t.Helper()
	guard := time.NewTimer(10 * time.Second) // a guard against a hang, not a timing check
	defer guard.Stop()
	for {
		steps.mu.Lock()
		done, changed := steps.done[stage+" "+step], steps.changed
		steps.mu.Unlock()
		if done {
			res, _ := pipeline.Load[pipeline.Said](r.Journal, stage, step)
			return res
		}
		select {
		case err := <-ended:
			t.Fatalf("the run ended (%v) before %s %s was done", err, stage, step)
		case <-changed:
		case <-guard.C:
			t.Fatalf("%s %s not done", stage, step)
		}
	}
}

// wantPublicAtHeld fails unless every line's public branch and tag are
// at its held tip.
func wantPublicAtHeld(t *testing.T, r *pipeline.Run, git *fakeGit, held map[string]plumbing.Hash) {
	t.Helper()
	pub := git.publicRefs()
	for _, rel := range r.Config.Releases {
		if got := pub["refs/heads/"+rel.PublicBranch].Hash; got != held[rel.Line] {
			t.Errorf("public %s at %s, want the held tip %s", rel.PublicBranch, short(got), short(held[rel.Line]))
		}
		if got := pub["refs/tags/"+rel.Tag].Commit; got != held[rel.Line] {
			t.Errorf("public tag %s at %s, want the held tip %s", rel.Tag, shortOrNone(got), short(held[rel.Line]))
		}
	}
}

// A run started an hour before T0 checks the lines, prepares the push and
// waits with it: nothing is public before T0. At T0 one atomic push makes
// every line's branch and tag public, and a re-run pushes nothing.
func TestRunPushesEveryLineInOneAtomicPushAtT0(t *testing.T) {
	r, clock, git, held := fakePush(t, fakeT0.Add(-time.Hour))
	before := git.publicRefs()
	steps := watchSteps(r)
	ended := make(chan error, 1)
	go func() { ended <- execute(t, r, pipeline.Selection{}, checkedPreflight, Gate{}, Push{}) }()

	// The gate counts down; the push waits to prepare until just before T0.
	awaitWaiters(t, clock, 2, ended)
	if p := git.landed(); len(p) != 0 {
		t.Fatalf("pushes an hour before T0: %+v", p)
	}
	if tags, ok := pipeline.Load[TagsMade](r.Journal, "push", "tags"); !ok || len(tags.Tags) != 2 {
		t.Errorf("the tags were not made before T0 (journal: %+v)", tags)
	}

	// Five seconds before T0 the push is prepared, and still waits.
	clock.Set(fakeT0.Add(-5 * time.Second))
	awaitWaiters(t, clock, 2, ended)
	if p := git.landed(); len(p) != 0 {
		t.Fatalf("pushes 5 s before T0: %+v", p)
	}
	if !maps.Equal(git.publicRefs(), before) {
		t.Fatalf("the public repository changed before T0: %v, was %v", git.publicRefs(), before)
	}

	if prep, _ := pipeline.Load[pipeline.Said](r.Journal, "push", "prepare"); prep != "4 ref(s) and 4 object(s) ready to push" {
		t.Errorf("prepared before T0: %q", prep)
	}

	// A second before T0 the remote has been read once more; the push
	// waits for the gate.
	clock.Set(fakeT0.Add(-time.Second))
	recheck := awaitStep(t, r, steps, "push", "recheck", ended)
	if recheck != "the remote is as it was when the push was prepared" {
		t.Errorf("the recheck before T0 says %q", recheck)
	}
	if p := git.landed(); len(p) != 0 {
		t.Fatalf("pushes a second before T0: %+v", p)
	}

	clock.Set(fakeT0.Add(10 * time.Millisecond))
	if err := <-ended; err != nil {
		t.Fatalf("run: %v", err)
	}
	p := git.landed()
	if len(p) != 1 {
		t.Fatalf("%d pushes, want one atomic push: %+v", len(p), p)
	}
	if p[0].at.Before(fakeT0) {
		t.Errorf("pushed at %s, before T0 %s", p[0].at, fakeT0)
	}
	want := []string{"refs/heads/main", "refs/heads/release-1.0", "refs/tags/v1.0.4", "refs/tags/v1.1.1"}
	if got := slices.Sorted(maps.Keys(p[0].refs)); !slices.Equal(got, want) {
		t.Errorf("the push set %q, want every line's branch and tag %q", got, want)
	}
	wantPublicAtHeld(t, r, git, held)
	if res, _ := pipeline.Load[RefsPushed](r.Journal, "push", "push"); len(res.Pushed) != 4 || !strings.HasPrefix(res.Text, "pushed 4 refs in one atomic push") {
		t.Errorf("the journal says %+v", res)
	}

	clock.Advance(time.Minute)
	if err := execute(t, r, pipeline.Selection{Only: "push"}, Push{}); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if n := len(git.landed()); n != 1 {
		t.Errorf("%d pushes after a re-run, want the first run's one", n)
	}
	if res, _ := pipeline.Load[RefsPushed](r.Journal, "push", "push"); res.Text != "every ref already public at the held tips: nothing pushed" {
		t.Errorf("the re-run's push says %q", res.Text)
	}
}

// The push stage run alone before T0 (--only push, no gate to wait for)
// is refused by the gate at its write: nothing is pushed.
func TestPushAloneBeforeT0IsRefusedAndPushesNothing(t *testing.T) {
	r, clock, git, _ := fakePush(t, fakeT0.Add(-time.Hour))
	if err := execute(t, r, pipeline.Selection{}, checkedPreflight); err != nil {
		t.Fatalf("preflight: %v", err)
	}
	clock.Set(fakeT0.Add(-time.Second))
	err := execute(t, r, pipeline.Selection{Only: "push"}, Push{})
	var early *pipeline.EarlyError
	if !errors.As(err, &early) {
		t.Fatalf("push alone a second before T0: %v, want the gate's refusal", err)
	}
	if p := git.landed(); len(p) != 0 {
		t.Errorf("pushes before T0: %+v", p)
	}
}

// A fresh runner (no journal) after the push landed reads the public
// repository and pushes nothing.
func TestPushOnAFreshRunnerAfterThePushPushesNothing(t *testing.T) {
	r, clock, git, held := fakePush(t, fakeT0.Add(-time.Minute))
	if err := execute(t, r, pipeline.Selection{}, checkedPreflight); err != nil {
		t.Fatalf("preflight: %v", err)
	}
	clock.Set(fakeT0.Add(time.Second))
	if err := execute(t, r, pipeline.Selection{Only: "push"}, Push{}); err != nil {
		t.Fatalf("run at T0: %v", err)
	}

	fresh, _, _ := fakeRun(t, pushReleaseConfig(), fakeT0.Add(time.Hour), nil)
	fresh.Late = true // nothing in this state directory shows it was prepared
	if err := execute(t, fresh, pipeline.Selection{Only: "push"}, Push{}); err != nil {
		t.Fatalf("run on a fresh runner: %v", err)
	}
	if n := len(git.landed()); n != 1 {
		t.Errorf("%d pushes, want only the first run's", n)
	}
	wantPublicAtHeld(t, fresh, git, held)
}

// A held commit already reachable from a public ref before T0 is a leak:
// the run stops at preflight with the LEAK finding, and nothing is pushed.
func TestLeakBeforeT0StopsTheRunAndPushesNothing(t *testing.T) {
	r, _, git, held := fakePush(t, fakeT0.Add(-time.Hour))
	git.public["refs/heads/wip"] = vault.RemoteRef{Hash: held["1.1"], Commit: held["1.1"]} // someone pushed the fix
	before := git.publicRefs()

	err := execute(t, r, pipeline.Selection{}, checkedPreflight, Gate{}, Push{})
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
	want := "release 1.1: LEAK: held commit " + short(held["1.1"]) + " is reachable from public refs/heads/wip"
	if len(leaks) != 1 || leaks[0] != want {
		t.Errorf("leak findings %q, want %q", leaks, want)
	}
	if p := git.landed(); len(p) != 0 {
		t.Errorf("pushes after a leak: %+v", p)
	}
	if !maps.Equal(git.publicRefs(), before) {
		t.Errorf("the public repository changed: %v, was %v", git.publicRefs(), before)
	}
}

// The push landed but its answer was lost: the stage reads the public
// repository again, finds every ref there and does not push again.
func TestPushWhoseAnswerWasLostIsNotPushedTwice(t *testing.T) {
	r, clock, git, held := fakePush(t, fakeT0.Add(-time.Minute))
	if err := execute(t, r, pipeline.Selection{}, checkedPreflight); err != nil {
		t.Fatalf("preflight: %v", err)
	}
	clock.Set(fakeT0.Add(time.Second))
	git.loseAnswers = 1
	t.Cleanup(clock.Drive(time.Second)) // the retry's wait
	if err := execute(t, r, pipeline.Selection{Only: "push"}, Push{}); err != nil {
		t.Fatalf("run whose answer was lost: %v", err)
	}
	if git.loseAnswers != 0 {
		t.Fatal("the fake lost no answer: the test shows nothing")
	}
	if n := len(git.landed()); n != 1 {
		t.Errorf("%d pushes, want one: the first landed", n)
	}
	wantPublicAtHeld(t, r, git, held)
}
