package cli

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

var timelineT0 = time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)

// sinceT0 is T0 + d.
func sinceT0(d time.Duration) *time.Time { v := timelineT0.Add(d); return &v }

func momentAt(key string, d time.Duration) map[string]string {
	return map[string]string{key: sinceT0(d).Format(time.RFC3339Nano)}
}

// attemptAt is a step attempt from T0+from to T0+to.
func attemptAt(from, to time.Duration, state, err string, moments map[string]string) *pipeline.Attempt {
	return &pipeline.Attempt{Started: sinceT0(from), Ended: sinceT0(to), State: state, Error: err, Moments: moments}
}

func timelineStatus(stages ...*pipeline.StageRecord) *Status {
	now := timelineT0
	for _, s := range stages {
		if s.Ended != nil && s.Ended.After(now) {
			now = *s.Ended
		}
	}
	return &Status{ID: "ASYNC-STD-SA-2026-001", T0: timelineT0, Window: "6h0m0s", Deadline: timelineT0.Add(6 * time.Hour), Now: now, Stages: stages}
}

// ciRelease is a CI release whose job started 45 minutes before T0 and
// whose writes came in the second after it; its advisory failed.
func ciRelease() *Status {
	return timelineStatus(
		&pipeline.StageRecord{Name: "preflight", State: pipeline.StateDone, Started: sinceT0(-45 * time.Minute), Ended: sinceT0(-44 * time.Minute)},
		&pipeline.StageRecord{Name: "gate", State: pipeline.StateDone, Started: sinceT0(-44 * time.Minute), Ended: sinceT0(time.Millisecond)},
		&pipeline.StageRecord{Name: "publish", State: pipeline.StateDone, Started: sinceT0(-44 * time.Minute), Ended: sinceT0(2 * time.Second), Steps: []*pipeline.StepRecord{
			{Name: "publish a@1.0.1", First: momentAt("uploaded_at", 12*time.Millisecond), Public: []string{"uploaded_at"}},
			{Name: "publish b@1.0.1", First: momentAt("uploaded_at", 1100*time.Millisecond), Public: []string{"uploaded_at"}},
		}},
		&pipeline.StageRecord{Name: "advisory", State: pipeline.StateFailed, Started: sinceT0(2 * time.Second), Ended: sinceT0(3 * time.Second), Error: "push the post: the blog refused the token"},
		&pipeline.StageRecord{Name: "verify", State: pipeline.StatePending},
	)
}

// resumedRelease is a release interrupted (Ctrl-C) 1.2 s after T0 while
// publish uploaded b, and resumed two minutes later from publish: the
// journal's publish is the second run, the first is in its steps'
// attempts, and so are the first upload and the push made before.
func resumedRelease() *Status {
	return timelineStatus(
		&pipeline.StageRecord{Name: "preflight", State: pipeline.StateDone, Started: sinceT0(-45 * time.Minute), Ended: sinceT0(-44 * time.Minute)},
		&pipeline.StageRecord{Name: "gate", State: pipeline.StateDone, Started: sinceT0(-44 * time.Minute), Ended: sinceT0(time.Millisecond)},
		&pipeline.StageRecord{Name: "push", State: pipeline.StateDone, Started: sinceT0(-44 * time.Minute), Ended: sinceT0(60 * time.Millisecond), Steps: []*pipeline.StepRecord{
			{Name: "push", First: momentAt("pushed_at", 30*time.Millisecond), Public: []string{"pushed_at"}, Attempts: []*pipeline.Attempt{
				attemptAt(2*time.Millisecond, 50*time.Millisecond, pipeline.StateDone, "", momentAt("pushed_at", 30*time.Millisecond))}},
		}},
		&pipeline.StageRecord{Name: "publish", State: pipeline.StateDone, Started: sinceT0(2 * time.Minute), Ended: sinceT0(2*time.Minute + time.Second), Steps: []*pipeline.StepRecord{
			{Name: "held", Attempts: []*pipeline.Attempt{
				attemptAt(-44*time.Minute, -44*time.Minute+20*time.Millisecond, pipeline.StateDone, "", nil),
				attemptAt(2*time.Minute, 2*time.Minute+10*time.Millisecond, pipeline.StateDone, "", nil)}},
			{Name: "publish a@1.0.1", First: momentAt("uploaded_at", 12*time.Millisecond), Public: []string{"uploaded_at"}, Attempts: []*pipeline.Attempt{
				attemptAt(5*time.Millisecond, 200*time.Millisecond, pipeline.StateDone, "", momentAt("uploaded_at", 12*time.Millisecond)),
				attemptAt(2*time.Minute+20*time.Millisecond, 2*time.Minute+50*time.Millisecond, pipeline.StateDone, "", nil)}},
			{Name: "publish b@1.0.1", First: momentAt("uploaded_at", 2*time.Minute+300*time.Millisecond), Public: []string{"uploaded_at"}, Attempts: []*pipeline.Attempt{
				attemptAt(210*time.Millisecond, 1200*time.Millisecond, pipeline.StateInterrupted, "index: GET the index entry of b: context canceled", nil),
				attemptAt(2*time.Minute+60*time.Millisecond, 2*time.Minute+900*time.Millisecond, pipeline.StateDone, "", momentAt("uploaded_at", 2*time.Minute+300*time.Millisecond))}},
		}},
		&pipeline.StageRecord{Name: "advisory", State: pipeline.StateDone, Started: sinceT0(2*time.Minute + time.Second), Ended: sinceT0(2*time.Minute + 2*time.Second), Steps: []*pipeline.StepRecord{
			{Name: "push", First: momentAt("pushed_at", 2*time.Minute+1500*time.Millisecond), Public: []string{"pushed_at"}},
		}},
	)
}

// failedPreflight is a preflight that failed three days before T0.
func failedPreflight() *Status {
	return timelineStatus(
		&pipeline.StageRecord{Name: "preflight", State: pipeline.StateFailed, Started: sinceT0(-72 * time.Hour), Ended: sinceT0(-72*time.Hour + 1500*time.Millisecond),
			Error: "1 problem:\n  - release 1.12: held branch embargo/1.11 does not exist in the source repository\n      fix: create the held branch, or correct release[2].branch"},
		&pipeline.StageRecord{Name: "gate", State: pipeline.StatePending},
		&pipeline.StageRecord{Name: "publish", State: pipeline.StatePending},
	)
}

// svgNode is an element of a drawn timeline: its name, attributes and
// text.
type svgNode struct {
	name string
	attr map[string]string
	text string
}

func (n svgNode) num(t *testing.T, key string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(n.attr[key], 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.name, key, n.attr[key], err)
	}
	return v
}

// parseTimeline reads every element of a drawn timeline, failing on XML
// that is not well-formed.
func parseTimeline(t *testing.T, svg []byte) []svgNode {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	var nodes []svgNode
	var open []int
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nodes
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := svgNode{name: tok.Name.Local, attr: map[string]string{}}
			for _, a := range tok.Attr {
				n.attr[a.Name.Local] = a.Value
			}
			open = append(open, len(nodes))
			nodes = append(nodes, n)
		case xml.CharData:
			if len(open) > 0 {
				nodes[open[len(open)-1]].text += string(tok)
			}
		case xml.EndElement:
			open = open[:len(open)-1]
		}
	}
}

func having(nodes []svgNode, name, class string) []svgNode {
	var out []svgNode
	for _, n := range nodes {
		if n.name == name && n.attr["class"] == class {
			out = append(out, n)
		}
	}
	return out
}

// tickOffset reads a tick label counted from T0 (T0, +250ms, -44m30s).
func tickOffset(t *testing.T, label string) time.Duration {
	t.Helper()
	if label == "T0" {
		return 0
	}
	d, err := time.ParseDuration(label)
	if err != nil || (label[0] != '+' && label[0] != '-') {
		t.Fatalf("tick label %q is not an offset from T0: %v", label, err)
	}
	return d
}

// The timeline of a CI release, whose job started 45 minutes before T0
// and whose writes came in the second after it: every stage that ran is
// drawn, each public write marked, and the minutes before T0 are left out
// at a labelled break, so that the writes stay apart; either side of the
// break the axis is linear and its ticks say so.
func TestTimelineAxisIsLinearBetweenBreaksWithLabelledTicks(t *testing.T) {
	svg := timelineSVG(ciRelease())
	nodes := parseTimeline(t, svg)
	bars := having(nodes, "rect", "stage")
	for _, name := range []string{"preflight", "gate", "publish", "advisory"} {
		if !slices.ContainsFunc(bars, func(n svgNode) bool { return n.attr["data-stage"] == name }) {
			t.Errorf("no bar for %s", name)
		}
	}
	if slices.ContainsFunc(bars, func(n svgNode) bool { return n.attr["data-stage"] == "verify" }) {
		t.Error("a stage that never started has a bar")
	}
	t0x := math.NaN() // the T0 line across the rows
	for _, n := range nodes {
		if n.name == "line" && n.attr["stroke"] == "#c8372d" && n.num(t, "y2")-n.num(t, "y1") > 100 {
			t0x = n.num(t, "x1")
		}
	}
	if math.IsNaN(t0x) {
		t.Fatal("no T0 line")
	}
	writes := having(nodes, "circle", "write")
	if len(writes) != 2 {
		t.Fatalf("%d write marks, want 2", len(writes))
	}
	first, second := writes[0].num(t, "cx"), writes[1].num(t, "cx")
	if !(t0x < first && first+50 < second) {
		t.Errorf("T0 at x=%.1f, writes at %.1f and %.1f: want both after T0 and a second apart visibly", t0x, first, second)
	}

	breaks := having(nodes, "rect", "break")
	labels := having(nodes, "text", "left-out")
	if len(breaks) != 1 || len(labels) != 1 {
		t.Fatalf("%d breaks and %d break labels, want the minutes before T0 left out at one", len(breaks), len(labels))
	}
	bx := breaks[0].num(t, "x") + breaks[0].num(t, "width")/2
	if left, err := time.ParseDuration(labels[0].text); err != nil || left < 43*time.Minute || left > 44*time.Minute {
		t.Errorf("the break says %q left out, want about 44m", labels[0].text)
	}
	var preflightEnd float64
	for _, b := range bars {
		if b.attr["data-stage"] == "preflight" {
			preflightEnd = b.num(t, "x") + b.num(t, "width")
		}
	}
	if !(preflightEnd < bx && bx < t0x) {
		t.Errorf("the break is at x=%.1f, want it between the preflight's end (%.1f) and T0 (%.1f)", bx, preflightEnd, t0x)
	}

	// Either side of the break, x grows with the time its ticks say, at
	// one scale a side.
	type tick struct {
		x float64
		d time.Duration
	}
	var sides [2][]tick
	for _, n := range having(nodes, "text", "tick") {
		tk := tick{n.num(t, "x"), tickOffset(t, n.text)}
		if n.text == "T0" && math.Abs(tk.x-t0x) > 0.5 {
			t.Errorf("the tick T0 is at x=%.1f, the T0 line at %.1f", tk.x, t0x)
		}
		side := 0
		if tk.x > bx {
			side = 1
		}
		sides[side] = append(sides[side], tk)
	}
	for i, side := range sides {
		if len(side) < 3 {
			t.Fatalf("side %d of the break has %d ticks, want at least 3: %v", i, len(side), side)
		}
		scale := (side[len(side)-1].x - side[0].x) / float64(side[len(side)-1].d-side[0].d)
		for _, tk := range side[1:] {
			want := side[0].x + scale*float64(tk.d-side[0].d)
			if math.Abs(tk.x-want) > 0.5 || tk.d <= side[0].d {
				t.Errorf("side %d: the tick %s is at x=%.1f, want %.1f on a linear axis: %v", i, tk.d, tk.x, want, side)
			}
		}
	}
	if !slices.ContainsFunc(sides[1], func(tk tick) bool { return tk.d == 0 }) {
		t.Errorf("no tick at T0 among %v", sides[1])
	}
	if !strings.Contains(string(svg), "deadline T0 + 6h →") {
		t.Error("the deadline beyond the picture is not named")
	}
}

// A release interrupted after T0 and resumed two minutes later: publish
// is drawn as two runs, the first interrupted with its error under it, and
// every public write falls on a run of its stage, the first upload on the
// first run.
func TestTimelineDrawsEveryRunOfAResumedStage(t *testing.T) {
	nodes := parseTimeline(t, timelineSVG(resumedRelease()))
	var publish []svgNode
	for _, b := range having(nodes, "rect", "stage") {
		if b.attr["data-stage"] == "publish" {
			publish = append(publish, b)
		}
	}
	if len(publish) != 2 || publish[0].attr["data-state"] != pipeline.StateInterrupted || publish[1].attr["data-state"] != pipeline.StateDone {
		t.Fatalf("publish is drawn as %v, want an interrupted run and the done one", publish)
	}
	if publish[0].num(t, "x")+publish[0].num(t, "width") >= publish[1].num(t, "x") {
		t.Errorf("the interrupted run %v does not end before the resumed one %v", publish[0].attr, publish[1].attr)
	}
	writes := having(nodes, "circle", "write")
	if len(writes) != 4 {
		t.Fatalf("%d writes drawn, want the push, the two uploads and the advisory's push", len(writes))
	}
	for _, w := range writes {
		cx := w.num(t, "cx")
		on := slices.ContainsFunc(having(nodes, "rect", "stage"), func(b svgNode) bool {
			return b.attr["data-stage"] == w.attr["data-stage"] && b.num(t, "x")-1 <= cx && cx <= b.num(t, "x")+b.num(t, "width")+1
		})
		if !on {
			t.Errorf("the write of %s at x=%.1f falls on no run of its stage", w.attr["data-stage"], cx)
		}
	}
	notes := having(nodes, "text", "note")
	if len(notes) != 1 || notes[0].attr["data-stage"] != "publish" || notes[0].text != "interrupted: index: GET the index entry of b: context canceled" {
		t.Errorf("the interrupted run says %v, want its error under it", notes)
	}
	if labels := having(nodes, "text", "left-out"); !slices.ContainsFunc(labels, func(n svgNode) bool { return strings.HasPrefix(n.text, "1m5") }) {
		t.Errorf("breaks %v: want the two minutes nothing ran left out", labels)
	}
}

// A preflight that failed three days before T0 is a bar across the
// picture with its error under it, not a sliver beside T0; the three days
// are left out; the legend says what the colours and marks mean.
func TestTimelineSaysWhyAFailedPreflightFailedAndHasALegend(t *testing.T) {
	nodes := parseTimeline(t, timelineSVG(failedPreflight()))
	bars := having(nodes, "rect", "stage")
	if len(bars) != 1 || bars[0].attr["data-state"] != pipeline.StateFailed || bars[0].num(t, "width") < 400 {
		t.Fatalf("bars %v: want the failed preflight across most of the picture", bars)
	}
	notes := having(nodes, "text", "note")
	if len(notes) != 1 || !strings.HasPrefix(notes[0].text, "failed: 1 problem: - release 1.12: held branch embargo/1.11 does not exist") {
		t.Errorf("the failed preflight says %v, want its error", notes)
	}
	if labels := having(nodes, "text", "left-out"); len(labels) != 1 || labels[0].text != "3d" {
		t.Errorf("breaks %v: want the three days before T0 left out", labels)
	}
	var legend []string
	for _, n := range having(nodes, "text", "legend") {
		legend = append(legend, n.text)
	}
	for _, want := range []string{"failed", "T0", "time left out (how long, under the axis)"} {
		if !slices.Contains(legend, want) {
			t.Errorf("the legend %q lacks %q", legend, want)
		}
	}
	for _, n := range having(nodes, "rect", "legend") {
		if n.attr["fill"] != svgStateColor[n.attr["data-state"]] {
			t.Errorf("the legend's %s is %s, its bars %s", n.attr["data-state"], n.attr["fill"], svgStateColor[n.attr["data-state"]])
		}
	}
	if pending := having(nodes, "text", "pending"); len(pending) != 2 {
		t.Errorf("%d stages say they are pending, want gate and publish", len(pending))
	}
}
