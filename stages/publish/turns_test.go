package publish

import (
	"context"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// After a 429 no upload starts before the instant the registry named, as
// the gate's clock tells it: the turn is waited out on that clock, and
// taken as soon as it gets there.
func TestA429sTurnIsWaitedOutOnTheGatesClock(t *testing.T) {
	t.Parallel()
	clock := pipeline.NewFakeClock(time.Date(2026, 12, 1, 14, 0, 30, 0, time.UTC))
	u := &uploadTurns{clock: clock}
	u.limit(clock.Now().Add(time.Minute))

	got := make(chan error, 1)
	go func() {
		release, err := u.acquire(context.Background(), turn{0, 0})
		if err == nil {
			release()
		}
		got <- err
	}()
	waitsOn(t, clock, got)
	clock.Advance(time.Minute - time.Millisecond)
	select {
	case err := <-got:
		t.Fatalf("the upload started (%v) a millisecond before the registry's instant", err)
	default:
	}
	clock.Advance(time.Millisecond)
	if err := <-got; err != nil {
		t.Fatalf("the turn at the registry's instant: %v", err)
	}

	// Once there, a turn is taken at once; a later 429 names a later
	// instant, waited out in turn, and an interrupted wait gives up.
	release, err := u.acquire(context.Background(), turn{0, 1})
	if err != nil {
		t.Fatalf("a turn after the instant: %v", err)
	}
	release()
	u.limit(clock.Now().Add(30 * time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, err := u.acquire(ctx, turn{1, 0})
		got <- err
	}()
	waitsOn(t, clock, got)
	cancel()
	if err := <-got; err != context.Canceled {
		t.Fatalf("an interrupted wait for the turn: %v, want context.Canceled", err)
	}
}

// waitsOn returns once something waits on clock, and fails if the
// acquire under test returned instead.
func waitsOn(t *testing.T, clock *pipeline.FakeClock, got <-chan error) {
	t.Helper()
	if err := clock.AwaitWaiter(got, 5*time.Second); err != nil {
		t.Fatalf("the upload did not wait for the registry's instant on the gate's clock: %v", err)
	}
}
