package pipeline_test

import (
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// A test learns that the code under test waits on the fake clock, and that
// a wait has ended, from the clock itself: Waiting's channel is closed when
// a timer is set and when one fires, never by a mere look.
func TestFakeClockSaysWhenSomethingWaitsOnIt(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0)
	n, changed := clock.Waiting()
	if n != 0 {
		t.Fatalf("%d waiters on a new clock", n)
	}
	clock.Advance(time.Second) // nothing due: nothing changes
	if ready(changed) {
		t.Fatal("the clock says something changed when nothing waits on it")
	}

	fired := clock.After(time.Minute)
	if !ready(changed) {
		t.Fatal("a timer was set and the clock does not say so")
	}
	n, changed = clock.Waiting()
	if n != 1 {
		t.Fatalf("%d waiters after After, want 1", n)
	}
	clock.Advance(59 * time.Second)
	if ready(changed) {
		t.Fatal("the clock says a timer changed before it was due")
	}
	clock.Advance(time.Second)
	if !ready(changed) || !ready(fired) {
		t.Fatal("the timer fired and the clock does not say so")
	}
	if n := clock.Waiters(); n != 0 {
		t.Errorf("%d waiters once the timer fired, want 0", n)
	}

	// AwaitWaiter returns as soon as a goroutine waits, however late it
	// starts to.
	ended := make(chan error, 1)
	go func() { <-clock.After(time.Hour); ended <- nil }()
	if err := clock.AwaitWaiter(ended, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if err := clock.AwaitWaiter(ended, 10*time.Second); err == nil {
		t.Error("AwaitWaiter says something waits after the only waiter returned")
	}
}

// ready is true when a receive from c would not block.
func ready[T any](c <-chan T) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
