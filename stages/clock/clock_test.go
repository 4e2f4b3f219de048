package clock_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-rs/embargo/stages/clock"
)

// The measurements run in a synctest bubble: its clock moves only when
// every goroutine of the test waits, so a round trip takes exactly the
// time a server is made to take, and the Prober's waits for the next
// tick-over pass without this machine's clock moving. Its servers are
// real net/http servers on an in-memory network (a goroutine waiting on a
// socket would keep the bubble's clock from moving), asked by a real
// transport.

// world is an in-memory network of named hosts.
type world struct {
	mu    sync.Mutex
	hosts map[string]*listener
}

// listener is one host's: its connections are net.Pipe pairs.
type listener struct {
	name  string
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *listener) Close() error { l.once.Do(func() { close(l.done) }); return nil }

func (l *listener) Addr() net.Addr { return hostAddr(l.name) }

type hostAddr string

func (a hostAddr) Network() string { return "pipe" }
func (a hostAddr) String() string  { return string(a) }

// serve makes host answer with a Date from a clock offset from this
// machine's, stamped after delay (the time a real server takes to answer).
// A negative offset is a clock behind.
func (w *world) serve(t *testing.T, host string, offset, delay time.Duration) {
	t.Helper()
	l := &listener{name: host + ":80", conns: make(chan net.Conn), done: make(chan struct{})}
	w.mu.Lock()
	w.hosts[l.name] = l
	w.mu.Unlock()
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		if delay > 0 {
			<-time.After(delay) // on the bubble's clock: no time passes on this machine's
		}
		rw.Header().Set("Date", time.Now().Add(offset).UTC().Format(http.TimeFormat))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

// dial connects to a host that serves; any other refuses, as a closed
// port does.
func (w *world) dial(ctx context.Context, _, addr string) (net.Conn, error) {
	w.mu.Lock()
	l := w.hosts[addr]
	w.mu.Unlock()
	if l == nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// inBubble runs f in a synctest bubble with a world, and a Prober whose
// client reaches it, asking as the Prober's own client does (HEAD, no
// redirect followed).
func inBubble(t *testing.T, f func(t *testing.T, w *world, p *clock.Prober)) {
	synctest.Test(t, func(t *testing.T) {
		w := &world{hosts: map[string]*listener{}}
		tr := &http.Transport{DialContext: w.dial, MaxIdleConnsPerHost: 8}
		t.Cleanup(tr.CloseIdleConnections)
		hc := &http.Client{
			Transport:     tr,
			Timeout:       5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		f(t, w, clock.New(clock.Options{HTTP: hc}))
	})
}

// One measurement of servers whose clocks are off by fractions of a second
// past whole ones: the Date headers only say seconds, but the bounds hold
// the true offset to far better than a second, from where the Date ticks
// over.
func TestMeasureBoundsEachOffsetFromWhereTheDateTicksOver(t *testing.T) {
	inBubble(t, func(t *testing.T, w *world, p *clock.Prober) {
		w.serve(t, "behind", -30*time.Second-370*time.Millisecond, 0)
		w.serve(t, "ahead", 30*time.Second+620*time.Millisecond, 0)
		w.serve(t, "slow", 180*time.Millisecond, 30*time.Millisecond)
		trip := map[string]time.Duration{"slow": 30 * time.Millisecond}
		want := map[string]time.Duration{
			"behind": -30*time.Second - 370*time.Millisecond,
			"ahead":  30*time.Second + 620*time.Millisecond,
			"slow":   180 * time.Millisecond,
		}
		targets := []clock.Target{
			{Name: "behind", URL: "http://behind/"},
			{Name: "ahead", URL: "http://ahead/"},
			{Name: "slow", URL: "http://slow/"},
		}
		var (
			mu      sync.Mutex
			reports [][]clock.Result
		)
		got := p.Measure(t.Context(), targets, clock.Plan{Rounds: 3}, func(rs []clock.Result) {
			mu.Lock()
			reports = append(reports, rs)
			mu.Unlock()
		})

		for i, res := range got {
			if res.Name != targets[i].Name {
				t.Fatalf("result %d is %q, want %q: results follow the targets", i, res.Name, targets[i].Name)
			}
			off := want[res.Name]
			if res.Err != nil || res.Inconsistent {
				t.Errorf("%s: %+v", res.Name, res)
				continue
			}
			if res.Low > off || res.High < off {
				t.Errorf("%s: offset %v outside the bounds [%v, %v]", res.Name, off, res.Low, res.High)
			}
			// One Date alone bounds an offset to a second and more; each
			// round of 6 probes divides that by 5, and the bounds are as
			// wide again as a round trip.
			if w, most := res.High-res.Low, time.Second/(5*5*5)+trip[res.Name]; w > most {
				t.Errorf("%s: bounds [%v, %v] are %v wide, over %v: the tick-over did not narrow them", res.Name, res.Low, res.High, w, most)
			}
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
	})
}

// The Prober's own client, on this machine's network: the server that
// redirects is measured by its own Date, not the one it sends to; the
// server without a Date and the one that cannot be reached are each told
// apart. One burst, no rounds: nothing waits.
func TestMeasureTellsApartARedirectNoDateAndNoAnswer(t *testing.T) {
	realServer := func(offset time.Duration, h http.HandlerFunc) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Date", time.Now().Add(offset).UTC().Format(http.TimeFormat))
			if h != nil {
				h(w, r)
			}
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	behind := realServer(-30*time.Second, nil)
	redirect := realServer(5*time.Second+250*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, behind.URL+"/", http.StatusFound)
	})
	noDate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil // net/http adds none then
	}))
	t.Cleanup(noDate.Close)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	got := clock.New(clock.Options{}).Measure(t.Context(), []clock.Target{
		{Name: "redirect", URL: redirect.URL + "/"},
		{Name: "no date", URL: noDate.URL + "/"},
		{Name: "gone", URL: gone.URL + "/"},
	}, clock.Plan{}, nil)
	if r, off := got[0], 5*time.Second+250*time.Millisecond; r.Err != nil || r.Low > off || r.High < off {
		t.Errorf("server that redirects: %+v, want bounds holding its own offset %v", r, off)
	}
	if r := got[1]; !errors.Is(r.Err, clock.ErrNoDate) || r.Samples != 0 {
		t.Errorf("server without Date: %+v, want ErrNoDate", r)
	}
	if r := got[2]; r.Err == nil || errors.Is(r.Err, clock.ErrNoDate) || r.Samples != 0 {
		t.Errorf("server that cannot be reached: %+v, want its error", r)
	}
}

// Plan.Enough ends a target's rounds as soon as it holds: a write after T0
// needs only the proof that T0 has passed on the target's clock too.
func TestMeasureStopsWhenEnough(t *testing.T) {
	inBubble(t, func(t *testing.T, w *world, p *clock.Prober) {
		w.serve(t, "git", 0, 0)
		var rounds int
		got := p.Measure(t.Context(), []clock.Target{{Name: "git remote", URL: "http://git/"}},
			clock.Plan{Rounds: 3, Enough: func(clock.Result) bool { rounds++; return true }}, nil)
		if rounds != 1 || got[0].Samples != 6 {
			t.Errorf("Enough asked %d times, %d samples: want the first burst only", rounds, got[0].Samples)
		}
	})
}

// A Prober remembers where it placed the tick-over: the next measurement
// (the gate's, after preflight's) starts from there, and one round then
// does what took several.
func TestMeasureStartsFromWhereTheLastOnePlacedTheTickOver(t *testing.T) {
	inBubble(t, func(t *testing.T, w *world, p *clock.Prober) {
		off := -2*time.Second - 430*time.Millisecond
		w.serve(t, "registry", off, 0)
		targets := []clock.Target{{Name: "registry API", URL: "http://registry/"}}
		p.Measure(t.Context(), targets, clock.Plan{Rounds: 3}, nil)
		got := p.Measure(t.Context(), targets, clock.Plan{Rounds: 1}, nil)[0]
		if got.Err != nil || got.Low > off || got.High < off {
			t.Fatalf("second measurement %+v does not hold %v", got, off)
		}
		// A first round alone leaves a fifth of a second.
		if w := got.High - got.Low; w > 100*time.Millisecond {
			t.Errorf("one round after a measurement leaves bounds %v wide: the last measurement was not used", w)
		}
	})
}
