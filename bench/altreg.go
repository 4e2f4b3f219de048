package bench

import (
	"fmt"
	"strings"
	"time"

	"github.com/async-rs/embargo/stages/index"
)

// goalAltOver: a release to an alternative registry is as fast at T0 as
// one to crates.io, within this of its bound.
const goalAltOver = 1.1

// beforeAlt is what the case gave before cargo read an alternative
// registry's index through embargo's view.
const beforeAlt = "2.746 s against 2.200 s, 1.25×; each dependent's PUT 0.42 s after its dependency showed in the index, the lines' cargos reading config.json 9 times and index files 9 times meanwhile (other work sharing the 2 cores)"

// AltRegistryKnobs are a release to an alternative registry named "forge"
// (as on Gitea): 3 lines of 2 crates, the second depending on the first by
// version, path and registry; 50 ms a request, versions visible 1 s after
// upload.
func AltRegistryKnobs() Knobs {
	return Knobs{Lines: 3, Crates: 2, Latency: 50 * time.Millisecond, IndexDelay: time.Second, Registry: "forge"}
}

// AltSummary is the alternative registry's case.
type AltSummary struct {
	Knobs      Knobs
	Embargo    *EmbargoResult
	TTP, Bound time.Duration
	FirstWrite time.Duration
	// Handoffs are, for every crate depending on another, from the moment
	// the bench saw its dependency in the index until its PUT arrived,
	// with what cargo read of the registry meanwhile.
	Handoffs []Handoff
}

// Handoff is the way from a dependency's visibility to its dependent's
// upload.
type Handoff struct {
	Dependent              string // name@version
	Took                   time.Duration
	ConfigReads, FileReads int // cargo's reads of the registry in between
}

// SummarizeAlt computes the case's figures.
func SummarizeAlt(k Knobs, e *EmbargoResult, s *Setup) *AltSummary {
	sum := &AltSummary{Knobs: k, Embargo: e, TTP: e.TimeToPublic(), Bound: Bound(k), FirstWrite: e.FirstWrite.Sub(e.T0)}
	seen := map[string]CrateTiming{}
	for _, c := range e.Crates {
		seen[c.Line+" "+fmt.Sprint(c.Pos)] = c
	}
	reqs := s.Registry.Requests()
	for _, c := range e.Crates {
		dep, ok := seen[c.Line+" "+fmt.Sprint(c.Pos-1)]
		if c.Pos == 0 || !ok || c.PutAt.IsZero() {
			continue
		}
		h := Handoff{Dependent: c.NV(), Took: c.PutAt.Sub(dep.Seen)}
		for _, r := range reqs {
			if r.Time.Before(dep.Seen) || !r.Time.Before(c.PutAt) || !strings.HasPrefix(r.UserAgent, "cargo") || !strings.HasPrefix(r.Path, "/index/") {
				continue
			}
			if r.Path == "/index/config.json" {
				h.ConfigReads++
			} else if r.Path == "/index/"+index.Path(c.Name) || r.Path == "/index/"+index.Path(dep.Name) {
				h.FileReads++
			}
		}
		sum.Handoffs = append(sum.Handoffs, h)
	}
	return sum
}

// Over is the time to public over the bound.
func (s *AltSummary) Over() float64 { return s.TTP.Seconds() / s.Bound.Seconds() }

func (s *AltSummary) goals() []goal {
	gs := []goal{
		{fmt.Sprintf("%d×%d on an alternative registry vs bound", s.Knobs.Lines, s.Knobs.Crates), fmt.Sprintf("within %.1f× the bound", goalAltOver), fmt.Sprintf("%.2f×", s.Over()), s.Over() <= goalAltOver},
	}
	return append(gs, reactionGoals(s.Embargo.Reaction(), false)...)
}

// Table is the readable result.
func (s *AltSummary) Table() string {
	var b strings.Builder
	k := s.Knobs
	fmt.Fprintf(&b, "a release to the alternative registry %q: %d lines × %d crates (the second depends on the first by version, path and `registry = %q`), registry latency %s, index delay %s\n\n",
		k.Registry, k.Lines, k.Crates, k.Registry, k.Latency, k.IndexDelay)
	fmt.Fprintf(&b, "| | seconds |\n|---|---:|\n")
	fmt.Fprintf(&b, "| `embargo run`, T0 → every version in the index | %.3f |\n", s.TTP.Seconds())
	fmt.Fprintf(&b, "| critical-path lower bound, %d·(%d·%s + %s) | %.3f |\n", k.Crates, uploadRoundTrips, k.Latency, k.IndexDelay, s.Bound.Seconds())
	fmt.Fprintf(&b, "| over the bound | %.2f× |\n", s.Over())
	fmt.Fprintf(&b, "| first public write after T0 (%s) | %.3f |\n", s.Embargo.FirstWhat, s.FirstWrite.Seconds())
	fmt.Fprintf(&b, "\n| dependent | its dependency in the index → its PUT arrived | the lines' cargos' reads of the registry meanwhile: config.json, index files |\n|---|---:|---:|\n")
	for _, h := range s.Handoffs {
		fmt.Fprintf(&b, "| %s | %s | %d, %d |\n", h.Dependent, ms(h.Took), h.ConfigReads, h.FileReads)
	}
	fmt.Fprintf(&b, "\nbefore: %s\n", beforeAlt)
	b.WriteString("\nA dependent's `cargo publish` starts once the registry accepted its dependency's upload; it\n")
	b.WriteString("reads config.json and its own index file from the registry meanwhile, then resolves its\n")
	b.WriteString("dependency through embargo's view of the index (`index.View`), which holds that read until\n")
	b.WriteString("embargo's own polling has seen the new version: so after the index shows it, cargo reads\n")
	b.WriteString("nothing more from the registry before its PUT. Before, an alternative registry had no view:\n")
	b.WriteString("each line's cargo started only once the index showed the dependency, then read config.json\n")
	b.WriteString("and the index files from the registry, one after the other.\n")
	fmt.Fprintf(&b, "\n| goal | wanted | got | met |\n|---|---|---|---|\n")
	for _, g := range s.goals() {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", g.name, g.want, g.got, yesNo(g.met))
	}
	fmt.Fprintf(&b, "\njournal steps from the gate on (ms after T0: start, end):\n\n```\n%s```\n", s.Embargo.Timeline())
	fmt.Fprintf(&b, "\npreflight ended %.1f s before T0 (`embargo check` took %.1f s)\n", s.Embargo.Slack.Seconds(), s.Embargo.Check.Seconds())
	return b.String()
}
