package cli

import (
	"bytes"
	"fmt"
	"html"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// The timeline as an SVG picture, for the post-mortem: a bar a stage from
// its start to its end, coloured by how it ended, a mark at each public
// write, T0 as a line, and the deadline (T0 + window) as a line when it
// falls inside the picture, else named at the right edge.
//
// A release's stages span very different times: a CI job's preflight and
// gate can take 45 minutes before T0, its writes a second after. So the
// axis is in two parts when the time before T0 dwarfs the time after it:
// the part before T0 squeezed into the left quarter, a break mark where the
// scale changes, and the seconds around T0 on the rest.

const (
	svgWidth  = 960
	svgLeft   = 110 // the stage names
	svgRight  = 30
	svgTop    = 50
	svgRow    = 28
	svgBottom = 46
)

var svgStateColor = map[string]string{
	pipeline.StateDone: "#3a9a4f", pipeline.StateFailed: "#c8372d", pipeline.StateInterrupted: "#d99a1e",
	pipeline.StateRunning: "#d99a1e", pipeline.StateSkipped: "#b8b8b8", pipeline.StatePending: "#b8b8b8",
}

// axis maps times to x, in two linear parts split at br.
type axis struct {
	from, br, to time.Time
	x0, xBr, x1  float64
}

func (a axis) x(t time.Time) float64 {
	if t.Before(a.from) {
		t = a.from
	}
	if t.After(a.to) {
		t = a.to
	}
	if !a.br.IsZero() && t.Before(a.br) {
		return a.x0 + (a.xBr-a.x0)*frac(t.Sub(a.from), a.br.Sub(a.from))
	}
	start, xs := a.from, a.x0
	if !a.br.IsZero() {
		start, xs = a.br, a.xBr
	}
	return xs + (a.x1-xs)*frac(t.Sub(start), a.to.Sub(start))
}

func frac(d, of time.Duration) float64 {
	if of <= 0 {
		return 0
	}
	return float64(d) / float64(of)
}

// newAxis spans every stage's times and T0, with a margin; broken before
// T0 when that part is over four times as long as the rest.
func newAxis(st *Status, x0, x1 float64) axis {
	from, to := st.T0, st.T0
	for _, s := range st.Stages {
		for _, t := range []*time.Time{s.Started, s.Ended} {
			if t == nil {
				continue
			}
			if t.Before(from) {
				from = *t
			}
			if t.After(to) {
				to = *t
			}
		}
	}
	if d := st.Deadline; d.After(to) && d.Sub(to) < to.Sub(from) {
		to = d // a deadline close enough to show on the same scale
	}
	after := max(to.Sub(st.T0), time.Second)
	to = to.Add(after / 10)
	before := st.T0.Sub(from)
	a := axis{from: from, to: to, x0: x0, x1: x1}
	if before > 4*after {
		// The seconds before T0 that matter most (the last of the gate)
		// stay on the fine scale with the rest.
		a.br = st.T0.Add(-after / 2)
		a.xBr = x0 + (x1-x0)/4
	} else {
		a.from = from.Add(-max(before, after) / 10)
	}
	return a
}

// timelineSVG draws st.
func timelineSVG(st *Status) []byte {
	var b bytes.Buffer
	rows := len(st.Stages)
	height := svgTop + rows*svgRow + svgBottom
	ax := newAxis(st, svgLeft, svgWidth-svgRight)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, `<title>%s: timeline</title>`+"\n", esc(st.ID))
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", esc(st.ID))
	fmt.Fprintf(&b, `<text x="10" y="38" fill="#555">T0 %s · window %s · advisory due %s</text>`+"\n",
		esc(st.T0.UTC().Format("2006-01-02 15:04:05Z")), esc(st.Window), esc(st.Deadline.UTC().Format("2006-01-02 15:04:05Z")))
	bottom := svgTop + rows*svgRow
	for i, s := range st.Stages {
		y := svgTop + i*svgRow
		fmt.Fprintf(&b, `<text x="10" y="%d">%s</text>`+"\n", y+17, esc(s.Name))
		if s.Started != nil {
			end := st.Now
			if s.Ended != nil {
				end = *s.Ended
			}
			x0, x1 := ax.x(*s.Started), ax.x(end)
			fmt.Fprintf(&b, `<rect class="stage" data-stage="%s" data-state="%s" x="%.1f" y="%d" width="%.1f" height="%d" rx="3" fill="%s"><title>%s %s: %s to %s</title></rect>`+"\n",
				esc(s.Name), esc(s.State), x0, y+6, max(x1-x0, 2), svgRow-12, svgStateColor[s.State],
				esc(s.Name), esc(s.State), esc(s.Started.UTC().Format("15:04:05.000")), esc(end.UTC().Format("15:04:05.000")))
		}
		for _, step := range s.Steps {
			for _, m := range step.FirstMoments() {
				if !m.Public {
					continue
				}
				t, k := m.At, m.Name
				fmt.Fprintf(&b, `<circle class="write" cx="%.1f" cy="%d" r="4" fill="#1d4f91"><title>%s: %s %s (T0 %s)</title></circle>`+"\n",
					ax.x(t), y+svgRow/2, esc(step.Name), esc(k[:len(k)-3]), esc(t.UTC().Format("15:04:05.000")), esc(signed(t.Sub(st.T0))))
			}
		}
	}
	vline := func(t time.Time, label, color string) {
		x := ax.x(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="4 3"/>`+"\n", x, svgTop-4, x, bottom, color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n", x, bottom+16, color, esc(label))
	}
	vline(st.T0, "T0 "+st.T0.UTC().Format("15:04:05"), "#c8372d")
	if !st.Deadline.After(ax.to) {
		vline(st.Deadline, "deadline", "#8a4fb5")
	} else {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#8a4fb5">deadline T0 + %s →</text>`+"\n", svgWidth-svgRight, bottom+34, esc(st.Window))
	}
	if !ax.br.IsZero() {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">≈ %s before</text>`+"\n", ax.xBr, bottom+34, esc(st.T0.Sub(ax.from).Round(time.Second).String()))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#999"/>`+"\n", ax.xBr, svgTop-4, ax.xBr, bottom)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func esc(s string) string { return html.EscapeString(s) }
