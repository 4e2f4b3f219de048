package retry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

var doNow = time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)

// stepClock fires every wait at once, moving its time by the wait: a loop
// on it runs through in no time, its waits recorded.
type stepClock struct {
	now   time.Time
	waits []time.Duration
}

func (c *stepClock) Now() time.Time { return c.now }
func (c *stepClock) After(d time.Duration) <-chan time.Time {
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// tries fails with fails in turn, then succeeds, and records when on clock
// each try was made.
func tries(clock Clock, fails ...error) (func(int) error, *[]time.Time) {
	var at []time.Time
	return func(attempt int) error {
		at = append(at, clock.Now())
		if attempt <= len(fails) {
			return fails[attempt-1]
		}
		return nil
	}, &at
}

func offsets(at []time.Time) []time.Duration {
	var out []time.Duration
	for _, t := range at {
		out = append(out, t.Sub(doNow))
	}
	return out
}

func same(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A failure that may pass is tried again after the policy's wait, on the
// clock given, and a registry's Retry-After is waited instead.
func TestDoWaitsOnTheClockAndSucceeds(t *testing.T) {
	clock := &stepClock{now: doNow}
	reset := Transient(errors.New("connection reset"))
	busy := &StatusError{Code: 429, Status: "429 Too Many Requests", At: doNow.Add(time.Minute)}
	try, at := tries(clock, reset, reset, busy)
	p := Policy{Attempts: 5, First: time.Second, Max: 30 * time.Second}
	if err := Do(context.Background(), clock, p, try); err != nil {
		t.Fatalf("Do: %v", err)
	}
	// Tries at 0, 1s, 3s, then at the minute the registry asked for.
	if want := []time.Duration{0, time.Second, 3 * time.Second, time.Minute}; !same(offsets(*at), want) {
		t.Errorf("tries at %v, want %v", offsets(*at), want)
	}
}

// A final failure is the answer at once; a policy that ran out says so,
// the last failure in it.
func TestDoStopsAtAFinalFailureAndWhenThePolicyEnds(t *testing.T) {
	clock := &stepClock{now: doNow}
	refused := Permanent(&StatusError{Code: 403, Status: "403 Forbidden"})
	try, at := tries(clock, refused)
	err := Do(context.Background(), clock, Policy{Attempts: 5, First: time.Second}, try)
	if err == nil || err.Error() != "403 Forbidden" || len(*at) != 1 || len(clock.waits) != 0 {
		t.Errorf("a refusal: %v after %d tries and waits %v; want it at once", err, len(*at), clock.waits)
	}
	unclassified := errors.New("bad config.json")
	try, at = tries(clock, unclassified)
	if err := Do(context.Background(), clock, Policy{Attempts: 5}, try); err != unclassified || len(*at) != 1 {
		t.Errorf("an unclassified failure: %v after %d tries; want it as the answer", err, len(*at))
	}

	reset := Transient(errors.New("connection reset"))
	try, at = tries(clock, reset, reset, reset, reset)
	err = Do(context.Background(), clock, Policy{Attempts: 3, First: time.Second}, try)
	var ex *Exhausted
	if !errors.As(err, &ex) || ex.Attempts != 3 || !errors.Is(err, reset) || len(*at) != 3 {
		t.Errorf("three failures with three attempts: %v after %d tries; want Exhausted after 3", err, len(*at))
	}
}

// A poll looks until its deadline: the wait that would pass it is cut
// short for one last look at the deadline itself. A retry without that
// gives up at once, naming when the next try would have been.
func TestDoLooksOnceMoreAtTheDeadlineOnlyWhenAsked(t *testing.T) {
	reset := Transient(errors.New("404 Not Found"))
	fails := []error{reset, reset, reset, reset, reset}
	p := Policy{First: time.Second, Deadline: doNow.Add(2500 * time.Millisecond), LastAtDeadline: true}

	clock := &stepClock{now: doNow}
	try, at := tries(clock, fails...)
	err := Do(context.Background(), clock, p, try)
	var ex *Exhausted
	if want := []time.Duration{0, time.Second, 2500 * time.Millisecond}; !errors.As(err, &ex) || !same(offsets(*at), want) {
		t.Errorf("polling: %v, tries at %v; want Exhausted after tries at %v", err, offsets(*at), want)
	}

	p.LastAtDeadline = false
	clock = &stepClock{now: doNow}
	try, at = tries(clock, fails...)
	err = Do(context.Background(), clock, p, try)
	if want := []time.Duration{0, time.Second}; !errors.As(err, &ex) || !ex.At.Equal(doNow.Add(3*time.Second)) || !same(offsets(*at), want) {
		t.Errorf("retrying: %v, tries at %v; want Exhausted naming 3s after tries at %v", err, offsets(*at), want)
	}

	// Past the deadline already: one look, and no wait.
	clock = &stepClock{now: doNow.Add(time.Hour)}
	p.LastAtDeadline = true
	try, at = tries(clock, fails...)
	if err := Do(context.Background(), clock, p, try); !errors.As(err, &ex) || len(*at) != 1 || len(clock.waits) != 0 {
		t.Errorf("past the deadline: %v after %d tries, waits %v; want one look", err, len(*at), clock.waits)
	}
}

// The loop waits on the gate's clock, not this machine's: it stays
// blocked until the clock moves the whole wait, and ends with the caller.
func TestDoWaitsForTheGatesClockAndEndsWithTheContext(t *testing.T) {
	clock := pipeline.NewFakeClock(doNow)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := make(chan int, 10)
	done := make(chan error, 1)
	go func() {
		done <- Do(ctx, clock, Policy{First: time.Minute}, func(attempt int) error {
			n <- attempt
			return Transient(errors.New("503 Service Unavailable"))
		})
	}()
	<-n
	blocked(t, clock)
	clock.Advance(time.Minute - time.Second)
	select {
	case a := <-n:
		t.Fatalf("try %d before the minute passed on the gate's clock", a)
	case err := <-done:
		t.Fatalf("Do returned %v during its wait", err)
	default:
	}
	clock.Advance(time.Second)
	if a := <-n; a != 2 {
		t.Fatalf("try %d after the minute, want 2", a)
	}
	blocked(t, clock)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Do after the caller gave up: %v, want context.Canceled", err)
	}
	select {
	case a := <-n:
		t.Errorf("try %d after the caller gave up", a)
	default:
	}
}

// blocked returns once something waits on clock.
func blocked(t *testing.T, clock *pipeline.FakeClock) {
	t.Helper()
	if err := clock.AwaitWaiter(nil, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// Jitter spreads a backoff wait over up to its fraction more, never past
// the cap; what a server asks for is waited as asked, up to MaxAsked.
func TestJitterAndTheCapOnAskedWaits(t *testing.T) {
	p := Policy{First: 100 * time.Millisecond, Max: 450 * time.Millisecond, Jitter: 0.25, MaxAsked: time.Second}
	spread := map[time.Duration]bool{}
	for range 200 {
		d, _ := p.Next(doNow, 1, errors.New("reset"))
		if d < 100*time.Millisecond || d > 125*time.Millisecond {
			t.Fatalf("first wait %v outside [100ms, 125ms]", d)
		}
		spread[d] = true
		if d, _ := p.Next(doNow, 3, errors.New("reset")); d < 400*time.Millisecond || d > 450*time.Millisecond {
			t.Fatalf("third wait %v outside [400ms, the cap 450ms]", d)
		}
	}
	if len(spread) < 2 {
		t.Errorf("200 first waits all %v: no jitter", spread)
	}
	asks := &StatusError{Code: 429, At: doNow.Add(300 * time.Millisecond)}
	if d, _ := p.Next(doNow, 1, asks); d != 300*time.Millisecond {
		t.Errorf("asked for 300ms, waits %v", d)
	}
	asks.At = doNow.Add(time.Hour)
	if d, _ := p.Next(doNow, 1, asks); d != time.Second {
		t.Errorf("asked for an hour, waits %v; want MaxAsked", d)
	}
}
