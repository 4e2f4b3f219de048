package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("EMBARGO_E2E") == "1" {
				tb.Fatalf("%s is not on PATH, and EMBARGO_E2E=1 requires it", name)
			}
			tb.Skipf("%s is not on PATH: the time-to-public benchmark releases with the real git and cargo", name)
		}
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
