package release

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/clock"
	"github.com/async-rs/embargo/stages/index"
	"github.com/async-rs/embargo/stages/oci"
)

// The clocks of the public targets. T0 is the world's T0: the gate opens
// when it has passed on this machine's clock and on the clock of every
// target the release writes to, as their Date headers show it. Preflight
// measures them (in the background, while it packages), the gate again in
// the last seconds before T0, and a run that writes without either before
// its first write.

// Why preflight measures: in a run (or rehearsal), or in a check.
const (
	MeasurePreflight = Preflight
	MeasureCheck     = "check"
)

// clockPlan is how a measurement is made: rounds after the first burst,
// and the time it may take (a round waits for the next tick-over of the
// target's clock, so up to a second). The gate's is the finest: it is the
// one T0 is decided by.
func clockPlan(why string) (rounds int, budget time.Duration) {
	switch why {
	case MeasurePreflight:
		// A round is enough here (a tenth of a second): the gate measures
		// again before T0.
		return 1, 5 * time.Second
	case MeasureCheck:
		// check shows the offsets for the operator to judge days before
		// T0: as finely as the gate, to about a round trip. It measures in
		// the background while preflight packages.
		return 4, 5 * time.Second
	case pipeline.MeasureFirstWrite:
		return 2, 5 * time.Second
	case pipeline.MeasureGate:
		return 4, pipeline.Remeasure - time.Second
	}
	return 1, 4 * time.Second
}

// clockWarn is the offset over which check warns: a clock this far off is
// one nobody synchronises.
const clockWarn = 2 * time.Second

// ClockProbe measures the clocks of r's public targets for its gate, and
// records each measurement in the journal.
func ClockProbe(r *Run) pipeline.ClockProbe {
	w := &worldClocks{prober: clock.New(clock.Options{Clock: r.Gate.Clock})}
	return func(ctx context.Context, why string, report func([]pipeline.Offset)) []pipeline.Offset {
		start := r.Now()
		offs := w.measure(ctx, r, why, report)
		record := why
		if ctx.Err() != nil {
			record += " (cut short: the wait it was for ended)"
		}
		if r.Journal != nil {
			if err := r.Journal.AddClocks(pipeline.ClockCheck{Why: record, At: start.UTC(), Offsets: offs}); err != nil {
				r.Out.Emit(pipeline.Event{Kind: pipeline.EventWarn, Msg: "clocks: write journal: " + err.Error()})
			}
		}
		if why == pipeline.MeasureFirstWrite {
			r.Out.Emit(pipeline.Event{Kind: pipeline.EventInfo, Msg: "clocks, before the first public write: " + pipeline.ClockCheck{Offsets: offs}.Summary()})
		}
		return offs
	}
}

// MeasureClocks measures the clocks of the public targets once, quickly,
// for plan; it changes nothing.
func MeasureClocks(ctx context.Context, r *Run) []pipeline.Offset {
	w := &worldClocks{prober: clock.New(clock.Options{})}
	return w.measure(ctx, r, "plan", nil)
}

// worldClocks keeps, between measurements, the prober (its connections,
// where it last placed each tick-over) and the registry's API address.
type worldClocks struct {
	prober *clock.Prober
	mu     sync.Mutex
	api    string
}

func (w *worldClocks) measure(ctx context.Context, r *Run, why string, report func([]pipeline.Offset)) []pipeline.Offset {
	rounds, budget := clockPlan(why)
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	plan := clock.Plan{Rounds: rounds}
	if why != pipeline.MeasureGate && why != MeasureCheck && r.Gate != nil {
		// Once T0 has passed, the gate needs only the proof that it has
		// passed on the target's clock too: the first burst gives it
		// but for a clock within a second of T0. (check shows the
		// offset itself, to be judged by the operator.)
		plan.Enough = func(res clock.Result) bool { return !r.Now().Add(res.Low).Before(r.Gate.T0) }
	}
	var progress func([]clock.Result)
	if report != nil {
		progress = func(rs []clock.Result) { report(offsets(rs)) }
	}
	return offsets(w.prober.Measure(ctx, w.targets(ctx, r), plan, progress))
}

// targets lists every public target the release writes to that keeps a
// clock of its own, one entry per address. Local paths and file:// remotes
// are this machine: they have no other clock.
func (w *worldClocks) targets(ctx context.Context, r *Run) []clock.Target {
	var out []clock.Target
	add := func(name, u string) {
		if u == "" {
			return
		}
		for i := range out {
			if out[i].URL == u {
				if !strings.Contains(out[i].Name, name) {
					out[i].Name += ", " + name
				}
				return
			}
		}
		out = append(out, clock.Target{Name: name, URL: u})
	}
	add("git remote", hostRoot(r.Targets.Public.URL))
	add("registry API", w.registryAPI(ctx, r))
	if r.Config.Blog != nil {
		add("blog remote", hostRoot(r.Targets.Blog.URL))
	}
	if r.Config.GHSA != nil {
		// The API root answers HEAD with GitHub's Date, as any page does.
		if api := r.Targets.GitHub.API; api != "" {
			add("GitHub API", strings.TrimSuffix(api, "/")+"/")
		}
	}
	if r.Targets.Images { // a rehearsal copies no image
		for _, im := range r.Config.Images {
			if ref, err := oci.Parse(im.To); err == nil {
				reg := ref.Context().Registry
				add("image registry", reg.Scheme()+"://"+reg.RegistryStr()+"/v2/")
			}
		}
	}
	return out
}

// registryAPI is the root of the registry's web API, where cargo uploads
// (config.json's api), read once; the index's own host when it cannot be
// read.
func (w *worldClocks) registryAPI(ctx context.Context, r *Run) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.api != "" {
		return w.api
	}
	indexURL := r.Targets.Registry.Index
	if idx, err := index.New(indexURL, index.Options{RetryMax: -1, HTTPClient: &http.Client{Timeout: 3 * time.Second}}); err == nil {
		if cfg, err := idx.Config(ctx); err == nil && cfg.API != "" {
			w.api = hostRoot(cfg.API)
			return w.api
		}
	}
	return hostRoot(strings.TrimPrefix(indexURL, "sparse+"))
}

// hostRoot is the address whose Date stands for a remote's clock: the root
// of its HTTP(S) host ("" for a local path or file://). An SSH remote's
// host is asked over HTTPS: a forge's web front shares its clock.
func hostRoot(remote string) string {
	if strings.HasPrefix(remote, "git@") || (!strings.Contains(remote, "://") && strings.Contains(remote, "@") && strings.Contains(remote, ":")) {
		// scp-like user@host:path
		_, rest, _ := strings.Cut(remote, "@")
		host, _, _ := strings.Cut(rest, ":")
		return "https://" + host + "/"
	}
	u, err := url.Parse(remote)
	if err != nil || u.Host == "" {
		return ""
	}
	switch u.Scheme {
	case "http", "https":
		return u.Scheme + "://" + u.Host + "/"
	case "ssh", "git+ssh":
		return "https://" + u.Hostname() + "/"
	}
	return ""
}

// offsets turns the prober's results into the gate's.
func offsets(rs []clock.Result) []pipeline.Offset {
	out := make([]pipeline.Offset, len(rs))
	for i, res := range rs {
		o := pipeline.Offset{Target: res.Name, URL: res.URL, Low: res.Low, High: res.High, Samples: res.Samples}
		switch {
		case errors.Is(res.Err, clock.ErrNoDate):
			o.Unmeasured = "it sends no Date header"
		case res.Err != nil:
			o.Unmeasured = "unreachable: " + res.Err.Error()
		case res.Inconsistent:
			o.Target += " (its Date headers disagree with each other)"
		}
		out[i] = o
	}
	return out
}

// JudgeClocks says what the offsets mean for the release: a clock more
// than clockWarn off is a warning, one more than the window off an error,
// and a target without a clock is named.
func JudgeClocks(offs []pipeline.Offset, window time.Duration) (warnings []string, findings []pipeline.Finding) {
	for _, o := range offs {
		if !o.Measured() {
			warnings = append(warnings, fmt.Sprintf("%s: its clock is %s", o.Name(), o))
			continue
		}
		est := o.Estimate()
		// How far, as people read it: the bounds follow in parentheses.
		off := est.Abs().Round(100 * time.Millisecond)
		dir := "ahead of"
		effect := "the release starts at T0 on this machine's clock, when it reads T0+" + off.String()
		if est < 0 {
			dir = "behind"
			effect = "the gate holds every public write until T0 on it, " + off.String() + " after T0 here"
		}
		what := fmt.Sprintf("its clock is %s %s this machine's (%s)", off, dir, o)
		switch {
		case est.Abs() > window:
			findings = append(findings, pipeline.Finding{Subject: "clock of " + o.Name(),
				Msg: what + ", more than the disclosure window (" + pipeline.HumanDuration(window) + "): T0 and the deadline cannot both hold on it",
				Fix: timeSyncFix})
		case est.Abs() > clockWarn:
			warnings = append(warnings, fmt.Sprintf("%s: %s: %s; fix: %s", o.Name(), what, effect, timeSyncFix))
		}
	}
	return warnings, findings
}

const timeSyncFix = "sync this machine's clock (timedatectl set-ntp true, or chronyc makestep) and check again; " +
	"if it is in sync, the target's clock is off, and the gate waits for T0 on it as well"
