package cli

import (
	"bytes"
	"fmt"
	"html"
	"slices"
	"strings"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// The timeline as an SVG picture, for the post-mortem: a row a stage, a bar
// for each of its runs from start to end coloured by how the run ended
// (a run interrupted and resumed is two bars), the error of a failed or
// interrupted run written under its bar, a dot at each public write, T0
// and the deadline as lines, a time axis with labelled ticks (timelineaxis.go:
// time in which nothing happens is left out at a break mark), and a
// legend.
//
// It is drawn alike by browsers, rsvg-convert and ImageMagick's own
// renderer: a shape's <title> (its tooltip) sits in a group around it, as
// ImageMagick drops a shape holding one; stroke is off unless a line sets
// it, as ImageMagick outlines every shape and text otherwise; and nothing
// relies on CSS, opacity, markers or clipping.

const (
	svgWidth  = 960
	svgLeft   = 110 // the stage names
	svgRight  = 30
	svgTop    = 64
	svgRow    = 28 // a stage's row; its bars are svgBar high, in its middle
	svgBar    = 16
	svgNote   = 14 // a line under the bars: why a run failed
	svgMargin = 10
)

var svgStateColor = map[string]string{
	pipeline.StateDone: "#3a9a4f", pipeline.StateFailed: "#c8372d", pipeline.StateInterrupted: "#d99a1e",
	pipeline.StateRunning: "#7aa6d6", pipeline.StateSkipped: "#b8b8b8", pipeline.StatePending: "#b8b8b8",
}

// svgNoteColor is a failed or interrupted run's colour for text.
var svgNoteColor = map[string]string{pipeline.StateFailed: "#a32d25", pipeline.StateInterrupted: "#94650f"}

const (
	svgWriteColor    = "#1d4f91"
	svgT0Color       = "#c8372d"
	svgDeadlineColor = "#8a4fb5"
	svgTextGrey      = "#555"
	svgGridColor     = "#e8e8e8"
	svgGridText      = "#999"
	svgAxisColor     = "#888"
)

// stageRun is one run of a stage: a bar.
type stageRun struct {
	from, to time.Time
	state    string
	err      string // why it failed or was interrupted
}

// cutOff is what a step attempt still running when a later run began
// tells: its run was killed or crashed.
const cutOff = "cut off: the run ended before the step did (killed or crashed)"

// stageRuns are the runs of a stage, oldest first. The journal keeps the
// stage's latest run; the runs before it are read from its steps'
// attempts: those begun before the latest run, a new run where a step
// begins again. Such a run ends at the last moment it recorded, and failed
// when a step failed or was cut off, interrupted when one was.
func stageRuns(s *pipeline.StageRecord, now time.Time) []stageRun {
	if s.Started == nil {
		return nil
	}
	type attempt struct {
		step string
		*pipeline.Attempt
	}
	var earlier []attempt
	for _, st := range s.Steps {
		for _, a := range st.Attempts {
			if a.Started != nil && a.Started.Before(*s.Started) {
				earlier = append(earlier, attempt{st.Name, a})
			}
		}
	}
	slices.SortStableFunc(earlier, func(a, b attempt) int { return a.Started.Compare(*b.Started) })
	var runs []stageRun
	var steps map[string]bool
	for _, a := range earlier {
		if steps == nil || steps[a.step] {
			runs = append(runs, stageRun{from: *a.Started, to: *a.Started, state: pipeline.StateDone})
			steps = map[string]bool{}
		}
		steps[a.step] = true
		r := &runs[len(runs)-1]
		if a.Ended != nil && a.Ended.After(r.to) {
			r.to = *a.Ended
		}
		state, err := a.State, a.Error
		if state == pipeline.StateRunning {
			state, err = pipeline.StateFailed, cutOff
		}
		switch {
		case state == pipeline.StateFailed && r.state != pipeline.StateFailed:
			r.state, r.err = state, err
		case state == pipeline.StateInterrupted && r.state == pipeline.StateDone:
			r.state, r.err = state, err
		}
	}
	latest := stageRun{from: *s.Started, to: now, state: s.State, err: s.Error}
	if s.Ended != nil {
		latest.to = *s.Ended
	}
	if latest.to.Before(latest.from) {
		latest.to = latest.from // still running, seen from a clock behind the run's
	}
	return append(runs, latest)
}

func oneLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(first)
}

// timelineWrite is a public write: a dot.
type timelineWrite struct {
	step, what string
	at         time.Time
}

// timelineRow is a stage's row.
type timelineRow struct {
	stage   *pipeline.StageRecord
	runs    []stageRun
	skipped *time.Time
	writes  []timelineWrite
	y       int
}

// notes are the runs that say why they failed, one line each under the
// bars.
func (r timelineRow) notes() []stageRun {
	var out []stageRun
	for _, run := range r.runs {
		if run.err != "" && (run.state == pipeline.StateFailed || run.state == pipeline.StateInterrupted) {
			out = append(out, run)
		}
	}
	return out
}

func (r timelineRow) height() int { return svgRow + svgNote*len(r.notes()) }

// timelineSVG draws st.
func timelineSVG(st *Status) []byte {
	rows := make([]timelineRow, len(st.Stages))
	var busy []timeSpan
	var instants []time.Time
	for i, s := range st.Stages {
		r := &rows[i]
		r.stage = s
		for _, run := range stageRuns(s, st.Now) {
			if run.state == pipeline.StateSkipped {
				r.skipped = &run.from
				instants = append(instants, run.from)
				continue
			}
			r.runs = append(r.runs, run)
			busy = append(busy, timeSpan{run.from, run.to})
		}
		for _, step := range s.Steps {
			for _, m := range step.FirstMoments() {
				if !m.Public {
					continue
				}
				t, k := m.At, m.Name
				r.writes = append(r.writes, timelineWrite{step: step.Name, what: strings.TrimSuffix(k, "_at"), at: t})
				instants = append(instants, t)
			}
		}
	}
	ax := newTimeAxis(st.T0, busy, instants, svgLeft, svgWidth-svgRight)
	y := svgTop
	for i := range rows {
		rows[i].y = y
		y += rows[i].height()
	}
	bottom := y
	axisY := bottom + 4
	legendY := axisY + 48

	var b bytes.Buffer
	var body bytes.Buffer
	legend := drawLegend(&body, rows, ax, st, legendY)
	height := legendY + 18*legend + svgMargin
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12" stroke="none">`+"\n", svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, `<title>%s: timeline</title>`+"\n", esc(st.ID))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", svgWidth, height)
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", esc(st.ID))
	fmt.Fprintf(&b, `<text x="10" y="38" fill="%s">T0 %s · window %s · advisory due %s</text>`+"\n", svgTextGrey,
		esc(st.T0.UTC().Format("2006-01-02 15:04:05Z")), esc(windowWords(st.Window)), esc(st.Deadline.UTC().Format("2006-01-02 15:04:05Z")))

	// Grid lines at the ticks, under everything.
	var ticks [][]axisTick
	for i := range ax.parts {
		tk := ax.ticks(i)
		ticks = append(ticks, tk)
		for _, t := range tk {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", t.x, svgTop-4, t.x, bottom, svgGridColor)
		}
	}

	for _, r := range rows {
		drawBars(&b, r, ax)
	}

	// The breaks cut through the bars and the axis, not through what is
	// written or marked on them.
	for _, br := range ax.breaks() {
		fmt.Fprintf(&b, `<rect class="break" x="%.1f" y="%d" width="8" height="%d" fill="#ffffff"/>`+"\n", br.x-4, svgTop-6, axisY+6-(svgTop-6))
		breakMark(&b, br.x, float64(axisY))
		fmt.Fprintf(&b, `<text class="left-out" x="%.1f" y="%d" text-anchor="middle" font-size="11" fill="%s">%s</text>`+"\n", br.x, axisY+31, svgTextGrey, esc(compactDuration(br.d)))
	}
	fmt.Fprintf(&b, `<line class="t0" x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="4 3"/>`+"\n",
		ax.x(st.T0), svgTop-4, ax.x(st.T0), bottom, svgT0Color)
	if ax.shows(st.Deadline) {
		x := ax.x(st.Deadline)
		fmt.Fprintf(&b, `<line class="deadline" x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="4 3"/>`+"\n", x, svgTop-4, x, bottom, svgDeadlineColor)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="end" fill="%s">deadline</text>`+"\n", x+2, svgTop-8, svgDeadlineColor)
	} else {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="%s">deadline T0 + %s →</text>`+"\n", svgWidth-svgRight, svgTop-8, svgDeadlineColor, esc(windowWords(st.Window)))
	}

	// What is written and marked on the rows, over the lines.
	for _, r := range rows {
		drawMarks(&b, r, ax, st.T0)
	}

	// The axis: each part with its ticks; a part far from T0 names its day.
	for i, p := range ax.parts {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", p.x0, axisY, p.x1, axisY, svgAxisColor)
		for _, t := range ticks[i] {
			color := svgTextGrey
			if t.label == "T0" {
				color = svgT0Color
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", t.x, axisY, t.x, axisY+5, svgAxisColor)
			fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%d" text-anchor="middle" font-size="11" fill="%s">%s</text>`+"\n", t.x, axisY+17, color, esc(t.label))
		}
		if !p.fromT0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="11" fill="%s">%s UTC</text>`+"\n", (p.x0+p.x1)/2, axisY+31, svgTextGrey, p.from.UTC().Format("2006-01-02"))
		}
	}
	b.Write(body.Bytes())
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// drawBars draws a stage's name and its runs.
func drawBars(b *bytes.Buffer, r timelineRow, ax timeAxis) {
	s := r.stage
	fmt.Fprintf(b, `<text x="10" y="%d">%s</text>`+"\n", r.y+svgRow/2+4, esc(s.Name))
	barY := r.y + (svgRow-svgBar)/2
	for i, run := range r.runs {
		x0, x1 := ax.x(run.from), ax.x(run.to)
		tip := fmt.Sprintf("%s %s: %s to %s", s.Name, run.state, run.from.UTC().Format("15:04:05.000"), run.to.UTC().Format("15:04:05.000"))
		if run.err != "" {
			tip += ": " + oneLine(run.err)
		}
		fmt.Fprintf(b, `<g><title>%s</title><rect class="stage" data-stage="%s" data-state="%s" data-run="%d" x="%.1f" y="%d" width="%.1f" height="%d" rx="3" fill="%s" stroke="none"/></g>`+"\n",
			esc(tip), esc(s.Name), esc(run.state), i+1, x0, barY, max(x1-x0, 2), svgBar, svgStateColor[run.state])
	}
}

// drawMarks draws, over a stage's bars, why its runs failed, why it was
// skipped or that it has not run, and its public writes.
func drawMarks(b *bytes.Buffer, r timelineRow, ax timeAxis, t0 time.Time) {
	s := r.stage
	if s.State == pipeline.StatePending && len(r.runs) == 0 {
		fmt.Fprintf(b, `<text class="pending" data-stage="%s" x="%d" y="%d" font-size="11" fill="%s">pending</text>`+"\n",
			esc(s.Name), svgLeft+4, r.y+svgRow/2+4, svgGridText)
	}
	for i, run := range r.notes() {
		// Under the bar, towards the side with more room.
		x0, x1 := ax.x(run.from), max(ax.x(run.to), ax.x(run.from)+2)
		y := r.y + svgRow + svgNote*i + 7
		text := strings.Join(strings.Fields(run.err), " ")
		if !strings.HasPrefix(text, run.state) {
			text = run.state + ": " + text // an interrupted stage's says so itself
		}
		anchor, x, room := "start", x0, float64(svgWidth-svgMargin)-x0
		if left := x1 - svgMargin; left > room {
			anchor, x, room = "end", x1, left
		}
		fmt.Fprintf(b, `<g><title>%s</title><text class="note" data-stage="%s" x="%.1f" y="%d" text-anchor="%s" font-size="11" fill="%s">%s</text></g>`+"\n",
			esc(text), esc(s.Name), x, y, anchor, svgNoteColor[run.state], esc(fitText(text, 11, room)))
	}
	if r.skipped != nil {
		text := "skipped"
		if s.Note != "" {
			text += ": " + oneLine(s.Note)
		}
		room := float64(svgWidth - svgMargin - svgLeft)
		text = fitText(text, 11, room)
		x := min(ax.x(*r.skipped), float64(svgWidth-svgMargin)-textWidth(text, 11))
		fmt.Fprintf(b, `<text class="skip" data-stage="%s" x="%.1f" y="%d" font-size="11" fill="%s">%s</text>`+"\n",
			esc(s.Name), max(x, svgLeft), r.y+svgRow/2+4, svgTextGrey, esc(text))
	}
	for _, w := range r.writes {
		fmt.Fprintf(b, `<g><title>%s: %s %s (T0 %s)</title><circle class="write" data-stage="%s" cx="%.1f" cy="%d" r="4" fill="%s" stroke="none"/></g>`+"\n",
			esc(w.step), esc(w.what), esc(w.at.UTC().Format("15:04:05.000")), esc(signed(w.at.Sub(t0))), esc(s.Name), ax.x(w.at), r.y+svgRow/2, svgWriteColor)
	}
}

// breakMark draws the mark of time left out on the axis at x: two slashes.
func breakMark(b *bytes.Buffer, x, y float64) {
	for _, dx := range []float64{-3, 3} {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5"/>`+"\n", x+dx-3, y+5, x+dx+3, y-5, svgTextGrey)
	}
}

// drawLegend says what the colours, the dots, the lines and the breaks
// mean, for what the picture shows, from y; it returns the lines it took.
func drawLegend(b *bytes.Buffer, rows []timelineRow, ax timeAxis, st *Status, y int) int {
	present := map[string]bool{}
	writes := false
	for _, r := range rows {
		for _, run := range r.runs {
			present[run.state] = true
		}
		writes = writes || len(r.writes) > 0
	}
	type item struct {
		label string
		mark  func(x, y float64)
	}
	var items []item
	for _, state := range []string{pipeline.StateDone, pipeline.StateFailed, pipeline.StateInterrupted, pipeline.StateRunning} {
		if present[state] {
			items = append(items, item{state, func(x, y float64) {
				fmt.Fprintf(b, `<rect class="legend" data-state="%s" x="%.1f" y="%.1f" width="18" height="10" rx="2" fill="%s" stroke="none"/>`+"\n", state, x, y-9, svgStateColor[state])
			}})
		}
	}
	if writes {
		items = append(items, item{"public write", func(x, y float64) {
			fmt.Fprintf(b, `<circle class="legend" cx="%.1f" cy="%.1f" r="4" fill="%s" stroke="none"/>`+"\n", x+9, y-4, svgWriteColor)
		}})
	}
	line := func(color string) func(x, y float64) {
		return func(x, y float64) {
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="4 3"/>`+"\n", x+9, y-11, x+9, y+2, color)
		}
	}
	items = append(items, item{"T0", line(svgT0Color)})
	if ax.shows(st.Deadline) {
		items = append(items, item{"deadline (T0 + window)", line(svgDeadlineColor)})
	}
	if len(ax.breaks()) > 0 {
		items = append(items, item{"time left out (how long, under the axis)", func(x, y float64) { breakMark(b, x+9, y-4) }})
	}
	lines, x := 1, float64(10)
	fy := float64(y)
	for _, it := range items {
		w := 24 + textWidth(it.label, 11) + 16
		if x+w > svgWidth-svgMargin && x > 10 {
			lines, x, fy = lines+1, 10, fy+18
		}
		it.mark(x, fy)
		fmt.Fprintf(b, `<text class="legend" x="%.1f" y="%.1f" font-size="11" fill="%s">%s</text>`+"\n", x+24, fy, svgTextGrey, esc(it.label))
		x += w
	}
	return lines
}

func esc(s string) string { return html.EscapeString(s) }
