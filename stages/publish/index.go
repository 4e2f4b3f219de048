package publish

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/index"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/retry"
)

// What the publish stage reads of the index: the first look at each
// version read before T0, the views cargo resolves through, and the wait
// for a version to show with its sealed checksum.

// cutOff is true when an earlier attempt of the step was cut off by a
// kill or a crash (the journal's history says so).
func cutOff(j *pipeline.Journal, step string) bool {
	for _, st := range j.Steps(release.Publish) {
		if st.Name != step {
			continue
		}
		for _, a := range st.Attempts[:max(len(st.Attempts)-1, 0)] {
			if a.State == pipeline.StateFailed && a.Ended == nil {
				return true
			}
		}
	}
	return false
}

// momentRecorded is true when some attempt of the publish step recorded the
// moment key.
func momentRecorded(j *pipeline.Journal, step, key string) bool {
	for _, st := range j.Steps(release.Publish) {
		if st.Name == step && st.FirstAt(key) != "" {
			return true
		}
	}
	return false
}

// showsWithin polls the index for a version for at most d on clock.
func showsWithin(ctx context.Context, clock pipeline.Clock, idx release.RegistryIndex, name, version string, d time.Duration) (index.Entry, bool, error) {
	deadline := clock.Now().Add(d)
	for {
		e, found, err := idx.Lookup(ctx, name, version)
		if err != nil || found || clock.Now().After(deadline) {
			return e, found, err
		}
		if err := retry.Sleep(ctx, clock, pollFast); err != nil {
			return index.Entry{}, false, err
		}
	}
}

// indexViews are the index.Views cargo resolves dependencies through, one
// a line, started with the stage: the files cargo reads are the ones this
// stage has just polled, so cargo's reads before each upload cost loopback
// round trips instead of registry ones. A line has its own View so that
// what it holds for its cargo (index.View.Hold) never delays another
// line's, which reads the same crates' files for other versions.
type indexViews struct {
	idx    release.RegistryIndex
	ready  chan struct{}
	ok     bool // the index may be served by a View
	mu     sync.Mutex
	served []*index.View
}

func startViews(ctx context.Context, idx release.RegistryIndex) *indexViews {
	iv := &indexViews{idx: idx, ready: make(chan struct{})}
	go func() {
		defer close(iv.ready)
		// config.json says whether the registry wants a token to be
		// read: a view of it then serves only cargo, which holds its
		// own token (see index.Client.Serve).
		if _, err := idx.Config(ctx); err != nil {
			return
		}
		iv.ok = true
	}()
	return iv
}

// open starts a View for one line, or returns nil to read the registry
// directly.
func (iv *indexViews) open(ctx context.Context) *index.View {
	select {
	case <-iv.ready:
	case <-ctx.Done():
		return nil
	}
	if !iv.ok {
		return nil
	}
	v, err := iv.idx.Serve()
	if err != nil {
		return nil
	}
	iv.mu.Lock()
	defer iv.mu.Unlock()
	iv.served = append(iv.served, v)
	return v
}

func (iv *indexViews) close() {
	<-iv.ready
	iv.mu.Lock()
	defer iv.mu.Unlock()
	for _, v := range iv.served {
		v.Close()
	}
}

// lookup is an observation of the index running in the background.
type lookup struct {
	done  chan struct{}
	e     index.Entry
	found bool
	err   error
	at    time.Time // when the index answered, on the gate's clock
}

func startLookup(ctx context.Context, clock pipeline.Clock, idx release.RegistryIndex, name, version string) *lookup {
	l := &lookup{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.e, l.found, l.err = idx.Lookup(ctx, name, version)
		l.at = clock.Now()
	}()
	return l
}

func (l *lookup) wait(ctx context.Context) (index.Entry, bool, error) {
	select {
	case <-ctx.Done():
		return index.Entry{}, false, ctx.Err()
	case <-l.done:
		return l.e, l.found, l.err
	}
}

// retryPlan says how long to wait before trying an upload again that the
// registry refused with a retryable status, or why not to. A rate limit is
// waited out as often as the registry asks, as long as the next try comes
// before horizon (the end of the window): crates.io lets a burst of new
// versions through, then one a minute, so a release of many crates is slowed
// by it, never failed. A server error is retried publishRetries times. The
// upload is never sent again blindly: each try looks at the index first
// (publishCrate), since an upload that failed may have landed all the same.
func retryPlan(now, horizon time.Time, pe *cargo.PublishError, attempt int) (time.Duration, error) {
	p := retry.Policy{First: 500 * time.Millisecond, Max: 30 * time.Second, Deadline: horizon}
	if pe.Status != http.StatusTooManyRequests {
		p.Attempts = publishRetries
	}
	wait, err := p.Next(now, attempt, pe)
	var ex *retry.Exhausted
	switch {
	case errors.As(err, &ex) && !ex.At.IsZero():
		return 0, pipeline.RerunFrom(release.Publish, fmt.Errorf("the registry answered %d and asks to wait until %s, beyond %s, the latest this run waits (the end of the window, or %s after a late start): re-run then: %w",
			pe.Status, ex.At.UTC().Format(time.RFC3339), horizon.UTC().Format(time.RFC3339), lateRunGrace, pe))
	case err != nil:
		return 0, fmt.Errorf("the registry answered %d to %d attempts: %w", pe.Status, attempt, pe)
	}
	return wait, nil
}

// waitVisible polls the index, on the gate's clock, until it shows the
// version, and checks it shows the sealed checksum.
func waitVisible(ctx context.Context, r *release.Run, idx release.RegistryIndex, name, version, sum string, res *release.CratePublished) error {
	began := r.Now()
	deadline := began.Add(visibleWithin)
	wait := pollFast
	for {
		asked := r.Now()
		e, found, err := idx.Lookup(ctx, name, version)
		if err != nil {
			return err
		}
		if found {
			if e.Cksum != sum {
				return fmt.Errorf("%s@%s is in the index with sha256 %s, not the sealed %s", name, version, e.Cksum, sum)
			}
			res.VisibleAt = r.Now().UTC()
			res.Text = "published; the index shows the sealed checksum"
			return nil
		}
		if r.Now().After(deadline) {
			return pipeline.RerunFrom(release.Publish, fmt.Errorf("%s@%s was uploaded but the index does not show it after %s; a re-run checks again", name, version, visibleWithin))
		}
		if r.Now().Sub(began) > fastPollFor {
			wait = min(wait*2, 2*time.Second)
		}
		// wait is from one question to the next: a slow answer is
		// not followed by a full pause.
		if err := retry.Sleep(ctx, r.Gate.Clock, wait-r.Now().Sub(asked)); err != nil {
			return err
		}
	}
}
