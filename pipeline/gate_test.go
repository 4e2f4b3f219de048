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

var testT0 = time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)

func TestGateRefusesPublicWriteBeforeT0(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0.Add(-90 * time.Second))
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock}
	err := g.Allow("push the patched branches to the public repository")
	var early *pipeline.EarlyError
	if !errors.As(err, &early) {
		t.Fatalf("Allow 90s before T0 = %v, want *EarlyError", err)
	}
	if early.Remaining != 90*time.Second {
		t.Errorf("remaining = %v, want 1m30s", early.Remaining)
	}
	msg := err.Error()
	for _, s := range []string{"push the patched branches to the public repository", "nothing was made public", "2026-12-01T14:00:00Z"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message %q does not say %q", msg, s)
		}
	}

	// One nanosecond early is still early.
	clock.Set(testT0.Add(-time.Nanosecond))
	if err := g.Allow("publish async-std 1.13.1"); !errors.As(err, &early) {
		t.Errorf("Allow 1ns before T0 = %v, want *EarlyError", err)
	}
}

func TestGateAllowsPublicWriteAtAndAfterT0(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0)
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock}
	if err := g.Allow("push"); err != nil {
		t.Errorf("Allow at T0 = %v, want nil", err)
	}
	clock.Advance(7 * time.Hour) // even past the window: late is better than never
	if err := g.Allow("push"); err != nil {
		t.Errorf("Allow after the window = %v, want nil", err)
	}
	if !g.Deadline().Equal(testT0.Add(6 * time.Hour)) {
		t.Errorf("deadline = %v, want T0 + window", g.Deadline())
	}
}

// waiting runs Gate.Wait in a goroutine and lets the test watch it.
type waiting struct {
	clock *pipeline.FakeClock
	done  chan struct{}
	late  time.Duration
	err   error

	mu    sync.Mutex
	ticks []time.Duration
}

func startWait(ctx context.Context, g *pipeline.Gate, clock *pipeline.FakeClock, interval time.Duration) *waiting {
	w := &waiting{clock: clock, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.late, w.err = g.Wait(ctx, interval, func(remaining time.Duration) {
			w.mu.Lock()
			w.ticks = append(w.ticks, remaining)
			w.mu.Unlock()
		})
	}()
	return w
}

// settle returns once Wait is either blocked on the clock or finished, and
// says whether it finished.
func (w *waiting) settle(t *testing.T) (finished bool) {
	t.Helper()
	guard := time.NewTimer(5 * time.Second) // a hang guard, not a timing assertion
	defer guard.Stop()
	for {
		select {
		case <-w.done:
			return true
		default:
		}
		n, changed := w.clock.Waiting()
		if n > 0 {
			return false
		}
		select {
		case <-w.done:
			return true
		case <-changed:
		case <-guard.C:
			t.Fatal("Wait neither blocked on the clock nor returned")
		}
	}
}

func (w *waiting) tickList() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.ticks...)
}

// In a CI log the countdown is a line a whole minute, and one more in the
// last seconds.
func TestGateWaitReturnsExactlyAtT0WithWholeMinuteCountdown(t *testing.T) {
	start := testT0.Add(-(3*time.Minute + 20*time.Second))
	clock := pipeline.NewFakeClock(start)
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock}
	w := startWait(context.Background(), g, clock, time.Minute)

	for clock.Now().Before(testT0) {
		if w.settle(t) {
			t.Fatalf("Wait returned at %v, %v before T0", clock.Now(), testT0.Sub(clock.Now()))
		}
		clock.Advance(10 * time.Second)
	}
	if !w.settle(t) {
		t.Fatal("Wait still blocked at T0")
	}
	if w.err != nil || w.late != 0 {
		t.Errorf("Wait = (%v, %v), want (0, nil) when woken at T0", w.late, w.err)
	}
	want := []time.Duration{3*time.Minute + 20*time.Second, 3 * time.Minute, 2 * time.Minute, time.Minute, pipeline.LastTick}
	got := w.tickList()
	if len(got) != len(want) {
		t.Fatalf("ticks = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ticks = %v, want %v (a line per whole minute, one at T-10s)", got, want)
			break
		}
	}
}

func TestGateWaitWokenLateReportsHowLate(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0.Add(-30 * time.Second))
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock}
	w := startWait(context.Background(), g, clock, time.Minute)
	if w.settle(t) {
		t.Fatal("Wait returned 30s before T0")
	}
	clock.Advance(45 * time.Second) // the runner was suspended past T0
	if !w.settle(t) {
		t.Fatal("Wait still blocked after T0")
	}
	if w.err != nil || w.late != 15*time.Second {
		t.Errorf("Wait = (%v, %v), want (15s, nil)", w.late, w.err)
	}
}

func TestGateWaitStartedAfterT0ProceedsAtOnceAndSaysHowLate(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0.Add(42 * time.Second))
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock}
	ticked := false
	late, err := g.Wait(context.Background(), time.Minute, func(time.Duration) { ticked = true })
	if err != nil || late != 42*time.Second {
		t.Errorf("Wait = (%v, %v), want (42s, nil)", late, err)
	}
	if ticked {
		t.Error("a countdown was shown after T0")
	}
	if n := clock.Waiters(); n != 0 {
		t.Errorf("%d timer(s) left on the clock", n)
	}
}

func TestGateWaitStopsWhenCancelled(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0.Add(-10 * time.Minute))
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock}
	ctx, cancel := context.WithCancel(context.Background())
	w := startWait(ctx, g, clock, time.Minute)
	if w.settle(t) {
		t.Fatal("Wait returned 10 minutes before T0")
	}
	cancel()
	<-w.done
	if !errors.Is(w.err, context.Canceled) {
		t.Errorf("Wait after cancel = (%v, %v), want context.Canceled", w.late, w.err)
	}
	if !clock.Now().Before(testT0) {
		t.Error("test clock moved")
	}
	if err := g.Allow("push"); err == nil {
		t.Error("a cancelled wait opened the gate")
	}
}

func TestGateWaitStartedJustBeforeT0HoldsUntilT0(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0.Add(-500 * time.Millisecond))
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock}
	w := startWait(context.Background(), g, clock, time.Minute)
	if w.settle(t) {
		t.Fatal("Wait returned half a second before T0")
	}
	clock.Advance(499 * time.Millisecond)
	if w.settle(t) {
		t.Fatal("Wait returned a millisecond before T0")
	}
	clock.Advance(time.Millisecond)
	if !w.settle(t) {
		t.Fatal("Wait still blocked at T0")
	}
	if w.err != nil || w.late != 0 {
		t.Errorf("Wait = (%v, %v), want (0, nil)", w.late, w.err)
	}
	if err := g.Allow("push"); err != nil {
		t.Errorf("Allow right after Wait = %v", err)
	}
}

// The operator's word that the embargo is over, given where the fix is
// already public, opens the gate before T0: writes are allowed and a wait
// ends at once, and the gate says why it opened.
func TestGateOpenedEarlyOnTheOperatorsWordAllowsWritesAtOnce(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0.Add(-30 * time.Minute))
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock}
	if err := g.Allow("publish demo@1.13.1"); err == nil {
		t.Fatal("allowed 30 minutes before T0")
	}
	g.OpenNow("the fix is already on the registry: demo-core@1.13.1")
	if err := g.Allow("publish demo@1.13.1"); err != nil {
		t.Errorf("after OpenNow: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := g.Wait(context.Background(), time.Minute, nil); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return on an opened gate")
	}
	if early, why := g.OpenedEarly(); !early || !strings.Contains(why, "demo-core@1.13.1") {
		t.Errorf("OpenedEarly = %v %q", early, why)
	}
	if g.Deadline() != testT0.Add(6*time.Hour) {
		t.Errorf("the deadline moved: %s", g.Deadline())
	}
}

// OpenNow after T0 changes nothing: the gate is open already, and by the
// world's clocks as measured.
func TestGateOpenNowAfterT0ChangesNothing(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0.Add(time.Second))
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock}
	g.OpenNow("late")
	if early, _ := g.OpenedEarly(); early {
		t.Error("an OpenNow after T0 counts as opened early")
	}
}
