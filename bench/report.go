package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Round trips the bound counts, each costing one latency of the server.
const (
	// pushRoundTrips: a push needs the ref advertisement and the
	// receive-pack POST.
	pushRoundTrips = 2
	// uploadRoundTrips: any publisher reads the index once before an upload
	// (to see the version is absent and to resolve the dependency just
	// published) and then sends the PUT.
	uploadRoundTrips = 2
)

// Bound is the critical-path lower bound of time to public, from the knobs.
//
// Lines are independent and publish in parallel, so the critical path is
// the chain of one line: C crates, crate k depending on crate k-1. Crate k
// cannot be uploaded before the index shows crate k-1 (cargo resolves its
// dependency there, and the registry refuses an upload whose dependency it
// does not know), and every upload costs at least uploadRoundTrips requests
// of Latency each; a version then shows in the index IndexDelay after its
// upload is accepted. The last version is public as soon as the index shows
// it (a poll handled at that instant answers at once). The push of the
// branches and tags adds pushRoundTrips round trips to the git server,
// which here has no latency of its own (gitLatency = 0), so it adds nothing
// but its local processing, which is counted against the tool. Hence
//
//	bound = pushRoundTrips·gitLatency + C·(uploadRoundTrips·Latency + IndexDelay)
//
// 3 crates, 50 ms, 1 s: 3·(2·0.05 s + 1 s) = 3.3 s.
func Bound(k Knobs) time.Duration {
	const gitLatency = 0
	return pushRoundTrips*gitLatency + time.Duration(k.Crates)*(uploadRoundTrips*k.Latency+k.IndexDelay)
}

// Goals of the benchmark.
const (
	goalSpeedup   = 3.0 // embargo at least this many times faster than the naive release
	goalOverBound = 1.1 // embargo within 10% of the bound
	// Embargo's own reaction at T0 (see Reaction): the first `cargo
	// publish` started, and the push sent once the registry accepted the
	// first upload, each at most this long after.
	goalReaction = 50 * time.Millisecond
)

// Summary is what the benchmark reports.
type Summary struct {
	Knobs      Knobs
	Embargo    *EmbargoResult
	Naive      *NaiveResult
	Versions   []Version
	Date       time.Time
	GoVersion  string
	Cargo      string
	CPU        string
	Cores      int
	Bound      time.Duration
	TTP        time.Duration // embargo, by the bench's polling
	JournalTTP time.Duration // embargo, by its own journal
	NaiveTTP   time.Duration
	FirstWrite time.Duration // embargo
}

// Summarize computes the figures of a measured pair of releases.
func Summarize(k Knobs, versions []Version, e *EmbargoResult, n *NaiveResult) *Summary {
	s := &Summary{Knobs: k, Embargo: e, Naive: n, Versions: versions, Date: time.Now().UTC(), Bound: Bound(k)}
	s.TTP, s.JournalTTP = e.TimeToPublic(), e.JournalTimeToPublic()
	s.NaiveTTP = n.TimeToPublic(versions)
	s.FirstWrite = e.FirstWrite.Sub(e.T0)
	s.GoVersion = commandLine("go", "version")
	if s.GoVersion == "" {
		s.GoVersion = runtime.Version()
	}
	s.Cargo = commandLine("cargo", "--version")
	s.CPU, s.Cores = cpuInfo()
	return s
}

// Ratio is how many times faster embargo was than the naive release.
func (s *Summary) Ratio() float64 { return s.NaiveTTP.Seconds() / s.TTP.Seconds() }

// OverBound is embargo's time to public over the bound.
func (s *Summary) OverBound() float64 { return s.TTP.Seconds() / s.Bound.Seconds() }

type goal struct {
	name, want, got string
	met             bool
}

func (s *Summary) goals() []goal {
	gs := []goal{
		{"embargo vs naive", fmt.Sprintf("at least %.0f× faster", goalSpeedup), fmt.Sprintf("%.2f×", s.Ratio()), s.Ratio() >= goalSpeedup},
		{"embargo vs bound", fmt.Sprintf("within %.0f%% of the bound", (goalOverBound-1)*100), fmt.Sprintf("%.2f× the bound (+%.0f%%)", s.OverBound(), (s.OverBound()-1)*100), s.OverBound() <= goalOverBound},
	}
	return append(gs, reactionGoals(s.Embargo.Reaction(), false)...)
}

// reactionGoals are the goals of embargo's reaction at T0; with every,
// worst is the worst over every size measured.
func reactionGoals(worst Reaction, every bool) []goal {
	name, got := "", func(d time.Duration) string { return ms(d) }
	if every {
		name, got = ", every size", func(d time.Duration) string { return "at most " + ms(d) }
	}
	return []goal{
		{"first `cargo publish` started" + name, fmt.Sprintf("within %s after T0", goalReaction), got(worst.FirstStart) + " after T0",
			worst.FirstStart >= 0 && worst.FirstStart <= goalReaction},
		{"the push, once the registry accepted the first upload" + name, fmt.Sprintf("within %s after", goalReaction), got(worst.PushAfter) + " after",
			worst.PushAfter > 0 && worst.PushAfter <= goalReaction},
	}
}

// Table is the readable result.
func (s *Summary) Table() string {
	var b strings.Builder
	k := s.Knobs
	fmt.Fprintf(&b, "time to public: %d lines × %d crates, registry latency %s, index delay %s\n\n", k.Lines, k.Crates, k.Latency, k.IndexDelay)
	fmt.Fprintf(&b, "| | seconds | |\n|---|---:|---|\n")
	fmt.Fprintf(&b, "| (a) `embargo run`, T0 → every version in the index | %.3f | journal's last visible_at: %.3f |\n", s.TTP.Seconds(), s.JournalTTP.Seconds())
	fmt.Fprintf(&b, "| (b) naive sequential release | %.3f | script ended at %.3f |\n", s.NaiveTTP.Seconds(), s.Naive.Exit.Sub(s.Naive.T0).Seconds())
	fmt.Fprintf(&b, "| critical-path lower bound | %.3f | %d·(%d·%s + %s) |\n", s.Bound.Seconds(), k.Crates, uploadRoundTrips, k.Latency, k.IndexDelay)
	fmt.Fprintf(&b, "| (b) / (a) | %.2f× | |\n", s.Ratio())
	fmt.Fprintf(&b, "| (a) / bound | %.2f× | |\n", s.OverBound())
	fmt.Fprintf(&b, "| (a) first public write after T0 | %.3f | %s |\n", s.FirstWrite.Seconds(), s.Embargo.FirstWhat)
	fmt.Fprintf(&b, "| (b) first public write after T0 | %.3f | %s |\n", s.Naive.FirstWrite.Sub(s.Naive.T0).Seconds(), s.Naive.FirstWhat)
	fmt.Fprintf(&b, "| (a) the push's write after T0 | %.3f | receive-pack POST, once the registry took the first upload; before: %s |\n", s.Embargo.PushWrite.Sub(s.Embargo.T0).Seconds(), beforeChainPush)
	fmt.Fprintf(&b, "\n| goal | wanted | got | met |\n|---|---|---|---|\n")
	for _, g := range s.goals() {
		met := "no"
		if g.met {
			met = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", g.name, g.want, g.got, met)
	}
	bd := s.Embargo.Breakdown()
	fmt.Fprintf(&b, "\nwhere (a)'s time goes (means over the %d crates):\n\n", bd.Crates)
	fmt.Fprintf(&b, "| part | ms |\n|---|---:|\n")
	for _, p := range []struct {
		name string
		d    time.Duration
	}{
		{"T0 → gate woke", bd.Wake},
		{"T0 → first `cargo publish` started", bd.Start},
		{"cargo could go on → its PUT arrived (a line's first crate: from its start; a dependent, started early and held by embargo's view of the index: from its dependency recorded visible)", bd.PreUpload},
		{"PUT (registry latency)", bd.Put},
		{"PUT done → version in the index (index delay)", bd.Delay},
		{"in the index → embargo recorded it visible", bd.Detect},
		{"first upload accepted → the push's receive-pack arrived", bd.PushAfter},
		{"T0 → push stage done (atomic push, refs verified)", bd.Push},
	} {
		fmt.Fprintf(&b, "| %s | %.0f |\n", p.name, float64(p.d.Microseconds())/1000)
	}
	if len(bd.PreUploadAt) > 0 && k.Latency > 0 {
		parts := make([]string, len(bd.PreUploadAt))
		for i, d := range bd.PreUploadAt {
			parts[i] = fmt.Sprintf("%s (≈ %.1f round trips)", ms(d), d.Seconds()/k.Latency.Seconds())
		}
		fmt.Fprintf(&b, "\ncargo could go on → PUT, by place in the chain: %s; the bound counts 1 index read a crate\n", strings.Join(parts, ", "))
	}
	cr, own := s.Embargo.CriticalSplit()
	fmt.Fprintf(&b, "\nalong the line that finished last: %.3f s from when each crate's cargo could go on to its version in the index (cargo's own reads, the PUT, the index delay: %.2f× the bound by itself), %.3f s embargo's own (reacting at T0, noticing versions)\n",
		cr.Seconds(), cr.Seconds()/s.Bound.Seconds(), own.Seconds())
	fmt.Fprintf(&b, "\npreflight ended %.1f s before T0 (`embargo check` took %.1f s)\n", s.Embargo.Slack.Seconds(), s.Embargo.Check.Seconds())
	return b.String()
}

// WriteResults writes RESULTS.md.
func (s *Summary) WriteResults(path string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## A dependency chain, lines in parallel (BenchmarkTimeToPublic)\n\n")
	fmt.Fprintf(&b, "- date: %s\n- go: %s\n- cargo: %s\n- CPU: %s, %d cores\n", s.Date.Format("2006-01-02 15:04:05Z"), s.GoVersion, s.Cargo, s.CPU, s.Cores)
	k := s.Knobs
	fmt.Fprintf(&b, "- knobs: %d lines × %d crates (a dependency chain), registry latency %s per request, index delay %s, crates.io mode; git over smart HTTP (no added latency)\n\n", k.Lines, k.Crates, k.Latency, k.IndexDelay)
	b.WriteString("(a) is `embargo run` (the built binary, the real cargo) started well before T0; (b) is the\n")
	b.WriteString("naive sequential release a person would script: per line, `git push` of the held branch and\n")
	b.WriteString("tag, then `cargo publish` with verification for each crate, line after line. Both are timed\n")
	b.WriteString("from T0 until the bench's own polling of the index (every 20 ms) sees the last version.\n\n")
	b.WriteString(s.Table())
	if k.Lines == 3 && k.Crates == 3 {
		fmt.Fprintf(&b, "\nbefore: %s\n", beforeChain3x3)
	}
	b.WriteString("\nThe bound: lines publish in parallel, so the critical path is one line's chain of C\n")
	b.WriteString("crates; each needs at least 2 requests (an index read, the PUT) at the registry's latency,\n")
	b.WriteString("then the index delay before its dependent can resolve it. The push adds 2 round trips to a\n")
	b.WriteString("git server without added latency. See `Bound` in bench/report.go.\n")
	b.WriteString("\nWhere (a) stands against the bound: before each upload cargo reads config.json and the\n")
	b.WriteString("crate's own file (is the version there already?) from the registry, one after the other,\n")
	b.WriteString("then resolves the package's lockfile, reading the files of the whole dependency chain level\n")
	b.WriteString("by level. embargo has it resolve through a view of the index on loopback that holds what\n")
	b.WriteString("embargo's own polling just read (`index.View`), so those reads cost no registry round trip;\n")
	b.WriteString("the first two still do, one more than the bound counts, and cargo's own start comes before\n")
	b.WriteString("them (the async-std-shaped case below times each). embargo polls the index every 50 ms\n")
	b.WriteString("and stops cargo's own wait (about once a second) once it has seen the version.\n")
	fmt.Fprintf(&b, "\n%s\n", waitsForTheRegistry)
	if s.OverBound() > goalOverBound {
		cr, own := s.Embargo.CriticalSplit()
		fmt.Fprintf(&b, "\nWhy (a) is %.2f× the bound: along the line that finished last, `cargo publish` and the\n", s.OverBound())
		fmt.Fprintf(&b, "registry alone took %.3f s (%.2f× the bound), embargo's own part %.3f s.\n", cr.Seconds(), cr.Seconds()/s.Bound.Seconds(), own.Seconds())
	}
	return writeSection(path, "chain", b.String())
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

func commandLine(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// cpuInfo reads the CPU model and the number of logical cores.
func cpuInfo() (string, int) {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH, runtime.NumCPU()
	}
	defer f.Close()
	return parseCPUInfo(f)
}

func parseCPUInfo(r io.Reader) (string, int) {
	model, cores := "", 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			cores++
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		}
	}
	if model == "" {
		model = runtime.GOARCH
	}
	if cores == 0 {
		cores = runtime.NumCPU()
	}
	return model, cores
}
