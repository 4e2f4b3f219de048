package push

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/gate"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// The push stage against a fake git world: what is public, when, and how
// many pushes made it so, without a repository or a server.

func pushReleaseConfig() *config.Config {
	return &config.Config{
		Embargo: config.EmbargoSection{ID: "DEMO-SA-2026-001", At: releasetest.T0, Handler: "Jane Doe <jane@example.org>"},
		Source:  config.SourceSection{Repo: "demo", Public: "https://git.example/demo.git"},
		Releases: []config.Release{
			{Line: "1.1", Branch: "embargo/1.1", PublicBranch: "main", Tag: "v1.1.1"},
			{Line: "1.0", Branch: "embargo/1.0", PublicBranch: "release-1.0", Tag: "v1.0.4"},
		},
		Advisory: config.AdvisorySection{Package: "demo-core"},
		Window:   6 * time.Hour,
	}
}

// fakePush is a run of the two-line release at now, its held branches one
// commit ahead of their public branches, the stages given git.
func fakePush(t *testing.T, now time.Time) (*release.Run, *pipeline.FakeClock, *releasetest.Git, map[string]plumbing.Hash) {
	t.Helper()
	r, clock, _ := releasetest.Run(t, pushReleaseConfig(), now, nil)
	git := releasetest.NewGit(clock)
	held := map[string]plumbing.Hash{}
	for i, rel := range r.Config.Releases {
		_, held[rel.Line] = git.Line(rel, []string{"1.1.0", "1.0.3"}[i])
	}
	return r, clock, git, held
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
func watchSteps(r *release.Run) *stepsDone {
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
func awaitStep(t *testing.T, r *release.Run, steps *stepsDone, k pipeline.Key[pipeline.Said], ended <-chan error) pipeline.Said {
	t.Helper()
	guard := time.NewTimer(10 * time.Second) // a guard against a hang, not a timing check
	defer guard.Stop()
	for {
		steps.mu.Lock()
		done, changed := steps.done[k.Stage+" "+k.Step], steps.changed
		steps.mu.Unlock()
		if done {
			res, _ := pipeline.Load(r.Journal, k)
			return res
		}
		select {
		case err := <-ended:
			t.Fatalf("the run ended (%v) before %s %s was done", err, k.Stage, k.Step)
		case <-changed:
		case <-guard.C:
			t.Fatalf("%s %s not done", k.Stage, k.Step)
		}
	}
}

// wantPublicAtHeld fails unless every line's public branch and tag are
// at its held tip.
func wantPublicAtHeld(t *testing.T, r *release.Run, git *releasetest.Git, held map[string]plumbing.Hash) {
	t.Helper()
	pub := git.PublicRefs()
	for _, rel := range r.Config.Releases {
		if got := pub["refs/heads/"+rel.PublicBranch].Hash; got != held[rel.Line] {
			t.Errorf("public %s at %s, want the held tip %s", rel.PublicBranch, release.Short(got), release.Short(held[rel.Line]))
		}
		if got := pub["refs/tags/"+rel.Tag].Commit; got != held[rel.Line] {
			t.Errorf("public tag %s at %s, want the held tip %s", rel.Tag, shortOrNone(got), release.Short(held[rel.Line]))
		}
	}
}

// A run started an hour before T0 checks the lines, prepares the push and
// waits with it: nothing is public before T0. At T0 one atomic push makes
// every line's branch and tag public, and a re-run pushes nothing.
func TestRunPushesEveryLineInOneAtomicPushAtT0(t *testing.T) {
	t.Parallel()
	r, clock, git, held := fakePush(t, releasetest.T0.Add(-time.Hour))
	before := git.PublicRefs()
	steps := watchSteps(r)
	ended := make(chan error, 1)
	go func() {
		ended <- releasetest.Execute(t, r, pipeline.Selection{}, releasetest.Checked(git), gate.Stage{}, Stage{Vault: git.Opener()})
	}()

	// The gate counts down; the push waits to prepare until just before T0.
	releasetest.AwaitWaiters(t, clock, 2, ended)
	if p := git.Landed(); len(p) != 0 {
		t.Fatalf("pushes an hour before T0: %+v", p)
	}
	if tags, ok := pipeline.Load(r.Journal, tagsMadeKey); !ok || len(tags.Tags) != 2 {
		t.Errorf("the tags were not made before T0 (journal: %+v)", tags)
	}

	// Five seconds before T0 the push is prepared, and still waits.
	clock.Set(releasetest.T0.Add(-5 * time.Second))
	releasetest.AwaitWaiters(t, clock, 2, ended)
	if p := git.Landed(); len(p) != 0 {
		t.Fatalf("pushes 5 s before T0: %+v", p)
	}
	if !maps.Equal(git.PublicRefs(), before) {
		t.Fatalf("the public repository changed before T0: %v, was %v", git.PublicRefs(), before)
	}

	if prep, _ := pipeline.Load(r.Journal, preparedKey); prep != "4 ref(s) and 4 object(s) ready to push" {
		t.Errorf("prepared before T0: %q", prep)
	}

	// A second before T0 the remote has been read once more; the push
	// waits for the gate.
	clock.Set(releasetest.T0.Add(-time.Second))
	recheck := awaitStep(t, r, steps, recheckedKey, ended)
	if recheck != "the remote is as it was when the push was prepared" {
		t.Errorf("the recheck before T0 says %q", recheck)
	}
	if p := git.Landed(); len(p) != 0 {
		t.Fatalf("pushes a second before T0: %+v", p)
	}

	clock.Set(releasetest.T0.Add(10 * time.Millisecond))
	if err := <-ended; err != nil {
		t.Fatalf("run: %v", err)
	}
	p := git.Landed()
	if len(p) != 1 {
		t.Fatalf("%d pushes, want one atomic push: %+v", len(p), p)
	}
	if p[0].At.Before(releasetest.T0) {
		t.Errorf("pushed at %s, before T0 %s", p[0].At, releasetest.T0)
	}
	want := []string{"refs/heads/main", "refs/heads/release-1.0", "refs/tags/v1.0.4", "refs/tags/v1.1.1"}
	if got := slices.Sorted(maps.Keys(p[0].Refs)); !slices.Equal(got, want) {
		t.Errorf("the push set %q, want every line's branch and tag %q", got, want)
	}
	wantPublicAtHeld(t, r, git, held)
	if res, _ := pipeline.Load(r.Journal, RefsPushedKey); len(res.Pushed) != 4 || !strings.HasPrefix(res.Text, "pushed 4 refs in one atomic push") {
		t.Errorf("the journal says %+v", res)
	}

	clock.Advance(time.Minute)
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "push"}, Stage{Vault: git.Opener()}); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if n := len(git.Landed()); n != 1 {
		t.Errorf("%d pushes after a re-run, want the first run's one", n)
	}
	if res, _ := pipeline.Load(r.Journal, RefsPushedKey); res.Text != "every ref already public at the held tips: nothing pushed" {
		t.Errorf("the re-run's push says %q", res.Text)
	}
}

// The push stage run alone before T0 (--only push, no gate to wait for)
// is refused by the gate at its write: nothing is pushed.
func TestPushAloneBeforeT0IsRefusedAndPushesNothing(t *testing.T) {
	t.Parallel()
	r, clock, git, _ := fakePush(t, releasetest.T0.Add(-time.Hour))
	if err := releasetest.Execute(t, r, pipeline.Selection{}, releasetest.Checked(git)); err != nil {
		t.Fatalf("preflight: %v", err)
	}
	clock.Set(releasetest.T0.Add(-time.Second))
	err := releasetest.Execute(t, r, pipeline.Selection{Only: "push"}, Stage{Vault: git.Opener()})
	var early *pipeline.EarlyError
	if !errors.As(err, &early) {
		t.Fatalf("push alone a second before T0: %v, want the gate's refusal", err)
	}
	if p := git.Landed(); len(p) != 0 {
		t.Errorf("pushes before T0: %+v", p)
	}
}

// A fresh runner (no journal) after the push landed reads the public
// repository and pushes nothing.
func TestPushOnAFreshRunnerAfterThePushPushesNothing(t *testing.T) {
	t.Parallel()
	r, clock, git, held := fakePush(t, releasetest.T0.Add(-time.Minute))
	if err := releasetest.Execute(t, r, pipeline.Selection{}, releasetest.Checked(git)); err != nil {
		t.Fatalf("preflight: %v", err)
	}
	clock.Set(releasetest.T0.Add(time.Second))
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "push"}, Stage{Vault: git.Opener()}); err != nil {
		t.Fatalf("run at T0: %v", err)
	}

	fresh, _, _ := releasetest.Run(t, pushReleaseConfig(), releasetest.T0.Add(time.Hour), nil)
	fresh.Mode.Late = true // nothing in this state directory shows it was prepared
	if err := releasetest.Execute(t, fresh, pipeline.Selection{Only: "push"}, Stage{Vault: git.Opener()}); err != nil {
		t.Fatalf("run on a fresh runner: %v", err)
	}
	if n := len(git.Landed()); n != 1 {
		t.Errorf("%d pushes, want only the first run's", n)
	}
	wantPublicAtHeld(t, fresh, git, held)
}

// The push landed but its answer was lost: the stage reads the public
// repository again, finds every ref there and does not push again.
func TestPushWhoseAnswerWasLostIsNotPushedTwice(t *testing.T) {
	t.Parallel()
	r, clock, git, held := fakePush(t, releasetest.T0.Add(-time.Minute))
	if err := releasetest.Execute(t, r, pipeline.Selection{}, releasetest.Checked(git)); err != nil {
		t.Fatalf("preflight: %v", err)
	}
	clock.Set(releasetest.T0.Add(time.Second))
	git.LoseAnswers = 1
	t.Cleanup(clock.Drive(time.Second)) // the retry's wait
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "push"}, Stage{Vault: git.Opener()}); err != nil {
		t.Fatalf("run whose answer was lost: %v", err)
	}
	if git.LoseAnswers != 0 {
		t.Fatal("the fake lost no answer: the test shows nothing")
	}
	if n := len(git.Landed()); n != 1 {
		t.Errorf("%d pushes, want one: the first landed", n)
	}
	wantPublicAtHeld(t, r, git, held)
}
