package pipeline_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/async-rs/embargo/pipeline"
)

// On a terminal the live line (the countdown, the publishes' progress)
// stays at the bottom: a line printed while it shows goes above it, and
// the live line is drawn again under it until it is cleared. A log or a
// JSON stream gets none of it, only the events it sums up.
func TestLiveLineStaysUnderThePrintedLinesOnATerminal(t *testing.T) {
	clock := pipeline.NewFakeClock(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC))
	tty := newScreen(80)
	r := &pipeline.Reporter{Out: tty, TTY: true, Clock: clock, Width: func() int { return tty.width }}
	r.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: "publish", Msg: "publishing: 1.13 1/2"})
	r.Emit(pipeline.Event{Kind: pipeline.EventDone, Stage: "publish", Step: "publish demo@1.13.1", Msg: "published"})
	if got, want := tty.lines(), []string{"14:00:00  ok publish: publish demo@1.13.1: published", "publishing: 1.13 1/2"}; !slices.Equal(got, want) {
		t.Errorf("screen\n%q\nwant\n%q", got, want)
	}
	r.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: "publish"})
	r.Emit(pipeline.Event{Kind: pipeline.EventDone, Stage: "publish", Msg: "in 1s"})
	if got, want := tty.lines(), []string{"14:00:00  ok publish: publish demo@1.13.1: published", "14:00:00  ok publish: in 1s"}; !slices.Equal(got, want) {
		t.Errorf("screen\n%q\nwant\n%q", got, want)
	}

	for _, rep := range []*pipeline.Reporter{{Clock: clock}, {Clock: clock, JSON: true}} {
		var log bytes.Buffer
		rep.Out = &log
		rep.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: "publish", Msg: "publishing: 1.13 1/2"})
		if strings.Contains(log.String(), "publishing") || strings.Contains(log.String(), "\033[") {
			t.Errorf("a log (json %v) got the live line: %q", rep.JSON, log.String())
		}
	}
}

// A live part that would not fit the terminal is drawn in its shorter
// form, when its stage gave one, so that a narrow terminal keeps every
// line's counts; a wide one shows the whole part, and a part with no
// shorter form is cut.
func TestANarrowTerminalShowsTheShortFormOfTheLiveLine(t *testing.T) {
	clock := pipeline.NewFakeClock(time.Date(2026, 12, 1, 14, 0, 1, 0, time.UTC))
	const (
		whole = "publish T0+1s: 1.13 1 uploaded, 0/2 visible · 1.12 2 uploaded, 1/2 visible"
		short = "publish T0+1s: 1.13 0/2 visible · 1.12 1/2 visible"
	)
	for _, c := range []struct {
		width       int
		short, want string
	}{
		{100, short, whole},
		{60, short, short},
		{60, "", "publish T0+1s: 1.13 1 uploaded, 0/2 visible · 1.12 2 upl…"},
	} {
		tty := newScreen(c.width)
		r := &pipeline.Reporter{Out: tty, TTY: true, Clock: clock, Width: func() int { return tty.width }}
		r.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: "publish", Msg: whole, Short: c.short})
		lines := tty.lines()
		if got := lines[len(lines)-1]; got != c.want {
			t.Errorf("at %d columns (short form %q) the live line is\n%q\nwant\n%q", c.width, c.short, got, c.want)
		}
	}
}

// At 60 columns the countdown, longer than the terminal, is cut to it:
// each second's redraw replaces the last, with lines printed above it in
// between, and once T0 has come no copy of it is left in the scrollback.
func TestTheCountdownIsCutToTheTerminalAndLeavesNothingStale(t *testing.T) {
	clock := pipeline.NewFakeClock(time.Date(2026, 12, 1, 13, 59, 41, 0, time.UTC))
	tty := newScreen(60)
	r := &pipeline.Reporter{Out: tty, TTY: true, Clock: clock, Width: func() int { return tty.width }}
	const then = " to T0, then: push 2 line(s)' branches and tags, publish 4 version(s)"
	for left := 19; left > 0; left-- {
		r.Emit(pipeline.Event{Kind: pipeline.EventCountdown, Stage: "gate", Msg: "T-00:00:" + twoDigits(left) + then})
		if left%5 == 0 {
			r.Emit(pipeline.Event{Kind: pipeline.EventDone, Stage: "push", Step: "prepare", Msg: "4 ref(s) and 20 object(s) ready to push"})
		}
		lines := tty.lines()
		live := lines[len(lines)-1]
		if !strings.HasPrefix(live, "T-00:00:"+twoDigits(left)) || !strings.HasSuffix(live, "…") || utf8.RuneCountInString(live) > 60 {
			t.Fatalf("at T-%d the bottom row is %q: want the countdown cut to 60 columns", left, live)
		}
		if n := countdowns(lines); n != 1 {
			t.Fatalf("at T-%d the screen shows the countdown %d times:\n%s", left, n, strings.Join(lines, "\n"))
		}
		clock.Advance(time.Second)
	}
	r.Emit(pipeline.Event{Kind: pipeline.EventDone, Stage: "gate", Msg: "in 19s"})
	lines := tty.lines()
	if n := countdowns(lines); n != 0 {
		t.Errorf("after T0 the scrollback holds %d stale countdown rows:\n%s", n, strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if strings.Contains(l, "version(s)") || strings.Contains(l, "ublish 4") {
			t.Errorf("a piece of the countdown is left: %q", l)
		}
	}
	var want []string
	for _, at := range []string{"13:59:45", "13:59:50", "13:59:55"} {
		want = append(want, at+"  ok push: prepare: 4 ref(s) and 20 object(s) ready", "to push") // wrapped, as printed lines may
	}
	if want = append(want, "14:00:00  ok gate: in 19s"); !slices.Equal(lines, want) {
		t.Errorf("the scrollback is\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// A terminal made narrower rewraps the live line onto two rows; the
// redraw that follows the resize clears both and draws it cut to the new
// width, leaving the lines above it as they were.
func TestTheLiveLineFollowsAResize(t *testing.T) {
	clock := pipeline.NewFakeClock(time.Date(2026, 12, 1, 13, 59, 41, 0, time.UTC))
	tty := newScreen(100)
	r := &pipeline.Reporter{Out: tty, TTY: true, Clock: clock, Width: func() int { return tty.width }}
	r.Emit(pipeline.Event{Kind: pipeline.EventInfo, Stage: "gate", Msg: "holding until T0"})
	r.Emit(pipeline.Event{Kind: pipeline.EventCountdown, Stage: "gate", Msg: "T-00:00:19 to T0, then: push 2 line(s)' branches and tags, publish 4 version(s)"})
	for _, width := range []int{60, 40} {
		tty.resize(width)
		r.Redraw()
		lines := tty.lines()
		if want := []string{"13:59:41     gate: holding until T0"}; !slices.Equal(lines[:1], want) {
			t.Errorf("at %d columns the line above the live line is %q, want %q", width, lines[:1], want)
		}
		if len(lines) != 2 || !strings.HasPrefix(lines[1], "T-00:00:19") || utf8.RuneCountInString(lines[1]) >= width {
			t.Errorf("resized to %d columns, the screen is:\n%s", width, strings.Join(lines, "\n"))
		}
	}
}

// From T0 several stages are in flight at once: the live line shows each
// one's part in the pipeline's order, and a stage that ends takes its part
// away.
func TestTheLiveLineShowsEachStageInFlight(t *testing.T) {
	clock := pipeline.NewFakeClock(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC))
	tty := newScreen(140)
	r := &pipeline.Reporter{Out: tty, TTY: true, Clock: clock, Width: func() int { return tty.width }, Order: []string{"gate", "push", "promote", "publish"}}
	r.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: "publish", Msg: "publish 1.13: 1 uploaded, 0/2 visible"})
	r.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: "push", Msg: "push: waiting for the registry to take the first upload"})
	bottom := func() string { l := tty.lines(); return l[len(l)-1] }
	if got, want := bottom(), "push: waiting for the registry to take the first upload · publish 1.13: 1 uploaded, 0/2 visible"; got != want {
		t.Errorf("live line %q, want %q", got, want)
	}
	r.Emit(pipeline.Event{Kind: pipeline.EventDone, Stage: "push", Msg: "in 80ms"})
	if got, want := bottom(), "publish 1.13: 1 uploaded, 0/2 visible"; got != want {
		t.Errorf("once push is done the live line is %q, want %q", got, want)
	}
	r.ClearLive()
	if got := bottom(); got != "14:00:00  ok push: in 80ms" {
		t.Errorf("cleared, the bottom row is %q", got)
	}
}

func twoDigits(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }

func countdowns(lines []string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "T-") {
			n++
		}
	}
	return n
}
