package github

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// A PATCH GitHub answers 503, then 429 asking for a minute, is sent again,
// whole, after the backoff and then after the minute on the client's clock;
// a 5xx to the end is GitHub's answer, its words in the error.
func TestRequestsAreTriedAgainOnTheClientsClock(t *testing.T) {
	start := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	clock := pipeline.NewFakeClock(start)
	var mu sync.Mutex
	var at []time.Duration
	var bodies []string
	answers := []func(w http.ResponseWriter){
		func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) },
		func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusTooManyRequests)
		},
		func(w http.ResponseWriter) { io.WriteString(w, `{"ghsa_id":"`+id+`","state":"published"}`) },
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		n := len(at)
		at, bodies = append(at, clock.Now().Sub(start)), append(bodies, string(b))
		mu.Unlock()
		answers[min(n, len(answers)-1)](w)
	}))
	defer srv.Close()
	stop := clock.Drive(250 * time.Millisecond)
	c := New(srv.URL, Options{Token: token, Clock: clock})
	a, err := c.Update(t.Context(), repo, id, Update{State: "published"})
	stop()
	if err != nil || a.State != "published" {
		t.Fatalf("Update through a 503 and a 429: %+v, %v", a, err)
	}
	mu.Lock()
	if want := []time.Duration{0, 250 * time.Millisecond, 250*time.Millisecond + time.Minute}; len(at) != 3 || at[0] != want[0] || at[1] != want[1] || at[2] != want[2] {
		t.Errorf("asked at %v on the client's clock, want %v: the backoff, then the minute asked", at, want)
	}
	for _, b := range bodies {
		if b != `{"state":"published"}` {
			t.Errorf("a try sent %q, want the whole update each time", b)
		}
	}
	mu.Unlock()

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, `{"message":"Server Error"}`)
	}))
	defer failing.Close()
	stop = clock.Drive(time.Second)
	_, err = New(failing.URL, Options{Token: token, RetryMax: 2, Clock: clock}).Advisory(t.Context(), repo, id)
	stop()
	if StatusOf(err) != http.StatusBadGateway || !strings.Contains(err.Error(), "Server Error") {
		t.Errorf("a 502 throughout: %v, want GitHub's 502 and its message", err)
	}
}
