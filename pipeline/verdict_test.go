package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// The registry's answer to the first upload, as publish settles it and
// push awaits it.
var registryTakes = pipeline.Verdict{Name: "the registry takes the publish credential", Stage: "publish"}

// answerIn is how long after T0 the fake registry answers the first upload.
const answerIn = 300 * time.Millisecond

// verdictRun is a release whose push awaits publish's verdict once the
// gate has opened at T0, on a fake clock that starts a minute before T0.
// publish answers answerIn after T0 with refusal (nil: go); writes are
// the times push wrote.
type verdictRun struct {
	*testRun
	e      *pipeline.Engine
	clock  *pipeline.FakeClock
	mu     sync.Mutex
	writes []time.Time
}

func newVerdictRun(t *testing.T, refusal *pipeline.Refusal) *verdictRun {
	t.Helper()
	v := &verdictRun{}
	gate := func(ctx context.Context, r *pipeline.Run) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.Gate.Clock.After(r.Gate.T0.Sub(r.Now())):
			return nil
		}
	}
	push := func(ctx context.Context, r *pipeline.Run) error {
		if err := r.WaitFor(ctx, "gate"); err != nil {
			return err
		}
		if err := r.Await(ctx, registryTakes); err != nil {
			return err
		}
		v.mu.Lock()
		v.writes = append(v.writes, r.Now())
		v.mu.Unlock()
		return nil
	}
	publish := func(ctx context.Context, r *pipeline.Run) error {
		if err := r.WaitFor(ctx, "gate"); err != nil {
			return err
		}
		<-r.Gate.Clock.After(answerIn) // the first upload, answered
		r.Settle(registryTakes, refusal)
		if refusal != nil {
			return refusal
		}
		return nil
	}
	v.e = graphOf(
		stage("preflight", nil),
		stage("gate", gate, "preflight"),
		stage("push", push, "preflight"),
		stage("publish", publish, "preflight"),
	)
	v.testRun = newRun(t, testEmbargo(), v.e, nil)
	v.clock = v.Gate.Clock.(*pipeline.FakeClock)
	v.clock.Set(testT0.Add(-time.Minute))
	return v
}

func (v *verdictRun) pushed() []time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]time.Time(nil), v.writes...)
}

// execute runs the release in the background and moves the clock to T0,
// then to the registry's answer.
func (v *verdictRun) execute(t *testing.T, sel pipeline.Selection) error {
	t.Helper()
	ended := make(chan error, 1)
	go func() { ended <- v.e.Execute(context.Background(), v.Run, sel) }()
	if err := v.clock.AwaitWaiter(ended, 10*time.Second); err != nil {
		t.Fatalf("waiting for T0: %v", err)
	}
	v.clock.Set(testT0)
	if err := v.clock.AwaitWaiter(ended, 10*time.Second); err != nil {
		t.Fatalf("waiting for the registry's answer: %v", err)
	}
	if w := v.pushed(); len(w) != 0 {
		t.Fatalf("push wrote at %v, before the registry answered the first upload", w)
	}
	v.clock.Advance(answerIn)
	return <-ended
}

// At T0 the push waits for the registry's answer to the first upload, and
// writes once the registry has taken it.
func TestPushAwaitsTheRegistrysAnswerAndWritesOnceItIsGo(t *testing.T) {
	v := newVerdictRun(t, nil)
	if err := v.execute(t, pipeline.Selection{}); err != nil {
		t.Fatal(err)
	}
	w := v.pushed()
	if len(w) != 1 || w[0].Before(testT0.Add(answerIn)) {
		t.Fatalf("push wrote at %v, want once, at the registry's answer %s or after", w, testT0.Add(answerIn))
	}
}

// A refusal ends the awaiting stage with it, writing nothing, and the
// run's error carries the refusal's fix for the next: hint.
func TestARefusedVerdictEndsTheAwaitingStageWithItsFix(t *testing.T) {
	refusal := &pipeline.Refusal{Err: errors.New("the registry refused the publish token (401): Failed to authenticate user"),
		Fix: "set EMBARGO_REGISTRY_TOKEN (registry.token_env) to a token the registry takes"}
	v := newVerdictRun(t, refusal)
	err := v.execute(t, pipeline.Selection{})
	if w := v.pushed(); len(w) != 0 {
		t.Fatalf("push wrote at %v after the registry refused the credential", w)
	}
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != "push" || se.Fix != refusal.Fix {
		t.Fatalf("got %v (%+v), want push failed with the refusal's fix", err, se)
	}
	var got *pipeline.Refusal
	if !errors.As(se.Err, &got) || !strings.Contains(err.Error(), "Failed to authenticate user") {
		t.Errorf("push's error %v does not carry the refusal", se.Err)
	}
	states := states(onDisk(t, v.path))
	if states["push"] != pipeline.StateFailed || states["publish"] != pipeline.StateFailed {
		t.Errorf("the journal says %v, want push and publish failed", states)
	}
}

// Push run alone (--only push) has no publish to wait for: it writes at
// once.
func TestAVerdictOfAStageOutsideTheRunIsGoAtOnce(t *testing.T) {
	v := newVerdictRun(t, &pipeline.Refusal{Err: errors.New("refused")})
	v.clock.Set(testT0.Add(time.Second))
	if err := v.e.Execute(context.Background(), v.Run, pipeline.Selection{Only: "push"}); err != nil {
		t.Fatal(err)
	}
	if w := v.pushed(); len(w) != 1 {
		t.Errorf("push alone wrote %d times, want once, without waiting", len(w))
	}
}

// A stage that ends without settling its verdict had nothing to decide
// (nothing to upload), or failed for another reason than a credential:
// the stages awaiting it go on.
func TestAVerdictIsGoWhenItsStageEndsWithoutSettlingIt(t *testing.T) {
	for _, outcome := range []error{nil, errors.New("index.registry.example: connection refused")} {
		publishEnded := make(chan struct{})
		var wroteAfter []bool
		e := graphOf(
			stage("preflight", nil),
			stage("push", func(ctx context.Context, r *pipeline.Run) error {
				if err := r.Await(ctx, registryTakes); err != nil {
					return err
				}
				wroteAfter = append(wroteAfter, isClosed(publishEnded))
				return nil
			}, "preflight"),
			stage("publish", func(context.Context, *pipeline.Run) error {
				defer close(publishEnded)
				return outcome
			}, "preflight"),
		)
		r := newRun(t, testEmbargo(), e, nil)
		err := e.Execute(context.Background(), r.Run, pipeline.Selection{})
		if (err == nil) != (outcome == nil) {
			t.Errorf("publish %v: the run ended with %v", outcome, err)
		}
		if len(wroteAfter) != 1 || !wroteAfter[0] {
			t.Errorf("publish %v: push wrote %v, want once, after publish ended", outcome, wroteAfter)
		}
	}
}

// Lines publish in parallel: the first answer settles the verdict, and a
// later one changes nothing.
func TestTheFirstSettlingOfAVerdictCounts(t *testing.T) {
	var firsts []bool
	var pushErr error
	e := graphOf(
		stage("preflight", nil),
		stage("publish", func(_ context.Context, r *pipeline.Run) error {
			firsts = append(firsts, r.Settle(registryTakes, nil), r.Settle(registryTakes, &pipeline.Refusal{Err: errors.New("403 authentication failed")}))
			return nil
		}, "preflight"),
		stage("push", func(ctx context.Context, r *pipeline.Run) error {
			pushErr = r.Await(ctx, registryTakes)
			return nil
		}, "publish"),
	)
	r := newRun(t, testEmbargo(), e, nil)
	if err := e.Execute(context.Background(), r.Run, pipeline.Selection{}); err != nil {
		t.Fatal(err)
	}
	if len(firsts) != 2 || !firsts[0] || firsts[1] {
		t.Errorf("Settle reported %v, want the first to count and the second not", firsts)
	}
	if pushErr != nil {
		t.Errorf("push awaited %v, want go: the first answer was", pushErr)
	}
}

// The operator stops the run while push waits for the registry's answer:
// push ends interrupted, having written nothing.
func TestAnInterruptEndsTheWaitForAVerdict(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	awaiting := make(chan struct{})
	wrote := false
	e := graphOf(
		stage("preflight", nil),
		stage("push", func(ctx context.Context, r *pipeline.Run) error {
			if err := r.Await(ctx, registryTakes); err != nil {
				return err
			}
			wrote = true
			return nil
		}, "preflight"),
		stage("publish", func(ctx context.Context, r *pipeline.Run) error {
			close(awaiting)
			<-ctx.Done() // the first upload never answers
			return ctx.Err()
		}, "preflight"),
	)
	r := newRun(t, testEmbargo(), e, nil)
	go func() { <-awaiting; cancel() }()
	err := e.Execute(ctx, r.Run, pipeline.Selection{})
	var se *pipeline.StageError
	if !errors.As(err, &se) || !se.Interrupted || wrote {
		t.Errorf("got %v (wrote %v), want the run interrupted with nothing written", err, wrote)
	}
}
