package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The time axis of the timeline picture. A release's moments are far apart
// in scale: a CI job's preflight and gate take 45 minutes before T0, its
// writes come within a second after it, and a run interrupted at T0 may be
// resumed a day later. So the axis is in parts, each linear, with its
// ticks; between two parts, time in which nothing started, ended or was
// written is left out, and a break mark says how long. Two stretches are
// left out: the minutes before T0 that only the gate's wait fills, and a
// gap in which nothing ran at all (between a failed run and its re-run, a
// failed preflight and T0) when it is long beside what did run.

// timeSpan is an interval of the timeline: a stage's run.
type timeSpan struct{ from, to time.Time }

// axisPart is one linear part of the axis.
type axisPart struct {
	from, to time.Time
	x0, x1   float64
	// fromT0: the ticks count from T0 (T0, +1.5s, -44m); a part more
	// than a day from T0 shows the UTC time of day instead.
	fromT0 bool
}

func (p axisPart) instant() bool { return !p.to.After(p.from) }

// timeAxis maps times to x, part by part.
type timeAxis struct {
	t0    time.Time
	parts []axisPart
}

const (
	axisBreakGap   = 16.0 // between two parts: room for the break mark
	axisInstant    = 64.0 // the width of a part that is one instant (T0 alone)
	axisMinPart    = 90.0 // the least width of any other part
	axisFarFromT0  = 24 * time.Hour
	axisTickFont   = 11.0
	axisLabelSpace = 12.0 // between two tick labels
	// axisLabelOverhang is how far a tick's label may reach past either
	// end of the axis.
	axisLabelOverhang = 24.0
	maxAxisBreaks     = 4
)

// x is where t falls: in its part, or in the break between two parts when
// t was left out.
func (a timeAxis) x(t time.Time) float64 {
	for i, p := range a.parts {
		if t.Before(p.from) {
			if i == 0 {
				return p.x0
			}
			return (a.parts[i-1].x1 + p.x0) / 2
		}
		if !t.After(p.to) {
			if p.instant() {
				return (p.x0 + p.x1) / 2
			}
			return p.x0 + (p.x1-p.x0)*frac(t.Sub(p.from), p.to.Sub(p.from))
		}
	}
	return a.parts[len(a.parts)-1].x1
}

// shows is whether t is inside a part of the axis (not left out, not
// beyond either end).
func (a timeAxis) shows(t time.Time) bool {
	for _, p := range a.parts {
		if !t.Before(p.from) && !t.After(p.to) {
			return true
		}
	}
	return false
}

// axisBreak is a stretch of time left out between two parts, drawn at x.
type axisBreak struct {
	x float64
	d time.Duration
}

func (a timeAxis) breaks() []axisBreak {
	var out []axisBreak
	for i := 1; i < len(a.parts); i++ {
		prev, next := a.parts[i-1], a.parts[i]
		out = append(out, axisBreak{x: (prev.x1 + next.x0) / 2, d: next.from.Sub(prev.to)})
	}
	return out
}

func frac(d, of time.Duration) float64 {
	if of <= 0 {
		return 0
	}
	return float64(d) / float64(of)
}

// newTimeAxis lays out an axis from x0 to x1 for the runs (busy) and the
// instants (writes, T0) of a timeline.
func newTimeAxis(t0 time.Time, busy []timeSpan, instants []time.Time, x0, x1 float64) timeAxis {
	spans := slices.Clone(busy)
	for _, t := range append(slices.Clone(instants), t0) {
		spans = append(spans, timeSpan{t, t})
	}
	var events []time.Time
	for _, s := range spans {
		events = append(events, s.from, s.to)
	}
	slices.SortFunc(events, func(a, b time.Time) int { return a.Compare(b) })

	// What ran, merged: the gaps between are times nothing ran.
	slices.SortFunc(spans, func(a, b timeSpan) int { return a.from.Compare(b.from) })
	var ran []timeSpan
	for _, s := range spans {
		if n := len(ran); n > 0 && !s.from.After(ran[n-1].to) {
			if s.to.After(ran[n-1].to) {
				ran[n-1].to = s.to
			}
			continue
		}
		ran = append(ran, s)
	}

	var left []timeSpan
	var leftOut time.Duration
	// The minutes before T0 in which stages only waited for it: left out
	// when they dwarf what came after T0, keeping the last of them on the
	// scale of the writes.
	for _, r := range ran {
		if !r.from.Before(t0) || r.to.Before(t0) {
			continue
		}
		after := r.to.Sub(t0)
		end := t0.Add(-max(after/2, 50*time.Millisecond))
		i, _ := slices.BinarySearchFunc(events, end, func(e, t time.Time) int { return e.Compare(t) })
		if i == 0 {
			break
		}
		if last := events[i-1]; !last.Before(r.from) && end.Sub(last) > max(2*r.to.Sub(end), time.Second) {
			left = append(left, timeSpan{last, end})
			leftOut = end.Sub(last)
		}
	}
	// Stretches in which nothing ran at all, when long beside what ran.
	var ranFor time.Duration
	for _, r := range ran {
		ranFor += r.to.Sub(r.from)
	}
	ranFor -= leftOut
	var idle []timeSpan
	for i := 1; i < len(ran); i++ {
		g := timeSpan{ran[i-1].to, ran[i].from}
		if d := g.to.Sub(g.from); d > time.Second && d > ranFor/8 {
			idle = append(idle, g)
		}
	}
	slices.SortFunc(idle, func(a, b timeSpan) int { return int(b.to.Sub(b.from) - a.to.Sub(a.from)) })
	left = append(left, idle[:min(len(idle), maxAxisBreaks)]...)
	slices.SortFunc(left, func(a, b timeSpan) int { return a.from.Compare(b.from) })

	// The parts between, each with a margin that stays out of the breaks.
	var parts []axisPart
	from := events[0]
	for _, l := range left {
		parts = append(parts, axisPart{from: from, to: l.from})
		from = l.to
	}
	parts = append(parts, axisPart{from: from, to: events[len(events)-1]})
	for i := range parts {
		p := &parts[i]
		if p.instant() {
			continue
		}
		pad := max(p.to.Sub(p.from)/25, time.Millisecond)
		before, after := pad, pad
		if i > 0 {
			before = min(pad, left[i-1].to.Sub(left[i-1].from)/4)
		}
		if i < len(left) {
			after = min(pad, left[i].to.Sub(left[i].from)/4)
		}
		p.from, p.to = p.from.Add(-before), p.to.Add(after)
	}
	for i := range parts {
		p := &parts[i]
		p.fromT0 = absDuration(p.from.Sub(t0)) <= axisFarFromT0 || absDuration(p.to.Sub(t0)) <= axisFarFromT0 ||
			(!p.from.After(t0) && !p.to.Before(t0))
	}
	placeParts(parts, events, x0, x1)
	return timeAxis{t0: t0, parts: parts}
}

// placeParts shares the width among the parts: an instant gets a narrow
// stub, every other part at least axisMinPart and the rest by how many
// moments it holds, so that the busiest second gets the room.
func placeParts(parts []axisPart, events []time.Time, x0, x1 float64) {
	avail := x1 - x0 - axisBreakGap*float64(len(parts)-1)
	weight := make([]float64, len(parts))
	var flexible int
	var total float64
	for i, p := range parts {
		if p.instant() {
			continue
		}
		flexible++
		seen := map[int64]bool{}
		for _, e := range events {
			if !e.Before(p.from) && !e.After(p.to) {
				seen[e.UnixMilli()] = true
			}
		}
		weight[i] = float64(max(len(seen), 2))
		total += weight[i]
	}
	instantW := axisInstant
	if flexible == 0 {
		instantW = avail / float64(len(parts))
	}
	rest := avail - instantW*float64(len(parts)-flexible)
	least := min(axisMinPart, rest/float64(max(flexible, 1)))
	x := x0
	for i := range parts {
		w := instantW
		if !parts[i].instant() {
			w = least + (rest-least*float64(flexible))*weight[i]/total
		}
		parts[i].x0, parts[i].x1 = x, x+w
		x += w + axisBreakGap
	}
}

// axisTick is a labelled tick of the axis.
type axisTick struct {
	x     float64
	label string
}

var tickSteps = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour,
}

// ticks are the labelled ticks of the i-th part: the finest round step
// whose labels fit side by side, each label within its part and its half
// of the breaks beside it (the outer parts' labels may overhang the ends a
// little); a step that would leave fewer than two labels gives way to a
// coarser one.
func (a timeAxis) ticks(i int) []axisTick {
	p := a.parts[i]
	if p.instant() {
		return []axisTick{{x: (p.x0 + p.x1) / 2, label: a.tickLabel(p, p.from, 0)}}
	}
	lo, hi := p.x0-axisLabelOverhang, p.x1+axisLabelOverhang
	if i > 0 {
		lo = p.x0 - axisBreakGap/2 + 2
	}
	if i < len(a.parts)-1 {
		hi = p.x1 + axisBreakGap/2 - 2
	}
	width, span := p.x1-p.x0, p.to.Sub(p.from)
	var best []axisTick
	for _, step := range tickSteps {
		apart := width * frac(step, span)
		if apart < 20 {
			continue // far too many to label
		}
		var at []time.Time
		first := p.from.Truncate(step)
		if p.fromT0 {
			first = a.t0.Add(p.from.Sub(a.t0) / step * step)
		}
		for t := first; !t.After(p.to); t = t.Add(step) {
			if !t.Before(p.from) {
				at = append(at, t)
			}
		}
		var widest float64
		ticks := make([]axisTick, 0, len(at))
		for _, t := range at {
			tk := axisTick{x: a.x(t), label: a.tickLabel(p, t, step)}
			widest = max(widest, textWidth(tk.label, axisTickFont))
			ticks = append(ticks, tk)
		}
		if apart < widest+axisLabelSpace {
			continue
		}
		var kept []axisTick
		for _, tk := range ticks {
			half := textWidth(tk.label, axisTickFont) / 2
			if tk.x-half >= lo && tk.x+half <= hi {
				kept = append(kept, tk)
			}
		}
		if len(kept) >= 2 {
			return kept
		}
		if len(kept) > len(best) {
			best = kept
		}
	}
	return best
}

// tickLabel says when t is: from T0 (T0, +250ms, +1.5s, -44m) or, far
// from it, the UTC time of day to the precision of the step.
func (a timeAxis) tickLabel(p axisPart, t time.Time, step time.Duration) string {
	if !p.fromT0 {
		switch {
		case step >= time.Minute:
			return t.UTC().Format("15:04")
		case step >= time.Second || step == 0:
			return t.UTC().Format("15:04:05")
		}
		return t.UTC().Format("15:04:05." + strings.Repeat("0", decimals(step)))
	}
	d := t.Sub(a.t0)
	if d == 0 {
		return "T0"
	}
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	return sign + offsetString(d, step)
}

// decimals is how many decimals of a second a step below one needs.
func decimals(step time.Duration) int {
	switch {
	case step%(100*time.Millisecond) == 0:
		return 1
	case step%(10*time.Millisecond) == 0:
		return 2
	}
	return 3
}

// offsetString writes a tick's distance from T0 to the precision of the
// step: 250ms, 1.5s, 44m30s, 5h0m1s.
func offsetString(d, step time.Duration) string {
	if d < time.Second && step < time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	var b strings.Builder
	for _, u := range []struct {
		name string
		size time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}} {
		if d == 0 {
			return b.String()
		}
		if d >= u.size || b.Len() > 0 {
			fmt.Fprintf(&b, "%d%s", d/u.size, u.name)
			d %= u.size
		}
	}
	switch {
	case d == 0:
	case step < time.Second:
		s := strconv.FormatFloat(d.Seconds(), 'f', decimals(step), 64)
		b.WriteString(strings.TrimSuffix(strings.TrimRight(s, "0"), ".") + "s")
	default:
		fmt.Fprintf(&b, "%ds", d/time.Second)
	}
	return b.String()
}

// compactDuration writes a duration in its largest units, zeros left out:
// 3d2h, 44m30s, 1m, 4.2s, 250ms; to two units at most.
func compactDuration(d time.Duration) string {
	d = absDuration(d)
	if d < time.Second {
		return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + "ms"
	}
	if d < 10*time.Second {
		s := strconv.FormatFloat(d.Round(100*time.Millisecond).Seconds(), 'f', 1, 64)
		return strings.TrimSuffix(s, ".0") + "s"
	}
	units := []struct {
		name string
		size time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}
	for i, u := range units[:len(units)-1] {
		if d < u.size {
			continue
		}
		next := units[i+1]
		d = d.Round(next.size)
		if rest := d % u.size / next.size; rest > 0 {
			return fmt.Sprintf("%d%s%d%s", d/u.size, u.name, rest, next.name)
		}
		return fmt.Sprintf("%d%s", d/u.size, u.name)
	}
	return fmt.Sprintf("%ds", d.Round(time.Second)/time.Second)
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// textWidth estimates how wide a sans-serif text is at size px: an
// average glyph is a little over half the size.
func textWidth(s string, size float64) float64 {
	return float64(utf8.RuneCountInString(s)) * size * 0.6
}

// fitText cuts s to fit width at size px, marking the cut.
func fitText(s string, size, width float64) string {
	if textWidth(s, size) <= width {
		return s
	}
	r := []rune(s)
	n := max(int(width/(size*0.6))-3, 0)
	if n >= len(r) {
		return s
	}
	return strings.TrimRight(string(r[:n]), " ") + "..."
}
