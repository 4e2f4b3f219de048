package publish

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/index"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// crates.io answers a burst of new versions with 429 and a date, then lets
// one version through a minute: a release of many crates waits as long as
// it takes inside the window, and says so when the window would not do.
func TestRateLimitsAreWaitedOutWithinTheWindow(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 24, 16, 0, 0, 0, time.UTC)
	horizon := t0.Add(6 * time.Hour)
	now := t0.Add(10 * time.Minute)

	limited := &cargo.PublishError{Status: 429, RetryAfter: now.Add(time.Minute)}
	for _, attempt := range []int{1, publishRetries, 40} {
		wait, err := retryPlan(now, horizon, limited, attempt)
		if err != nil || wait != time.Minute {
			t.Errorf("429 at attempt %d: wait %s, err %v; want the registry's minute", attempt, wait, err)
		}
	}

	// Without a date, the wait backs off and stays bounded however many
	// attempts were made.
	undated := &cargo.PublishError{Status: 429}
	if w1, _ := retryPlan(now, horizon, undated, 1); w1 != 500*time.Millisecond {
		t.Errorf("first undated wait %s", w1)
	}
	if w, err := retryPlan(now, horizon, undated, 200); err != nil || w != 30*time.Second {
		t.Errorf("undated wait at attempt 200: %s, %v; want 30s", w, err)
	}

	// A date past the window's end is refused, naming both.
	_, err := retryPlan(now, horizon, &cargo.PublishError{Status: 429, RetryAfter: horizon.Add(time.Minute)}, 1)
	if err == nil || !strings.Contains(err.Error(), "2026-11-24T22:01:00Z") || !strings.Contains(err.Error(), "2026-11-24T22:00:00Z") {
		t.Errorf("a retry after the window: %v", err)
	}

	// Server errors are retried a bounded number of times.
	failing := &cargo.PublishError{Status: 503}
	if _, err := retryPlan(now, horizon, failing, publishRetries-1); err != nil {
		t.Errorf("503 at attempt %d: %v", publishRetries-1, err)
	}
	if _, err := retryPlan(now, horizon, failing, publishRetries); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("503 at attempt %d: %v, want a final error", publishRetries, err)
	}
}

// A dependent's cargo started before its dependency is in the index waits
// for it through its line's View; if the dependency never shows, the
// attempt ends (cargo, waiting for it, is stopped with it), naming the
// dependency, and is known to have been shown nothing.
func TestEarlyStartEndsWhenItsDependencyNeverShows(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/config.json":
			io.WriteString(w, `{"dl":"http://dl.invalid","api":"http://api.invalid"}`)
		case "/2/ab":
			io.WriteString(w, `{"name":"ab","vers":"1.0.0","deps":[],"cksum":"`+strings.Repeat("00", 32)+`","features":{},"yanked":false}`+"\n")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	idx, err := index.New("sparse+"+srv.URL+"/", index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, _, err := idx.Lookup(ctx, "ab", "1.0.1"); err != nil {
		t.Fatal(err)
	}
	view, err := idx.Serve()
	if err != nil {
		t.Fatal(err)
	}
	defer view.Close()

	dep := &inFlight{name: "ab", version: "1.0.1", sum: strings.Repeat("11", 32), accepted: make(chan struct{}), done: make(chan struct{})}
	early := startEarly(ctx, view, []*inFlight{dep})
	dep.err = errors.New("ab@1.0.1 was uploaded but the index does not show it")
	close(dep.done)
	select {
	case <-early.ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the attempt went on after the dependency failed")
	}
	if cause := context.Cause(early.ctx); cause == nil || !strings.Contains(cause.Error(), "ab@1.0.1") {
		t.Errorf("the attempt ended with %v, want the dependency named", cause)
	}
	shown, waitedFor := early.end()
	if !shown.IsZero() || len(waitedFor) != 1 || waitedFor[0] != dep {
		t.Errorf("end: shown %s, waited for %v; want nothing shown, the dependency waited for", shown, waitedFor)
	}
}

// What the index shows of a version decides: absent, it is uploaded; there
// with the sealed checksum (uploaded by an earlier attempt, yanked since
// or not), it is left as it is; there with other bytes, the release stops,
// since a published version can never be replaced.
func TestPublishDecidesFromTheIndexAlone(t *testing.T) {
	t.Parallel()
	const sealed = "5e4a1ed"
	for _, c := range []struct {
		e     index.Entry
		found bool
		want  decision
	}{
		{index.Entry{}, false, upload},
		{index.Entry{Cksum: sealed}, true, skip},
		{index.Entry{Cksum: sealed, Yanked: true}, true, skip},
		{index.Entry{Cksum: "0ther"}, true, refuse},
	} {
		if got := decide(c.e, c.found, sealed); got != c.want {
			t.Errorf("decide(%+v, found %v) = %d, want %d", c.e, c.found, got, c.want)
		}
	}
}

// The index is polled for a version on the gate's clock: every pollFast
// until it shows, and for the time given at most.
func TestShowsWithinPollsOnTheGatesClock(t *testing.T) {
	t.Parallel()
	var asked, shows atomic.Int32
	shows.Store(3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/2/ab" && asked.Add(1) >= shows.Load() {
			io.WriteString(w, `{"name":"ab","vers":"1.0.0","deps":[],"cksum":"00","features":{},"yanked":false}`+"\n")
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	start := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	clock := pipeline.NewFakeClock(start)
	releasetest.Advance(t, clock, pollFast)
	idx, err := index.New("sparse+"+srv.URL+"/", index.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := showsWithin(context.Background(), clock, idx, "ab", "1.0.0", time.Minute); err != nil || !found {
		t.Fatalf("showsWithin: found %v, err %v", found, err)
	}
	if waited := clock.Now().Sub(start); waited != 2*pollFast {
		t.Errorf("the gate's clock moved %s for the third look, want two polls of %s", waited, pollFast)
	}

	shows.Store(1 << 30)
	start = clock.Now()
	if _, found, err := showsWithin(context.Background(), clock, idx, "ab", "1.0.0", time.Second); err != nil || found {
		t.Fatalf("showsWithin a version never shown: found %v, err %v", found, err)
	}
	if waited := clock.Now().Sub(start); waited <= time.Second || waited > time.Second+pollFast {
		t.Errorf("gave up after %s on the gate's clock, want just past the second given", waited)
	}
}
