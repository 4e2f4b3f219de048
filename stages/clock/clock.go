// Package clock measures how far a web server's clock is from this
// machine's, from the Date headers of its answers.
//
// A Date header has a resolution of one second, but it is a proof: the
// server stamped it at some instant between the moment the request left
// and the moment the answer came back, so for a sample sent at s, received
// at r and dated D (the server's clock truncated to the second), the
// server's clock minus ours lies in [D - r, D + 1s - s]. One sample bounds
// the offset to a little over a second; the samples around the moment the
// Date ticks over to the next second bound it to about one round trip.
// Each round of probes is timed to land on the server around its next
// tick-over, spread over where the previous rounds place it, so each round
// divides the uncertainty of where the tick falls by the number of probes
// less one.
//
// Only the bounds the samples prove are reported. Where the tick falls is
// an estimate, used to time the next probes and nothing else.
package clock

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sort"
	"sync"
	"time"
)

// Clock is the local clock the offsets are measured against (the gate's).
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Target is a server to measure.
type Target struct {
	Name string // what is written there, for people: "git remote"
	URL  string // asked with HEAD; any answer with a Date will do
}

// Sample is one answer.
type Sample struct {
	Sent, Received time.Time // local clock
	Date           time.Time // the server's, whole seconds; zero without one
}

// Low is the least offset the sample allows: the server stamped Date at
// the latest when the answer arrived.
func (s Sample) Low() time.Duration { return s.Date.Sub(s.Received) }

// High is the greatest: the server's clock had not reached Date + 1s when
// the request left.
func (s Sample) High() time.Duration { return s.Date.Add(time.Second).Sub(s.Sent) }

// ErrNoDate is the error of a target that answers without a Date header.
var ErrNoDate = errors.New("no Date header in its answers")

// Result is the measured offset of one target: its clock minus the local
// clock lies in [Low, High]. Err is set when nothing was measured.
type Result struct {
	Target
	Low, High time.Duration
	Samples   int
	Err       error
	// Inconsistent is set when the samples contradict each other (a clock
	// stepped while measuring, a cached Date): the bounds are then the
	// widest any sample allows.
	Inconsistent bool
}

// Options tune a Prober; the zero value is what a release uses.
type Options struct {
	HTTP  *http.Client // default: a client of its own, following no redirect
	Clock Clock        // default: the wall clock
	// Probes is how many requests a round sends (default 6).
	Probes int
	// Timeout bounds each request (default 5s).
	Timeout time.Duration
}

// Plan is one measurement.
type Plan struct {
	// Rounds is how many rounds follow the first burst; each waits for the
	// next tick-over of the target's clock, so a round costs up to a second.
	Rounds int
	// Fine ends the rounds once the tick-over is placed this finely
	// (default 2ms).
	Fine time.Duration
	// Enough, when set, ends the rounds of a target early.
	Enough func(Result) bool
}

// Prober measures targets. It keeps, per URL, where the last measurement
// placed the tick-over, to time the first round of the next one, and its
// connections, so that later probes do not pay for a handshake.
type Prober struct {
	http   *http.Client
	clock  Clock
	probes int

	mu    sync.Mutex
	prior map[string]window
}

// New makes a Prober.
func New(opts Options) *Prober {
	p := &Prober{http: opts.HTTP, clock: opts.Clock, probes: opts.Probes, prior: map[string]window{}}
	if p.clock == nil {
		p.clock = realClock{}
	}
	if p.probes < 2 {
		p.probes = 6
	}
	if p.http == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = p.probes + 2
		timeout := opts.Timeout
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		p.http = &http.Client{
			Transport: tr,
			Timeout:   timeout,
			// The Date of the host asked, not of wherever it redirects.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return p
}

// Measure measures every target at once. After the first burst of every
// target, and after each later round of any, report (when set) gets the
// results so far of all of them. It returns when every target is done, or
// soon after ctx ends, with what was measured by then.
func (p *Prober) Measure(ctx context.Context, targets []Target, plan Plan, report func([]Result)) []Result {
	if plan.Fine <= 0 {
		plan.Fine = 2 * time.Millisecond
	}
	var (
		mu      sync.Mutex
		results = make([]Result, len(targets))
		have    = make([]bool, len(targets))
		wg      sync.WaitGroup
	)
	update := func(i int, r Result) {
		mu.Lock()
		defer mu.Unlock()
		results[i], have[i] = r, true
		for _, h := range have {
			if !h {
				return // a partial world would leave a target's clock unguarded
			}
		}
		if report != nil {
			report(append([]Result(nil), results...))
		}
	}
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.measure(ctx, t, plan, func(r Result) { update(i, r) })
		}()
	}
	wg.Wait()
	return results
}

// window is where the tick-over of a target falls, relative to when a
// probe is sent: a probe sent at local time t is stamped with second n or
// later when t + at >= n, for some at in [lo, hi). It holds the server's
// offset plus the time a request takes to be stamped, and is only used to
// time probes.
type window struct{ lo, hi time.Duration }

func (w window) width() time.Duration { return w.hi - w.lo }

// of is the window a sample alone allows.
func of(s Sample) window { return window{s.Date.Sub(s.Sent), s.Date.Add(time.Second).Sub(s.Sent)} }

func (w window) and(o window) (window, bool) {
	out := window{max(w.lo, o.lo), min(w.hi, o.hi)}
	return out, out.lo < out.hi
}

type target struct {
	Target
	samples []Sample
	noDate  bool
	err     error
}

func (t *target) result() Result {
	r := Result{Target: t.Target}
	var dated []Sample
	for _, s := range t.samples {
		if !s.Date.IsZero() {
			dated = append(dated, s)
		}
	}
	r.Samples = len(dated)
	if len(dated) == 0 {
		switch {
		case t.noDate:
			r.Err = ErrNoDate
		case t.err != nil:
			r.Err = t.err
		default:
			r.Err = errors.New("no answer")
		}
		return r
	}
	r.Low, r.High = dated[0].Low(), dated[0].High()
	for _, s := range dated[1:] {
		r.Low, r.High = max(r.Low, s.Low()), min(r.High, s.High())
	}
	if r.Low > r.High {
		r.Inconsistent = true
		r.Low, r.High = dated[0].Low(), dated[0].High()
		for _, s := range dated[1:] {
			r.Low, r.High = min(r.Low, s.Low()), max(r.High, s.High())
		}
	}
	return r
}

// lead is how far ahead a probe is planned: the time to wake and send it.
const lead = 5 * time.Millisecond

func (p *Prober) measure(ctx context.Context, t Target, plan Plan, update func(Result)) {
	st := &target{Target: t}
	// The first burst, all at once: it opens the connections the rounds
	// reuse, and bounds the offset to about a second.
	now := p.clock.Now()
	burst := make([]time.Time, p.probes)
	for i := range burst {
		burst[i] = now
	}
	got := p.round(ctx, st, burst)
	update(st.result())
	if len(got) == 0 {
		return
	}

	w := p.start(t.URL, got)
	for n := 0; n < plan.Rounds && w.width() > plan.Fine && ctx.Err() == nil; n++ {
		if plan.Enough != nil && plan.Enough(st.result()) {
			break
		}
		got = p.round(ctx, st, p.times(w))
		if len(got) == 0 {
			break
		}
		w = narrow(w, got)
		update(st.result())
	}
	p.mu.Lock()
	p.prior[t.URL] = w
	p.mu.Unlock()
}

// start is the window the first round is timed by: the burst's, narrowed
// by where the previous measurement placed the tick-over when the two
// agree (a clock stepped since makes them disagree: the burst counts).
func (p *Prober) start(u string, burst []Sample) window {
	w := of(burst[0])
	for _, s := range burst[1:] {
		if next, ok := w.and(of(s)); ok {
			w = next
		}
	}
	p.mu.Lock()
	prior, known := p.prior[u]
	p.mu.Unlock()
	// The time to be stamped drifts a little between measurements (load,
	// another route): the prior is widened by that much.
	prior = window{prior.lo - priorSlack, prior.hi + priorSlack}
	if both, agree := prior.and(w); known && agree {
		return both
	}
	return w
}

// priorSlack is how far the tick-over may have moved, relative to the
// sending of a probe, since the previous measurement.
const priorSlack = 20 * time.Millisecond

// narrow is the window after a round. The round's probes reach both
// edges of the old window, so a round with probes on both sides of the
// tick-over places it between two of them. A round all on one side means
// the tick-over left the window (the time to be stamped changed): the new
// window then reaches one width past the old one on each side, and the
// next round finds it there.
func narrow(w window, got []Sample) window {
	own := of(got[0])
	for _, s := range got[1:] {
		if next, ok := own.and(of(s)); ok {
			own = next
		} else {
			own = of(s) // jitter: the later probes count
		}
	}
	if out, ok := own.and(window{w.lo - w.width(), w.hi + w.width()}); ok {
		return out
	}
	return own
}

// times spreads a round's probes evenly over where the window places the
// tick-over, edges included. The tick-over comes once a second, so each
// probe goes at the first moment from now on that falls where it should
// relative to a tick-over, whichever: a round takes under a second.
func (p *Prober) times(w window) []time.Time {
	earliest := p.clock.Now().Add(lead)
	// A probe sent at t is stamped with second n or later once t >= n -
	// at: the tick-over of any second n is sent for in (n - hi, n - lo].
	n := earliest.Truncate(time.Second) // any whole second will do
	out := make([]time.Time, p.probes)
	for k := range out {
		t := n.Add(-w.hi + w.width()*time.Duration(k)/time.Duration(p.probes-1))
		// The same moment of another second: the first one from earliest.
		d := t.Sub(earliest) % time.Second
		if d < 0 {
			d += time.Second
		}
		out[k] = earliest.Add(d)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Before(out[b]) })
	return out
}

// round sends one probe at each time, at once, and returns the dated
// samples in send order; every answer is kept in st.
func (p *Prober) round(ctx context.Context, st *target, at []time.Time) []Sample {
	samples := make([]Sample, len(at))
	errs := make([]error, len(at))
	var wg sync.WaitGroup
	for i, t := range at {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d := t.Sub(p.clock.Now()); d > 0 {
				select {
				case <-ctx.Done():
					errs[i] = ctx.Err()
					return
				case <-p.clock.After(d):
				}
			}
			samples[i], errs[i] = p.probe(ctx, st.URL)
		}()
	}
	wg.Wait()
	var dated []Sample
	for i, s := range samples {
		switch {
		case errs[i] != nil:
			if st.err == nil && !errors.Is(errs[i], context.Canceled) {
				st.err = errs[i]
			}
			continue
		case s.Date.IsZero():
			st.noDate = true
		default:
			dated = append(dated, s)
		}
		st.samples = append(st.samples, s)
	}
	sort.Slice(dated, func(a, b int) bool { return dated[a].Sent.Before(dated[b].Sent) })
	return dated
}

// probe asks once. Sent is taken when the request has its connection,
// before a byte of it is written (a new connection's handshake is not part
// of the sample), and Received after its answer's headers are read: any
// delay in between only widens the bounds.
func (p *Prober) probe(ctx context.Context, u string) (Sample, error) {
	var s Sample
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { s.Sent = p.clock.Now() }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodHead, u, nil)
	if err != nil {
		return Sample{}, err
	}
	req.Header.Set("Cache-Control", "no-cache") // a cache's Date is the past
	req.Header.Set("User-Agent", "embargo clock check")
	asked := p.clock.Now()
	resp, err := p.http.Do(req)
	s.Received = p.clock.Now()
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the method and URL, said once below
		}
		return Sample{}, fmt.Errorf("HEAD %s: %w", u, err)
	}
	if s.Sent.IsZero() || s.Sent.After(s.Received) {
		s.Sent = asked
	}
	resp.Body.Close()
	if d := resp.Header.Get("Date"); d != "" {
		if date, err := http.ParseTime(d); err == nil {
			s.Date = date
		}
	}
	return s, nil
}
