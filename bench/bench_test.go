package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/internal/testenv"
	"github.com/async-rs/embargo/stages/cargo"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "embargo-bench-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "embargo")
	build := exec.Command("go", "build", "-o", binary, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building embargo:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needTools skips without git or cargo, unless EMBARGO_E2E=1 requires them.
func needTools(tb testing.TB) {
	tb.Helper()
	for _, name := range []string{"git", "cargo"} {
		testenv.NeedTool(tb, name, "the time-to-public benchmark releases with the real git and cargo")
	}
}

// TestHarness runs the benchmark's harness end to end on a small world
// without latency: embargo publishes every version with the checksum cargo
// packaged, nothing public before T0; the naive release publishes every
// version too.
func TestHarness(t *testing.T) {
	needTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k := Knobs{Lines: 1, Crates: 2}
	s, err := NewSetup(t.TempDir(), k)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := RunEmbargo(ctx, s, binary, RunOptions{
		Margin: func(check time.Duration) time.Duration { return check + time.Second },
		Logf:   t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Early) > 0 {
		t.Errorf("public writes before T0: %s", strings.Join(res.Early, "; "))
	}
	if res.FirstWrite.Before(res.T0) || res.FirstWrite.IsZero() {
		t.Errorf("first public write at %s, T0 %s", res.FirstWrite, res.T0)
	}
	if len(res.Crates) != k.Lines*k.Crates {
		t.Fatalf("%d versions measured, want %d", len(res.Crates), k.Lines*k.Crates)
	}
	for _, c := range res.Crates {
		// RunEmbargo already refuses a mismatch; say what was compared.
		if c.Index == "" || c.Index != c.Packaged || c.Index != c.Sealed {
			t.Errorf("%s: index %q, packaged %q, sealed %q", c.NV(), c.Index, c.Packaged, c.Sealed)
		}
		if c.Seen.Before(res.T0) {
			t.Errorf("%s in the index before T0", c.NV())
		}
		if c.UploadStart.Before(res.T0) || c.VisibleAt.Before(c.UploadStart) {
			t.Errorf("%s: journal uploaded_at %s, visible_at %s, T0 %s", c.NV(), c.UploadStart, c.VisibleAt, res.T0)
		}
	}
	t.Logf("embargo: time to public %s (journal %s), first write %s after T0, preflight ended %s before T0",
		res.TimeToPublic().Round(time.Millisecond), res.JournalTimeToPublic().Round(time.Millisecond),
		res.FirstWrite.Sub(res.T0).Round(time.Millisecond), res.Slack.Round(time.Millisecond))

	s2, err := NewSetup(t.TempDir(), k)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	naive, err := RunNaive(ctx, s2, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("naive: time to public %s", naive.TimeToPublic(s2.Versions()).Round(time.Millisecond))
}

// BenchmarkTimeToPublic measures (a) `embargo run` and (b) the naive
// sequential release on fresh worlds, prints both with the bound, and writes
// RESULTS.md.
func BenchmarkTimeToPublic(b *testing.B) {
	needTools(b)
	k, err := KnobsFromEnv(DefaultKnobs())
	if err != nil {
		b.Fatal(err)
	}
	logf := func(format string, args ...any) { fmt.Printf("bench: "+format+"\n", args...) }
	var sum *Summary
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		sum = measure(b, ctx, k, logf)
		cancel()
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(sum.TTP.Seconds(), "time_to_public_s")
	b.ReportMetric(sum.NaiveTTP.Seconds(), "naive_s")
	b.ReportMetric(sum.Ratio(), "ratio")
	b.ReportMetric(sum.Bound.Seconds(), "bound_s")
	b.ReportMetric(sum.OverBound(), "over_bound")
	b.ReportMetric(float64(sum.FirstWrite.Microseconds())/1000, "first_write_ms")
	fmt.Println()
	fmt.Print(sum.Table())
	if err := sum.WriteResults("RESULTS.md"); err != nil {
		b.Fatal(err)
	}
}

func measure(b *testing.B, ctx context.Context, k Knobs, logf func(string, ...any)) *Summary {
	b.Helper()
	logf("(a) embargo run: %d lines × %d crates", k.Lines, k.Crates)
	s, err := NewSetup(b.TempDir(), k)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	e, err := RunEmbargo(ctx, s, binary, RunOptions{Logf: logf})
	if err != nil {
		b.Fatal(err)
	}
	if len(e.Early) > 0 {
		b.Fatalf("public writes before T0: %s", strings.Join(e.Early, "; "))
	}
	if e.Slack <= 0 {
		b.Fatalf("preflight ended %s after T0: the run did not wait at the gate, so T0 was not measured; re-run", -e.Slack)
	}
	logf("(a) time to public %.3f s", e.TimeToPublic().Seconds())
	if os.Getenv("EMBARGO_BENCH_VERBOSE") != "" {
		fmt.Printf("journal steps (ms after T0: start, end):\n%s", e.Timeline())
	}

	logf("(b) naive sequential release")
	s2, err := NewSetup(b.TempDir(), k)
	if err != nil {
		b.Fatal(err)
	}
	defer s2.Close()
	n, err := RunNaive(ctx, s2, logf)
	if err != nil {
		b.Fatal(err)
	}
	return Summarize(k, s.Versions(), e, n)
}

// BenchmarkRealTree measures a release shaped like async-std's: one crate
// whose ~90-package dependency tree is on the registry, no committed
// lockfile, a public repository with hundreds of refs. It times the writes
// at T0: the upload, the push, the first of them.
func BenchmarkRealTree(b *testing.B) {
	needTools(b)
	k := RealTreeKnobs()
	logf := func(format string, args ...any) { fmt.Printf("bench: "+format+"\n", args...) }
	var sum *TreeSummary
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		logf("(tree) embargo run: 1 crate, %d packages in its dependency tree, %d refs", k.Tree, k.Refs)
		s, err := NewSetup(b.TempDir(), k)
		if err != nil {
			b.Fatal(err)
		}
		e, err := RunEmbargo(ctx, s, binary, RunOptions{Logf: logf})
		s.Close()
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		checkMeasured(b, e)
		sum = SummarizeTree(k, e, s)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(sum.PutDone.Seconds(), "upload_s")
	b.ReportMetric(sum.AllWrites.Seconds(), "all_writes_s")
	b.ReportMetric(float64(sum.FirstWrite.Microseconds())/1000, "first_write_ms")
	fmt.Println()
	fmt.Print(sum.Table())
	body := "## An async-std-shaped release (BenchmarkRealTree)\n\n" + machine() + "\n" + sum.Table()
	if err := writeSection("RESULTS.md", "tree", body); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLines measures how time to public grows with the number of
// lines published at once, each against its bound: 1, 2, 4 and 8 lines of
// 4 crates (EMBARGO_BENCH_SCALE="1,2,4,8", EMBARGO_BENCH_SCALE_CRATES=4).
func BenchmarkLines(b *testing.B) {
	needTools(b)
	sizes, crates, err := scaleFromEnv()
	if err != nil {
		b.Fatal(err)
	}
	logf := func(format string, args ...any) { fmt.Printf("bench: "+format+"\n", args...) }
	var sum *LinesSummary
	for i := 0; i < b.N; i++ {
		sum = &LinesSummary{}
		for _, n := range sizes {
			k := DefaultKnobs()
			k.Lines, k.Crates = n, crates
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			logf("(lines) embargo run: %d lines × %d crates", k.Lines, k.Crates)
			s, err := NewSetup(b.TempDir(), k)
			if err != nil {
				b.Fatal(err)
			}
			e, err := RunEmbargo(ctx, s, binary, RunOptions{Logf: logf})
			s.Close()
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			checkMeasured(b, e)
			p := LinePoint{Knobs: k, TTP: e.TimeToPublic(), Bound: Bound(k), FirstWrite: e.FirstWrite.Sub(e.T0), Reaction: e.Reaction(), Breakdown: e.Breakdown()}
			logf("(lines) %d × %d: time to public %.3f s, %.2f× the bound", n, crates, p.TTP.Seconds(), p.Over())
			if os.Getenv("EMBARGO_BENCH_VERBOSE") != "" {
				fmt.Printf("journal steps (ms after T0: start, end):\n%s", e.Timeline())
			}
			sum.Points = append(sum.Points, p)
		}
	}
	last := sum.Points[len(sum.Points)-1]
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(last.TTP.Seconds(), "time_to_public_s")
	b.ReportMetric(last.Over(), "over_bound")
	fmt.Println()
	fmt.Print(sum.Table())
	body := "## Time to public by the number of lines (BenchmarkLines)\n\n" + machine() + "\n" + sum.Table()
	if err := writeSection("RESULTS.md", "lines", body); err != nil {
		b.Fatal(err)
	}
}

// TestHarnessAltRegistry runs the alternative registry case's harness on
// one line without latency: both crates published with the sealed bytes,
// the dependent's way from its dependency's visibility to its PUT found in
// the registry's log.
func TestHarnessAltRegistry(t *testing.T) {
	needTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k := Knobs{Lines: 1, Crates: 2, Registry: "forge"}
	s, err := NewSetup(t.TempDir(), k)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := RunEmbargo(ctx, s, binary, RunOptions{Margin: func(check time.Duration) time.Duration { return check + time.Second }, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	sum := SummarizeAlt(k, res, s)
	if len(sum.Handoffs) != 1 || sum.Handoffs[0].Dependent != "ttp-01@1.10.1" || sum.Handoffs[0].Took <= 0 {
		t.Errorf("handoffs %+v, want ttp-01@1.10.1's, after its dependency showed", sum.Handoffs)
	}
	t.Logf("%s", sum.Table())
}

// BenchmarkAltRegistry measures a release to an alternative registry
// against its bound: 3 lines of 2 crates, the second depending on the
// first by version, path and registry.
func BenchmarkAltRegistry(b *testing.B) {
	needTools(b)
	k := AltRegistryKnobs()
	logf := func(format string, args ...any) { fmt.Printf("bench: "+format+"\n", args...) }
	var sum *AltSummary
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		logf("(altreg) embargo run: %d lines × %d crates to the alternative registry %q", k.Lines, k.Crates, k.Registry)
		s, err := NewSetup(b.TempDir(), k)
		if err != nil {
			b.Fatal(err)
		}
		e, err := RunEmbargo(ctx, s, binary, RunOptions{Logf: logf})
		s.Close()
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		checkMeasured(b, e)
		sum = SummarizeAlt(k, e, s)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(sum.TTP.Seconds(), "time_to_public_s")
	b.ReportMetric(sum.Over(), "over_bound")
	fmt.Println()
	fmt.Print(sum.Table())
	body := "## An alternative registry (BenchmarkAltRegistry)\n\n" + machine() + "\n" + sum.Table()
	if err := writeSection("RESULTS.md", "altreg", body); err != nil {
		b.Fatal(err)
	}
}

// scaleFromEnv reads the line counts and the crates a line of
// BenchmarkLines.
func scaleFromEnv() ([]int, int, error) {
	sizes, crates := []int{1, 2, 4, 8}, 4
	if v := os.Getenv("EMBARGO_BENCH_SCALE"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 || n > 20 {
				return nil, 0, fmt.Errorf("EMBARGO_BENCH_SCALE=%q: want line counts from 1 to 20, comma-separated", v)
			}
			sizes = append(sizes, n)
		}
	}
	if v := os.Getenv("EMBARGO_BENCH_SCALE_CRATES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 20 {
			return nil, 0, fmt.Errorf("EMBARGO_BENCH_SCALE_CRATES=%q: want a whole number from 1 to 20", v)
		}
		crates = n
	}
	return sizes, crates, nil
}

// checkMeasured refuses a run that wrote before T0 or reached the gate late.
func checkMeasured(b *testing.B, e *EmbargoResult) {
	b.Helper()
	if len(e.Early) > 0 {
		b.Fatalf("public writes before T0: %s", strings.Join(e.Early, "; "))
	}
	if e.Slack <= 0 {
		b.Fatalf("preflight ended %s after T0: the run did not wait at the gate, so T0 was not measured; re-run", -e.Slack)
	}
}

// TestHarnessRealTree runs the async-std-shaped case's harness on a small
// tree without latency: the released crate is sealed with a lockfile that
// pins every package of the generated tree, the public repository carries
// the extra refs, and the writes are found in the servers' logs.
func TestHarnessRealTree(t *testing.T) {
	needTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k := Knobs{Lines: 1, Crates: 1, Tree: 6, Refs: 30}
	s, err := NewSetup(t.TempDir(), k)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := RunEmbargo(ctx, s, binary, RunOptions{
		Margin: func(check time.Duration) time.Duration { return check + time.Second },
		Logf:   t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Early) > 0 {
		t.Errorf("public writes before T0: %s", strings.Join(res.Early, "; "))
	}
	v := s.Versions()[0]
	crate, err := os.ReadFile(cargo.PackagedFile(filepath.Join(s.Dir, ".embargo", "work", v.Line), v.Name, v.Version))
	if err != nil {
		t.Fatal(err)
	}
	locked := map[string]bool{}
	for _, p := range lockOf(t, crate) {
		locked[p.Name] = true
	}
	_, pkgs := dependencyTree(k.Tree)
	for _, p := range pkgs {
		if !locked[p.Name] {
			t.Errorf("the sealed %s pins no %s", v.NV(), p.Name)
		}
	}
	refs, err := exec.Command("git", "--git-dir", s.World.Public, "for-each-ref", "--format=%(refname)").Output()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(refs), "\n"); n < k.Refs {
		t.Errorf("the public repository has %d refs, want at least %d", n, k.Refs)
	}
	sum := SummarizeTree(k, res, s)
	if sum.PutDone <= 0 || sum.PushDone <= 0 || sum.AllWrites < sum.PutDone || sum.FirstWrite < 0 {
		t.Errorf("writes not measured: upload %s, push %s, all %s, first %s", sum.PutDone, sum.PushDone, sum.AllWrites, sum.FirstWrite)
	}
	t.Logf("upload accepted %s after T0, every write %s, first %s; %d config.json and %d dependency reads before the PUT",
		sum.PutDone, sum.AllWrites, sum.FirstWrite, sum.ConfigReads, sum.DepReads)
}
