package bench

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/async-rs/embargo/stages/index"
)

// Goals of the async-std-shaped case and of the line scaling.
const (
	goalTreeUpload    = 500 * time.Millisecond // T0 → the registry accepted the upload
	goalTreeAllWrites = 2 * time.Second        // T0 → every public write done
	goalLinesOver     = 1.2                    // the most lines measured, within this of their bound
)

// Before: what the same measurements gave before push, promote and publish
// started together after preflight and publish read its index ahead of T0.
// The async-std figures are from its release against the real registry
// (50 ms a request, 1 s index delay); the others from this benchmark.
const (
	beforeTreeUpload    = "10.1 s (async-std at T0)"
	beforeTreeAllWrites = "12.0 s (async-std at T0)"
	beforeTreeFirst     = "—"
	beforeLines8x4      = "10.596 s against 4.400 s, 2.41×; first write 100 ms"
	beforeChain3x3      = "3.802 s against 3.300 s, 1.15×; first write 36 ms"
)

// Before the push waited for the registry to take the first upload (so
// that a credential refused at T0 leaves nothing public), the push was the
// first public write: its receive-pack POST arrived this long after T0
// (measured on the same machine, just before the change).
const (
	beforeTreePush  = "6 ms, the first public write (the push did not wait for the registry)"
	beforeChainPush = "11 ms, the first public write (the push did not wait for the registry)"
)

// waitsForTheRegistry explains the push's place after T0, in the results.
const waitsForTheRegistry = "The push waits, after the gate opens, for the registry to take the first upload (a credential the registry refuses at T0 leaves nothing public): the first public write is now the first upload's PUT, and the push follows the registry's answer to it. The goals at T0 are embargo's own reaction: the first `cargo publish` starts, and the push follows the registry's acceptance of the first upload, each within 50 ms; what lies between (cargo's start-up, its reads, the upload) is cargo's and the registry's."

// TreeSummary is the async-std-shaped case: one crate whose dependency tree
// is on the registry, a public repository with many refs.
type TreeSummary struct {
	Knobs   Knobs
	Embargo *EmbargoResult
	Bound   time.Duration
	// From T0: the upload's PUT arrived and was answered (the registry's
	// log); the push's receive-pack was answered (the journal's push step
	// end); every public write done (the later of the two); the first write.
	PutAt, PutDone, PushDone, AllWrites, FirstWrite time.Duration
	// PushWrite: the push's receive-pack POST arrived (the git server's
	// log), once the registry had taken the upload.
	PushWrite time.Duration
	TTP       time.Duration
	// Reads are the registry's index reads from T0 until the upload's PUT
	// arrived, other than of the released crate's own file (which embargo
	// and the bench poll): config.json, and files of its dependencies.
	ConfigReads, DepReads int
	// Along the upload: from T0 until embargo started `cargo publish`
	// (journal), then until cargo's first request (its read of
	// config.json) arrived, then until its PUT arrived.
	CargoStart, FirstRequest time.Duration
}

// SummarizeTree computes the case's figures.
func SummarizeTree(k Knobs, e *EmbargoResult, setup *Setup) *TreeSummary {
	s := &TreeSummary{Knobs: k, Embargo: e, Bound: Bound(k), TTP: e.TimeToPublic(), FirstWrite: e.FirstWrite.Sub(e.T0), PushWrite: e.PushWrite.Sub(e.T0)}
	var lastPut time.Time
	for _, c := range e.Crates {
		if c.PutEnd.After(lastPut) {
			lastPut = c.PutEnd
			s.PutAt, s.PutDone = c.PutAt.Sub(e.T0), c.PutEnd.Sub(e.T0)
			s.CargoStart = c.UploadStart.Sub(e.T0)
		}
	}
	for _, st := range e.Steps {
		if st.Stage == "push" && st.Name == "push" {
			s.PushDone = st.End.Sub(e.T0)
		}
	}
	s.AllWrites = max(s.PutDone, s.PushDone)
	own := map[string]bool{}
	for _, v := range setup.Versions() {
		own["/index/"+index.Path(v.Name)] = true
	}
	for _, r := range setup.Registry.Requests() {
		if r.Time.Before(e.T0) || !r.Time.Before(e.T0.Add(s.PutAt)) || !strings.HasPrefix(r.Path, "/index/") || own[r.Path] {
			continue
		}
		if r.Path == "/index/config.json" {
			if s.ConfigReads == 0 {
				s.FirstRequest = r.Time.Sub(e.T0)
			}
			s.ConfigReads++
		} else {
			s.DepReads++
		}
	}
	return s
}

func (s *TreeSummary) goals() []goal {
	gs := []goal{
		{"T0 → upload accepted", "≤ " + ms(goalTreeUpload), ms(s.PutDone), s.PutDone > 0 && s.PutDone <= goalTreeUpload},
		{"T0 → every public write done", "≤ " + ms(goalTreeAllWrites), ms(s.AllWrites), s.AllWrites > 0 && s.AllWrites <= goalTreeAllWrites},
	}
	return append(gs, reactionGoals(s.Embargo.Reaction(), false)...)
}

// Table is the readable result.
func (s *TreeSummary) Table() string {
	var b strings.Builder
	k := s.Knobs
	fmt.Fprintf(&b, "async-std-shaped release: 1 crate, %d packages in its dependency tree (no committed Cargo.lock), %d extra refs in the public repository, registry latency %s, index delay %s\n\n",
		k.Tree, k.Refs, k.Latency, k.IndexDelay)
	fmt.Fprintf(&b, "| after T0 | now | before |\n|---|---:|---|\n")
	fmt.Fprintf(&b, "| first public write (%s) | %s | %s |\n", s.Embargo.FirstWhat, ms(s.FirstWrite), beforeTreeFirst)
	fmt.Fprintf(&b, "| the push's receive-pack arrived | %s | %s |\n", ms(s.PushWrite), beforeTreePush)
	fmt.Fprintf(&b, "| push answered (journal's push step end) | %s | |\n", ms(s.PushDone))
	fmt.Fprintf(&b, "| the upload's PUT arrived | %s | %s |\n", ms(s.PutAt), beforeTreeUpload)
	fmt.Fprintf(&b, "| the upload's PUT answered | %s | |\n", ms(s.PutDone))
	fmt.Fprintf(&b, "| every public write done | %s | %s |\n", ms(s.AllWrites), beforeTreeAllWrites)
	fmt.Fprintf(&b, "| the version in the index | %s | bound %s |\n", ms(s.TTP), ms(s.Bound))
	if s.FirstRequest > 0 {
		fmt.Fprintf(&b, "\nalong the upload: T0 → `cargo publish` started %s; → cargo's first request (config.json) arrived %s; → its PUT arrived %s (config.json, the crate's own index file, one after the other at %s each, and packaging)\n",
			ms(s.CargoStart), ms(s.FirstRequest-s.CargoStart), ms(s.PutAt-s.FirstRequest), s.Knobs.Latency)
	}
	fmt.Fprintf(&b, "\n%s\n", waitsForTheRegistry)
	fmt.Fprintf(&b, "\nfrom T0 to the PUT the registry saw %d read(s) of config.json and %d of other index files (the dependency tree's, which cargo resolves through embargo's view of the index, read before T0)\n", s.ConfigReads, s.DepReads)
	fmt.Fprintf(&b, "\n| goal | wanted | got | met |\n|---|---|---|---|\n")
	for _, g := range s.goals() {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", g.name, g.want, g.got, yesNo(g.met))
	}
	fmt.Fprintf(&b, "\njournal steps from the gate on (ms after T0: start, end):\n\n```\n%s```\n", s.Embargo.Timeline())
	fmt.Fprintf(&b, "\npreflight ended %.1f s before T0 (`embargo check` took %.1f s)\n", s.Embargo.Slack.Seconds(), s.Embargo.Check.Seconds())
	return b.String()
}

// LinePoint is one measured size of the line scaling.
type LinePoint struct {
	Knobs      Knobs
	TTP, Bound time.Duration
	FirstWrite time.Duration
	Reaction   Reaction
	Breakdown  Breakdown
}

// Over is the time to public over the bound.
func (p LinePoint) Over() float64 { return p.TTP.Seconds() / p.Bound.Seconds() }

// LinesSummary is how time to public grows with the number of lines.
type LinesSummary struct{ Points []LinePoint }

func (s *LinesSummary) goals() []goal {
	if len(s.Points) == 0 {
		return nil
	}
	last := s.Points[len(s.Points)-1]
	worst := Reaction{}
	for _, p := range s.Points {
		worst.FirstStart = max(worst.FirstStart, p.Reaction.FirstStart)
		if p.Reaction.PushAfter <= 0 || worst.PushAfter < 0 {
			worst.PushAfter = -1 // not measured at some size: not met
		} else {
			worst.PushAfter = max(worst.PushAfter, p.Reaction.PushAfter)
		}
	}
	name := fmt.Sprintf("%d×%d vs bound", last.Knobs.Lines, last.Knobs.Crates)
	return append([]goal{
		{name, fmt.Sprintf("within %.1f× the bound", goalLinesOver), fmt.Sprintf("%.2f×", last.Over()), last.Over() <= goalLinesOver},
	}, reactionGoals(worst, true)...)
}

// Table is the readable result.
func (s *LinesSummary) Table() string {
	var b strings.Builder
	if len(s.Points) == 0 {
		return ""
	}
	k := s.Points[0].Knobs
	fmt.Fprintf(&b, "time to public by the number of lines: %d crates a line, registry latency %s, index delay %s\n\n", k.Crates, k.Latency, k.IndexDelay)
	fmt.Fprintf(&b, "| lines | versions | time to public (s) | bound (s) | over bound | first write | `cargo publish` → PUT | PUT → in the index |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range s.Points {
		fmt.Fprintf(&b, "| %d | %d | %.3f | %.3f | %.2f× | %s | %s | %s |\n", p.Knobs.Lines, p.Knobs.Lines*p.Knobs.Crates, p.TTP.Seconds(), p.Bound.Seconds(), p.Over(),
			ms(p.FirstWrite), ms(p.Breakdown.PreUpload), ms(p.Breakdown.Delay))
	}
	fmt.Fprintf(&b, "\n`cargo publish` → PUT is the mean from a cargo's start to its PUT's arrival (its start, config.json and the crate's own index file read one after the other, packaging); every line starts its cargo at the same moments (at T0, then once each index delay is over), so more lines share the machine's %d cores at those moments. PUT → in the index is the index delay as the bench's polling saw it.\n", runtime.NumCPU())
	fmt.Fprintf(&b, "\nbefore, at 8 lines × 4 crates: %s\n", beforeLines8x4)
	fmt.Fprintf(&b, "\n| goal | wanted | got | met |\n|---|---|---|---|\n")
	for _, g := range s.goals() {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", g.name, g.want, g.got, yesNo(g.met))
	}
	return b.String()
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// Sections of RESULTS.md, in order; each benchmark rewrites its own and
// keeps the others as the last run of theirs left them.
var sections = []string{"chain", "tree", "lines", "altreg"}

const resultsHeader = "# Time to public: latest results\n\nWritten by `make bench` (bench/bench_test.go); do not edit by hand. Each section is\nrewritten by its own benchmark.\n"

// writeSection replaces one section of the results file.
func writeSection(path, name, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var b strings.Builder
	b.WriteString(resultsHeader)
	for _, sec := range sections {
		text := sectionOf(string(old), sec)
		if sec == name {
			text = body
		}
		if text == "" {
			continue
		}
		fmt.Fprintf(&b, "\n<!-- section %s -->\n%s<!-- end of section %s -->\n", sec, strings.TrimLeft(text, "\n"), sec)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func sectionOf(file, name string) string {
	start, end := "<!-- section "+name+" -->\n", "<!-- end of section "+name+" -->"
	i := strings.Index(file, start)
	if i < 0 {
		return ""
	}
	rest := file[i+len(start):]
	j := strings.Index(rest, end)
	if j < 0 {
		return ""
	}
	return rest[:j]
}

// machine describes where a section was measured.
func machine() string {
	goVersion := commandLine("go", "version")
	cpu, cores := cpuInfo()
	return fmt.Sprintf("- date: %s\n- go: %s\n- cargo: %s\n- CPU: %s, %d cores\n",
		time.Now().UTC().Format("2006-01-02 15:04:05Z"), goVersion, commandLine("cargo", "--version"), cpu, cores)
}
