package pipeline

import (
	"fmt"
	"sync"
	"time"
)

// Clock is the only source of "now" for gate logic, so tests can move time.
type Clock interface {
	Now() time.Time
	// After fires once d has passed on this clock.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

func (RealClock) Now() time.Time                         { return time.Now() }
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// FakeClock is a manual clock for tests: time moves only by Advance or Set.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	// changed is closed, and replaced, whenever waiters changes: a test
	// waits on it for the code under test to block on the clock, instead
	// of polling.
	changed chan struct{}
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func NewFakeClock(now time.Time) *FakeClock { return &FakeClock{now: now} }

func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	at := c.now.Add(d)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: at, ch: ch})
	c.signalLocked()
	return ch
}

// Advance moves the clock forward and fires every timer that is due.
func (c *FakeClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Set moves the clock to t and fires every timer that is due.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
		} else {
			kept = append(kept, w)
		}
	}
	if len(kept) != len(c.waiters) {
		c.signalLocked()
	}
	c.waiters = kept
}

func (c *FakeClock) signalLocked() {
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
}

// Waiters is how many timers are pending; tests use it to know a goroutine
// is blocked on the clock before advancing it.
func (c *FakeClock) Waiters() int {
	n, _ := c.Waiting()
	return n
}

// Waiting is how many timers are pending, and a channel closed once that
// changes (a timer set or fired): a test waits for the code under test to
// block on the clock on an event, not by polling.
func (c *FakeClock) Waiting() (n int, changed <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return len(c.waiters), c.changed
}

// Drive moves the clock on by step whenever something waits on it, until
// stop is called: a test of code that sleeps on the clock runs its waits
// at once, in order.
func (c *FakeClock) Drive(step time.Duration) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			n, changed := c.Waiting()
			if n > 0 {
				select {
				case <-done:
					return
				default:
				}
				c.Advance(step)
				continue
			}
			select {
			case <-done:
				return
			case <-changed:
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// AwaitWaiter returns once something waits on the clock: nil, or an error
// when ended (the call under test) delivers first, or when nothing waits
// within hang (a guard against a test that hangs, not a timing check).
func (c *FakeClock) AwaitWaiter(ended <-chan error, hang time.Duration) error {
	return c.AwaitWaiters(1, ended, hang)
}

// AwaitWaiters is AwaitWaiter for n things waiting at once.
func (c *FakeClock) AwaitWaiters(n int, ended <-chan error, hang time.Duration) error {
	guard := time.NewTimer(hang)
	defer guard.Stop()
	for {
		waiting, changed := c.Waiting()
		if waiting >= n {
			return nil
		}
		select {
		case err := <-ended:
			return fmt.Errorf("returned (%v) instead of waiting on the clock", err)
		case <-changed:
		case <-guard.C:
			return fmt.Errorf("%d thing(s) wait on the clock, want %d", c.Waiters(), n)
		}
	}
}
