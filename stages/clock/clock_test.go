package clock_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/async-rs/embargo/stages/clock"
)

// server answers with a Date from a clock offset from this machine's,
// stamped after delay (the time a real server takes to answer). A negative
// offset is a clock behind.
func server(t *testing.T, offset, delay time.Duration, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		w.Header().Set("Date", time.Now().Add(offset).UTC().Format(http.TimeFormat))
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// One measurement of servers whose clocks are off by fractions of a second
// past whole ones: the Date headers only say seconds, but the bounds hold
// the true offset to far better than a second, from where the Date ticks
// over; the server without a Date, the one that cannot be reached and the
// one that redirects are each told apart.
func TestMeasureBoundsEachOffsetFromWhereTheDateTicksOver(t *testing.T) {
	behind := server(t, -30*time.Second-370*time.Millisecond, 0, nil)
	ahead := server(t, 30*time.Second+620*time.Millisecond, 0, nil)
	slow := server(t, 180*time.Millisecond, 30*time.Millisecond, nil)
	redirect := server(t, 5*time.Second+250*time.Millisecond, 0, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, behind.URL+"/", http.StatusFound)
	})
	noDate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil // net/http adds none then
	}))
	t.Cleanup(noDate.Close)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	want := map[string]time.Duration{
		"behind":   -30*time.Second - 370*time.Millisecond,
		"ahead":    30*time.Second + 620*time.Millisecond,
		"slow":     180 * time.Millisecond,
		"redirect": 5*time.Second + 250*time.Millisecond,
	}
	targets := []clock.Target{
		{Name: "behind", URL: behind.URL + "/"},
		{Name: "ahead", URL: ahead.URL + "/"},
		{Name: "slow", URL: slow.URL + "/"},
		{Name: "redirect", URL: redirect.URL + "/"},
		{Name: "no date", URL: noDate.URL + "/"},
		{Name: "gone", URL: gone.URL + "/"},
	}
	var (
		mu      sync.Mutex
		reports [][]clock.Result
	)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := clock.New(clock.Options{}).Measure(ctx, targets, clock.Plan{Rounds: 3}, func(rs []clock.Result) {
		mu.Lock()
		reports = append(reports, rs)
		mu.Unlock()
	})

	for i, res := range got {
		if res.Name != targets[i].Name {
			t.Fatalf("result %d is %q, want %q: results follow the targets", i, res.Name, targets[i].Name)
		}
		off, measured := want[res.Name]
		if !measured {
			continue
		}
		if res.Err != nil || res.Inconsistent {
			t.Errorf("%s: %+v", res.Name, res)
			continue
		}
		if res.Low > off || res.High < off {
			t.Errorf("%s: offset %v outside the bounds [%v, %v]", res.Name, off, res.Low, res.High)
		}
		// One Date alone bounds an offset to a second and more.
		if w := res.High - res.Low; w > 250*time.Millisecond {
			t.Errorf("%s: bounds [%v, %v] are %v wide: the tick-over did not narrow them", res.Name, res.Low, res.High, w)
		}
	}
	if r := got[4]; !errors.Is(r.Err, clock.ErrNoDate) || r.Samples != 0 {
		t.Errorf("server without Date: %+v, want ErrNoDate", r)
	}
	if r := got[5]; r.Err == nil || errors.Is(r.Err, clock.ErrNoDate) || r.Samples != 0 {
		t.Errorf("server that cannot be reached: %+v, want its error", r)
	}

	// Every report covers every target: a partial one would leave a
	// target's clock unguarded at the gate.
	if len(reports) == 0 {
		t.Fatal("no report while measuring")
	}
	for _, rs := range reports {
		for i, r := range rs {
			if r.Samples == 0 && r.Err == nil {
				t.Errorf("a report holds %s before it was measured", targets[i].Name)
			}
		}
	}
}

// Plan.Enough ends a target's rounds as soon as it holds: a write after T0
// needs only the proof that T0 has passed on the target's clock too.
func TestMeasureStopsWhenEnough(t *testing.T) {
	srv := server(t, 0, 0, nil)
	var rounds int
	p := clock.New(clock.Options{})
	got := p.Measure(context.Background(), []clock.Target{{Name: "git remote", URL: srv.URL + "/"}},
		clock.Plan{Rounds: 3, Enough: func(clock.Result) bool { rounds++; return true }}, nil)
	if rounds != 1 || got[0].Samples != 6 {
		t.Errorf("Enough asked %d times, %d samples: want the first burst only", rounds, got[0].Samples)
	}
}

// A Prober remembers where it placed the tick-over: the next measurement
// (the gate's, after preflight's) starts from there, and one round then
// does what took several.
func TestMeasureStartsFromWhereTheLastOnePlacedTheTickOver(t *testing.T) {
	srv := server(t, -2*time.Second-430*time.Millisecond, 0, nil)
	targets := []clock.Target{{Name: "registry API", URL: srv.URL + "/"}}
	p := clock.New(clock.Options{})
	p.Measure(context.Background(), targets, clock.Plan{Rounds: 3}, nil)
	got := p.Measure(context.Background(), targets, clock.Plan{Rounds: 1}, nil)[0]
	off := -2*time.Second - 430*time.Millisecond
	if got.Err != nil || got.Low > off || got.High < off {
		t.Fatalf("second measurement %+v does not hold %v", got, off)
	}
	// A first round alone leaves a fifth of a second.
	if w := got.High - got.Low; w > 100*time.Millisecond {
		t.Errorf("one round after a measurement leaves bounds %v wide: the last measurement was not used", w)
	}
}
