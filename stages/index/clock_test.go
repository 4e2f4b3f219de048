package index_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/index"
)

// blockedOn returns once something waits on clock, or fails when done
// (the call under test) ended first.
func blockedOn(t *testing.T, clock *pipeline.FakeClock, done <-chan error) {
	t.Helper()
	if err := clock.AwaitWaiter(done, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// notYet fails if the call under test ended, asked again, or no longer
// waits on clock: a wait that ended too soon is caught as it ends, not
// only once the request it lets through has been made.
func notYet(t *testing.T, clock *pipeline.FakeClock, done <-chan error, n *atomic.Int32, want int32) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("returned (%v) before the wait was over on the clock", err)
	default:
	}
	if n.Load() != want {
		t.Fatalf("%d requests before the wait was over, want %d", n.Load(), want)
	}
	if clock.Waiters() == 0 {
		t.Fatal("the wait ended before it was over on the clock")
	}
}

// ended is what the call under test returned.
func ended(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("the call under test did not return")
		return nil
	}
}

// The registry's Retry-After is waited out on the clock the client is
// given (a release's is the gate's), not on this machine's: the request is
// asked again only once that clock has moved the whole two minutes.
func TestRetryAfterIsWaitedOnTheClientsClock(t *testing.T) {
	srv, n := server(t, status(http.StatusTooManyRequests, "Retry-After", "120"), body(line))
	clock := pipeline.NewFakeClock(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC))
	c := newClient(t, srv.URL, index.Options{RetryWaitMax: 5 * time.Minute, Clock: clock})
	done := make(chan error, 1)
	var found bool
	go func() {
		var err error
		_, found, err = c.Lookup(context.Background(), "abcd", "1.0.0")
		done <- err
	}()
	blockedOn(t, clock, done)
	clock.Advance(119 * time.Second)
	notYet(t, clock, done, n, 1)
	clock.Advance(time.Second)
	if err := <-done; err != nil || !found {
		t.Fatalf("Lookup after the 429's two minutes: found %v, err %v", found, err)
	}
	if n.Load() != 2 {
		t.Fatalf("%d requests, want 2", n.Load())
	}
}

// A download that meets a 404 (a CDN behind the index) asks again after
// the download policy's first wait, half a second on the client's clock,
// and names the attempts once they run out.
func TestDownloadAsksAgainAfterA404OnTheClientsClock(t *testing.T) {
	srv, n := server(t, status(http.StatusNotFound), body("crate bytes"))
	clock := pipeline.NewFakeClock(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC))
	c := newClient(t, srv.URL, index.Options{Clock: clock})
	var got bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- c.Download(context.Background(), srv.URL+"/dl/abcd", &got) }()
	blockedOn(t, clock, done)
	clock.Advance(499 * time.Millisecond)
	notYet(t, clock, done, n, 1)
	clock.Advance(125 * time.Millisecond) // the wait with its jitter
	if err := <-done; err != nil || got.String() != "crate bytes" {
		t.Fatalf("Download after a 404: %q, %v", got.String(), err)
	}

	srv, _ = server(t, status(http.StatusNotFound))
	opts := index.Options{RetryMax: 2, Clock: clock}
	c = newClient(t, srv.URL, opts)
	go func() { done <- c.Download(context.Background(), srv.URL+"/dl/abcd", &got) }()
	for range 2 {
		blockedOn(t, clock, done)
		clock.Advance(time.Minute)
	}
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts: last answer 404 Not Found") || !strings.Contains(err.Error(), srv.URL+"/dl/abcd") {
		t.Fatalf("Download of a 404 throughout: %v, want the URL and the attempts named", err)
	}
}
