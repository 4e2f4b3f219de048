package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/gate"
	"github.com/async-rs/embargo/stages/release"
)

// CrateTiming is one version's path to the index in an `embargo run`.
type CrateTiming struct {
	Version
	Sealed   string // sha256 preflight sealed (from the journal)
	Packaged string // sha256 of the .crate cargo packaged in the state directory
	Index    string // cksum the index shows
	// From the journal: when embargo started the `cargo publish` that
	// uploaded, and when its own polling saw the version in the index.
	UploadStart, VisibleAt time.Time
	// From the registry's log: the PUT's arrival and end.
	PutAt, PutEnd time.Time
	// From the bench's own polling of the index.
	Seen time.Time
}

// EmbargoResult is one measured `embargo run`.
type EmbargoResult struct {
	T0 time.Time
	// Check is how long `embargo check` took (it sized the wait before T0);
	// PreflightEnd is when the run's preflight ended, Slack how long before
	// T0 that was (negative: the run reached the gate late and the
	// measurement does not count).
	Check        time.Duration
	PreflightEnd time.Time
	Slack        time.Duration
	GateWoke     time.Time
	PushEnd      time.Time // journal: the push stage ended
	FirstWrite   time.Time // from the servers' logs
	FirstWhat    string
	// PushWrite is when the push's receive-pack POST arrived at the git
	// server: once the registry has taken the first upload.
	PushWrite time.Time
	Crates    []CrateTiming
	Early     []string // writes before T0, from the servers' logs
	// Steps are the journal's steps from the gate on, in start order.
	Steps []Step
}

// Reaction is what embargo itself takes at T0, apart from what cargo and
// the registry take: how long after T0 the first `cargo publish` started,
// and how long after the registry accepted the first upload the push's
// receive-pack arrived (the push waits for the registry to take the
// publish credential, so that a refused one leaves nothing public).
// PushAfter is zero when the run pushed nothing or uploaded nothing.
type Reaction struct{ FirstStart, PushAfter time.Duration }

// Reaction measures the run's reaction at T0.
func (r *EmbargoResult) Reaction() Reaction {
	var start, accepted time.Time
	for _, c := range r.Crates {
		if !c.UploadStart.IsZero() && (start.IsZero() || c.UploadStart.Before(start)) {
			start = c.UploadStart
		}
		if !c.PutEnd.IsZero() && (accepted.IsZero() || c.PutEnd.Before(accepted)) {
			accepted = c.PutEnd
		}
	}
	var re Reaction
	if !start.IsZero() {
		re.FirstStart = start.Sub(r.T0)
	}
	if !accepted.IsZero() && !r.PushWrite.IsZero() {
		re.PushAfter = r.PushWrite.Sub(accepted)
	}
	return re
}

// Step is one journal step of the run.
type Step struct {
	Stage, Name string
	Start, End  time.Time
}

// Timeline lists the steps from the gate on, relative to T0, in ms.
func (r *EmbargoResult) Timeline() string {
	var b strings.Builder
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "%9.1f %9.1f  %s: %s\n", msSince(r.T0, s.Start), msSince(r.T0, s.End), s.Stage, s.Name)
	}
	return b.String()
}

func msSince(t0, t time.Time) float64 { return float64(t.Sub(t0).Microseconds()) / 1000 }

// TimeToPublic is T0 until the bench's polling saw the last version.
func (r *EmbargoResult) TimeToPublic() time.Duration {
	var last time.Time
	for _, c := range r.Crates {
		if c.Seen.IsZero() {
			return 0
		}
		last = later(last, c.Seen)
	}
	return last.Sub(r.T0)
}

// JournalTimeToPublic is T0 until the last visible_at embargo recorded.
func (r *EmbargoResult) JournalTimeToPublic() time.Duration {
	var last time.Time
	for _, c := range r.Crates {
		last = later(last, c.VisibleAt)
	}
	return last.Sub(r.T0)
}

// RunOptions tune a measured run.
type RunOptions struct {
	// Margin is how far ahead of the end of `embargo check` T0 is put,
	// given how long the check took; the run's own preflight (on a warm
	// state directory) must be done before T0.
	Margin func(check time.Duration) time.Duration
	Logf   func(format string, args ...any)
}

func defaultMargin(check time.Duration) time.Duration { return check*3/2 + 2*time.Second }

// RunEmbargo releases the setup's world with the embargo binary: `embargo
// check` first (it sizes how long preflight takes and warms the state
// directory), then `embargo run` with T0 far enough ahead that preflight is
// done and the run waits at the gate.
func RunEmbargo(ctx context.Context, s *Setup, binary string, opts RunOptions) (*EmbargoResult, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	margin := opts.Margin
	if margin == nil {
		margin = defaultMargin
	}
	env := append(os.Environ(), gitTokenEnv+"="+gitToken, registryTokenEnv+"="+registryToken)

	cfg, err := s.Config(time.Now().Add(time.Hour))
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if _, err := run(ctx, "", env, binary, "check", "-c", cfg); err != nil {
		return nil, fmt.Errorf("embargo check: %v", err)
	}
	res := &EmbargoResult{Check: time.Since(start)}
	res.T0 = time.Now().Add(margin(res.Check)).Truncate(time.Second).Add(time.Second)
	logf("embargo check took %s; T0 at %s", res.Check.Round(time.Millisecond), res.T0.Format("15:04:05"))
	if cfg, err = s.Config(res.T0); err != nil {
		return nil, err
	}

	cmd := exec.CommandContext(ctx, binary, "run", "-c", cfg, "--json")
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	versions := s.Versions()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := watch(wctx, s, versions, res.T0.Add(-100*time.Millisecond))
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("embargo run: %v\n--- stderr\n%s--- stdout (last lines)\n%s", err, stderr.String(), tail(stdout.String(), 20))
	}
	seen := w.wait(time.Now().Add(30 * time.Second))
	res.Early = s.earlyWrites(res.T0)
	res.FirstWrite, res.FirstWhat = s.firstWrite(res.T0)
	res.PushWrite = s.pushWrite(res.T0)

	j, err := pipeline.ReadJournal(filepath.Join(s.Dir, ".embargo", "journal.json"))
	if err != nil {
		return nil, err
	}
	snap := j.Snapshot()
	if st := snap.Stage("preflight"); st != nil && st.Ended != nil {
		res.PreflightEnd = *st.Ended
		res.Slack = res.T0.Sub(res.PreflightEnd)
	}
	gate, _ := pipeline.Load(j, gate.OpenedKey)
	res.GateWoke = gate.Woke
	if st := snap.Stage("push"); st != nil && st.Ended != nil {
		res.PushEnd = *st.Ended
	}
	for _, st := range snap.Stages {
		if st.Name == "preflight" {
			continue
		}
		for _, step := range st.Steps {
			if step.Started != nil && step.Ended != nil {
				res.Steps = append(res.Steps, Step{Stage: st.Name, Name: step.Name, Start: *step.Started, End: *step.Ended})
			}
		}
	}
	sort.SliceStable(res.Steps, func(a, b int) bool { return res.Steps[a].Start.Before(res.Steps[b].Start) })
	puts := s.puts()
	var problems []string
	for _, v := range versions {
		c := CrateTiming{Version: v}
		nv := v.NV()
		packaged, _ := pipeline.Load(j, release.PackagedKey(v.Line))
		c.Sealed = packaged.Sha256[nv]
		c.Packaged, _ = cargo.FileSha256(cargo.PackagedFile(filepath.Join(s.Dir, ".embargo", "work", v.Line), v.Name, v.Version))
		published, _ := pipeline.Load(j, release.CratePublishedKey(nv))
		c.UploadStart, c.VisibleAt = published.CargoStarted, published.VisibleAt
		if p, ok := puts[nv]; ok {
			c.PutAt, c.PutEnd = p.Time, p.Time.Add(p.Duration)
		}
		c.Seen, c.Index = seen[nv].At, seen[nv].Cksum
		switch {
		case c.Seen.IsZero():
			problems = append(problems, nv+" never showed in the index")
		case c.Sealed == "" || c.Index != c.Sealed || c.Packaged != c.Sealed:
			problems = append(problems, fmt.Sprintf("%s: index %q, sealed %q, packaged %q", nv, c.Index, c.Sealed, c.Packaged))
		}
		if n := s.Registry.Uploads(v.Name, v.Version); n != 1 {
			problems = append(problems, fmt.Sprintf("%s uploaded %d times", nv, n))
		}
		res.Crates = append(res.Crates, c)
	}
	if len(problems) > 0 {
		return res, fmt.Errorf("embargo run: %s", strings.Join(problems, "; "))
	}
	return res, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// Breakdown splits an embargo run's time to public into its parts, averaged
// over the crates where a part applies.
type Breakdown struct {
	Wake  time.Duration // T0 until the gate step recorded waking
	Start time.Duration // T0 until the first `cargo publish` started
	// PreUpload is from when a crate's cargo could go on (its start, or
	// for a dependent started early, held by embargo's view of the index,
	// its dependency recorded visible) until its PUT arrived.
	PreUpload time.Duration
	Put       time.Duration // the PUT itself
	Delay     time.Duration // PUT end until the bench saw the version
	Detect    time.Duration // the bench saw it until embargo recorded it visible
	// PushAfter is the first upload accepted until the push's
	// receive-pack arrived (the push waits for the registry to take the
	// credential); Push is T0 until the push stage ended.
	PushAfter, Push time.Duration
	Crates          int
	// PreUploadAt is PreUpload by place in the dependency chain.
	PreUploadAt []time.Duration
}

// ready is when c's cargo could go on: its start, or, for a crate whose
// cargo started while its dependency (the line's crate before it) was
// still on its way to the index, when embargo recorded that dependency
// visible, which released cargo's held read of it.
func (r *EmbargoResult) ready(c CrateTiming) time.Time {
	at := c.UploadStart
	for _, d := range r.Crates {
		if d.Line == c.Line && d.Pos == c.Pos-1 && d.VisibleAt.After(at) {
			at = d.VisibleAt
		}
	}
	return at
}

// Breakdown averages the parts of the run.
func (r *EmbargoResult) Breakdown() Breakdown {
	re := r.Reaction()
	b := Breakdown{Push: r.PushEnd.Sub(r.T0), Start: re.FirstStart, PushAfter: re.PushAfter, Crates: len(r.Crates)}
	if !r.GateWoke.IsZero() {
		b.Wake = r.GateWoke.Sub(r.T0)
	}
	var pre, put, delay, detect []time.Duration
	byPos := map[int][]time.Duration{}
	for _, c := range r.Crates {
		if !c.PutAt.IsZero() {
			d := c.PutAt.Sub(r.ready(c))
			pre = append(pre, d)
			byPos[c.Pos] = append(byPos[c.Pos], d)
			put = append(put, c.PutEnd.Sub(c.PutAt))
			delay = append(delay, c.Seen.Sub(c.PutEnd))
		}
		detect = append(detect, c.VisibleAt.Sub(c.Seen))
	}
	b.PreUpload, b.Put, b.Delay, b.Detect = mean(pre), mean(put), mean(delay), mean(detect)
	for i := 0; len(byPos[i]) > 0; i++ {
		b.PreUploadAt = append(b.PreUploadAt, mean(byPos[i]))
	}
	return b
}

// CriticalSplit splits the time to public along the line whose last version
// showed last: the part cargo and the registry take (from when each crate's
// cargo could go on to its PUT arriving, the PUT, and the index delay after
// it) and the rest, embargo's own (reacting at T0, noticing a version in
// the index).
func (r *EmbargoResult) CriticalSplit() (cargoAndRegistry, own time.Duration) {
	var last CrateTiming
	for _, c := range r.Crates {
		if c.Seen.After(last.Seen) {
			last = c
		}
	}
	for _, c := range r.Crates {
		if c.Line != last.Line || c.PutAt.IsZero() {
			continue
		}
		cargoAndRegistry += c.Seen.Sub(r.ready(c))
	}
	return cargoAndRegistry, r.TimeToPublic() - cargoAndRegistry
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}
