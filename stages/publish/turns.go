package publish

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// uploadTurns orders the uploads once the registry has rate-limited one.
// Until then every upload starts as soon as its line is ready: at T0 all
// lines at once, the fastest release there is, and nothing here waits.
// After a 429 the uploads go one at a time, none before the instant the
// registry named, the earliest line of the config first and inside a line
// in publish order: whole lines become complete one after the other,
// instead of every line waiting on its last crates. (crates.io lets a burst
// of new versions through, then one a minute.)
type uploadTurns struct {
	clock   pipeline.Clock // the gate's; this machine's when nil
	mu      sync.Mutex
	limited bool
	until   time.Time // on clock: no upload starts before
	busy    bool      // an upload holds the turn
	waiting []turn
	changed chan struct{} // closed and replaced whenever the above change
}

// turn is an upload's place: its line's index in the config, then its
// place in the line's publish order.
type turn struct{ line, crate int }

func (a turn) before(b turn) bool {
	return a.line < b.line || (a.line == b.line && a.crate < b.crate)
}

// acquire waits for t's turn when the registry has limited the uploads,
// and returns at once otherwise. release ends the turn once the registry
// has answered the upload.
func (u *uploadTurns) acquire(ctx context.Context, t turn) (release func(), err error) {
	u.mu.Lock()
	if !u.limited {
		u.mu.Unlock()
		return func() {}, nil
	}
	u.waiting = append(u.waiting, t)
	sort.Slice(u.waiting, func(i, j int) bool { return u.waiting[i].before(u.waiting[j]) })
	u.mu.Unlock()
	for {
		u.mu.Lock()
		wait := u.until.Sub(u.now())
		if !u.busy && u.waiting[0] == t && wait <= 0 {
			u.busy = true
			u.waiting = u.waiting[1:]
			u.signalLocked()
			u.mu.Unlock()
			return u.release, nil
		}
		ch := u.changedLocked()
		u.mu.Unlock()
		// Until the instant named, the clock wakes the turn; after it,
		// every change of the turns is signalled on ch.
		var due <-chan time.Time
		if wait > 0 {
			due = u.after(wait)
		}
		select {
		case <-ch:
		case <-due:
		case <-ctx.Done():
			u.mu.Lock()
			for i, w := range u.waiting {
				if w == t {
					u.waiting = append(u.waiting[:i], u.waiting[i+1:]...)
					break
				}
			}
			u.signalLocked()
			u.mu.Unlock()
			return func() {}, ctx.Err()
		}
	}
}

func (u *uploadTurns) now() time.Time {
	if u.clock == nil {
		return time.Now()
	}
	return u.clock.Now()
}

func (u *uploadTurns) after(d time.Duration) <-chan time.Time {
	if u.clock == nil {
		return time.After(d)
	}
	return u.clock.After(d)
}

func (u *uploadTurns) release() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.busy = false
	u.signalLocked()
}

// limit records that the registry refused an upload until the instant
// given: from now on the uploads take turns.
func (u *uploadTurns) limit(until time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.limited = true
	if until.After(u.until) {
		u.until = until
	}
	u.signalLocked()
}

func (u *uploadTurns) changedLocked() chan struct{} {
	if u.changed == nil {
		u.changed = make(chan struct{})
	}
	return u.changed
}

func (u *uploadTurns) signalLocked() {
	if u.changed != nil {
		close(u.changed)
		u.changed = nil
	}
}
