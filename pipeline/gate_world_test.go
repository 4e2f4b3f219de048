package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// offset is a measured target clock: local + [low, high].
func offset(name string, low, high time.Duration) pipeline.Offset {
	return pipeline.Offset{Target: name, URL: "https://" + name + ".example/", Low: low, High: high, Samples: 12}
}

// The registry's clock is 30 s behind this machine's: at T0 here it is
// 13:59:30 there, so every public write waits for T0 on its clock.
func TestGateHoldsUntilT0OnATargetClockThatIsBehind(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0.Add(-5 * time.Second))
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock}
	g.SetWorld([]pipeline.Offset{
		offset("git", 10*time.Millisecond, 12*time.Millisecond),
		offset("registry", -30*time.Second-3*time.Millisecond, -30*time.Second+time.Millisecond),
	}, clock.Now())
	opens := testT0.Add(30*time.Second + 3*time.Millisecond)

	w := startWait(context.Background(), g, clock, time.Minute)
	clock.Set(testT0)
	if w.settle(t) {
		t.Fatal("Wait returned at T0 on this machine's clock, 30 s before T0 on the registry's")
	}
	var early *pipeline.EarlyError
	err := g.Allow("publish demo 1.0.1")
	if !errors.As(err, &early) {
		t.Fatalf("Allow at local T0 = %v, want *EarlyError", err)
	}
	if early.Remaining != opens.Sub(testT0) || !strings.Contains(err.Error(), "registry.example") {
		t.Errorf("refusal %q (remaining %v) does not name the registry's clock and its 30.003s", err, early.Remaining)
	}
	clock.Set(opens.Add(-time.Nanosecond))
	if w.settle(t) {
		t.Fatal("Wait returned a nanosecond before T0 on the registry's clock")
	}
	clock.Set(opens)
	if !w.settle(t) {
		t.Fatal("Wait still blocked once T0 passed on the registry's clock")
	}
	if w.err != nil || w.late != 0 {
		t.Errorf("Wait = (%v, %v), want (0, nil)", w.late, w.err)
	}
	if err := g.Allow("publish demo 1.0.1"); err != nil {
		t.Errorf("Allow once T0 passed on every clock = %v", err)
	}
	if at, by := g.Opening(); !at.Equal(opens) || !strings.Contains(by, "registry") {
		t.Errorf("Opening = %v by %q, want %v by the registry", at, by, opens)
	}
}

// Targets 30 s ahead: the release starts at T0 on this machine's clock,
// never before, though their clocks passed T0 long ago.
func TestGateOpensAtLocalT0WhenEveryTargetIsAhead(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0.Add(-2 * time.Second))
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock}
	g.SetWorld([]pipeline.Offset{offset("git", 30*time.Second, 30*time.Second+time.Millisecond)}, clock.Now())
	w := startWait(context.Background(), g, clock, time.Minute)
	clock.Set(testT0.Add(-time.Nanosecond))
	if w.settle(t) {
		t.Fatal("Wait returned before T0 on this machine's clock")
	}
	if err := g.Allow("push"); err == nil {
		t.Fatal("Allow before local T0 passed")
	}
	clock.Set(testT0)
	if !w.settle(t) {
		t.Fatal("Wait still blocked at T0")
	}
	if err := g.Allow("push"); err != nil {
		t.Errorf("Allow at T0 = %v", err)
	}
}

// The gate counts on the least offset a measurement proves, not on its
// middle: a clock known only to within ±0.5 s may still be before T0.
func TestGateCountsTheMeasurementsUncertaintyAsMargin(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0)
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock}
	// Most likely 0.1 s ahead, but possibly 0.4 s behind.
	g.SetWorld([]pipeline.Offset{offset("blog", -400*time.Millisecond, 600*time.Millisecond)}, clock.Now())
	if err := g.Allow("push the advisory"); err == nil {
		t.Fatal("Allow at T0 with a clock that may be 0.4 s behind")
	}
	clock.Set(testT0.Add(400 * time.Millisecond))
	if err := g.Allow("push the advisory"); err != nil {
		t.Errorf("Allow once T0 passed on the clock's least reading = %v", err)
	}
}

// A target that sends no Date header (or could not be asked) has no clock
// here: the local clock stands for it.
func TestGateUsesTheLocalClockForATargetWithoutDate(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0.Add(-time.Nanosecond))
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock}
	g.SetWorld([]pipeline.Offset{{Target: "blog remote", URL: "https://blog.example/", Unmeasured: "it sends no Date header",
		Low: -time.Hour}}, clock.Now())
	if err := g.Allow("push"); err == nil {
		t.Fatal("Allow before local T0")
	}
	clock.Set(testT0)
	if err := g.Allow("push"); err != nil {
		t.Errorf("Allow at T0 = %v: an unmeasured target held the gate", err)
	}
}

// probeLog is a fake ClockProbe: it answers with the offsets it holds and
// records why it was called, and when.
type probeLog struct {
	clock *pipeline.FakeClock
	mu    sync.Mutex
	offs  []pipeline.Offset
	calls []string
	at    []time.Time
	ran   chan struct{}
}

func newProbe(clock *pipeline.FakeClock, offs ...pipeline.Offset) *probeLog {
	return &probeLog{clock: clock, offs: offs, ran: make(chan struct{}, 10)}
}

func (p *probeLog) probe(ctx context.Context, why string, report func([]pipeline.Offset)) []pipeline.Offset {
	p.mu.Lock()
	p.calls = append(p.calls, why)
	p.at = append(p.at, p.clock.Now())
	offs := p.offs
	p.mu.Unlock()
	report(offs)
	p.ran <- struct{}{}
	return offs
}

// await returns once the probe has run, or fails the test.
func (p *probeLog) await(t *testing.T, what string) {
	t.Helper()
	select {
	case <-p.ran:
	case <-time.After(5 * time.Second): // a hang guard, not a timing assertion
		t.Fatalf("the clocks were not measured %s", what)
	}
}

func (p *probeLog) log() ([]string, []time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...), append([]time.Time(nil), p.at...)
}

// A run that writes without preflight or the gate (run --only push) has
// the clocks measured before its first write, once.
func TestGateMeasuresTheClocksBeforeTheFirstWrite(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0.Add(time.Second))
	p := newProbe(clock, offset("registry", -3*time.Second, -3*time.Second+2*time.Millisecond))
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock, Probe: p.probe}
	err := g.Allow("publish demo 1.0.1")
	var early *pipeline.EarlyError
	if !errors.As(err, &early) || early.Remaining != 2*time.Second {
		t.Fatalf("Allow 1 s after local T0 with the registry 3 s behind = %v, want *EarlyError with 2s left", err)
	}
	clock.Advance(2 * time.Second)
	if err := g.Allow("publish demo 1.0.1"); err != nil {
		t.Errorf("Allow once T0 passed on the registry's clock = %v", err)
	}
	if calls, _ := p.log(); len(calls) != 1 || calls[0] != pipeline.MeasureFirstWrite {
		t.Errorf("probe calls = %q, want one %q", calls, pipeline.MeasureFirstWrite)
	}
}

// A measurement from long before T0 (preflight, when the CI job started)
// is not what T0 is decided by: Wait measures again in the last seconds,
// and follows it when a clock has moved.
func TestGateWaitMeasuresAgainJustBeforeT0(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0.Add(-45 * time.Minute))
	p := newProbe(clock)
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock, Probe: p.probe}
	// Preflight found the clocks agreeing.
	g.SetWorld([]pipeline.Offset{offset("registry", 0, 2*time.Millisecond)}, clock.Now())
	// Since then the registry's clock fell 30 s behind (or ours jumped).
	p.offs = []pipeline.Offset{offset("registry", -30*time.Second, -30*time.Second+2*time.Millisecond)}

	w := startWait(context.Background(), g, clock, time.Minute)
	noneYet := func() {
		t.Helper()
		if w.settle(t) {
			t.Fatalf("Wait returned %s before T0", testT0.Sub(clock.Now()))
		}
		if calls, _ := p.log(); len(calls) != 0 {
			t.Fatalf("measured %s before T0, sooner than the last %s", testT0.Sub(clock.Now()), pipeline.Remeasure)
		}
	}
	for clock.Now().Before(testT0.Add(-time.Minute)) {
		noneYet()
		clock.Advance(time.Minute)
	}
	noneYet()
	clock.Set(testT0.Add(-pipeline.Remeasure - time.Nanosecond))
	noneYet()
	clock.Set(testT0.Add(-pipeline.Remeasure))
	p.await(t, "10 s before T0")
	clock.Set(testT0)
	if w.settle(t) {
		t.Fatal("Wait returned at local T0, though the registry's clock is now 30 s behind")
	}
	// The opening moved 30 s: the clocks are measured again before it.
	clock.Set(testT0.Add(30*time.Second - pipeline.Remeasure))
	p.await(t, "10 s before T0 on the registry's clock")
	clock.Set(testT0.Add(30*time.Second - time.Nanosecond))
	if w.settle(t) {
		t.Fatal("Wait returned before T0 on the registry's clock")
	}
	clock.Set(testT0.Add(30 * time.Second))
	if !w.settle(t) {
		t.Fatal("Wait still blocked once T0 passed on the registry's clock")
	}
	calls, at := p.log()
	want := []time.Time{testT0.Add(-pipeline.Remeasure), testT0.Add(30*time.Second - pipeline.Remeasure)}
	if len(calls) != 2 || calls[0] != pipeline.MeasureGate || calls[1] != pipeline.MeasureGate || !at[0].Equal(want[0]) || !at[1].Equal(want[1]) {
		t.Errorf("probe calls %q at %v, want %q at %v", calls, at, pipeline.MeasureGate, want)
	}
}

// The countdown reads the time to the opening, not to T0 here.
func TestGateCountdownCountsToT0OnTheSlowestClock(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0.Add(-2 * time.Minute))
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock}
	g.SetWorld([]pipeline.Offset{offset("registry", -30*time.Second, -29*time.Second)}, clock.Now())
	w := startWait(context.Background(), g, clock, time.Minute)
	for !w.settle(t) {
		clock.Advance(10 * time.Second)
	}
	want := []time.Duration{150 * time.Second, 2 * time.Minute, time.Minute, pipeline.LastTick}
	got := w.tickList()
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Errorf("ticks = %v, want %v", got, want)
	}
}

// A target that cannot be asked again (a dropped connection in the last
// seconds) keeps what it was last measured at, rather than falling back
// on the local clock.
func TestGateKeepsTheLastBoundsOfATargetThatCannotBeMeasuredAgain(t *testing.T) {
	clock := pipeline.NewFakeClock(testT0.Add(-time.Minute))
	g := &pipeline.Gate{T0: testT0, Window: 6 * time.Hour, Clock: clock}
	behind := offset("registry", -5*time.Second, -5*time.Second+time.Millisecond)
	g.SetWorld([]pipeline.Offset{behind}, clock.Now())
	again := behind
	again.Low, again.High, again.Samples, again.Unmeasured = 0, 0, 0, "unreachable: connection reset"
	g.SetWorld([]pipeline.Offset{again}, clock.Now())
	if at, _ := g.Opening(); !at.Equal(testT0.Add(5 * time.Second)) {
		t.Errorf("opening %v, want T0+5s as last measured", at)
	}
}
