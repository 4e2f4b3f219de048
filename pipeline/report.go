package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Event kinds.
const (
	EventStart     = "start"
	EventDone      = "done"
	EventSkip      = "skip"
	EventFail      = "fail"
	EventInfo      = "info"
	EventWarn      = "warn"
	EventCountdown = "countdown"
	// EventLive replaces the stage's part of the live line on a terminal
	// (its progress); an empty message removes it. Logs and JSON get the
	// events it sums up instead.
	EventLive = "live"
	// EventInterrupted ends a stage the operator stopped (Ctrl-C,
	// SIGTERM): nothing failed, and a re-run resumes it.
	EventInterrupted = "interrupted"
	EventReport      = "report"
)

// Event is one line of --json output.
type Event struct {
	Time  time.Time      `json:"time"`
	Kind  string         `json:"event"`
	Stage string         `json:"stage,omitempty"`
	Step  string         `json:"step,omitempty"`
	Msg   string         `json:"msg,omitempty"`
	Data  map[string]any `json:"data,omitempty"`
	// Short is a live part's shorter form, drawn instead of Msg when the
	// whole live line would not fit the terminal: the counts kept, the
	// words cut. Live parts are never printed as JSON.
	Short string `json:"-"`
}

// Reporter prints events for people or, with JSON, one object a line for
// machines. Everything passes through the scrubber first.
type Reporter struct {
	Out     io.Writer
	JSON    bool
	Quiet   bool
	Verbose bool
	// TTY enables the live line: the countdown and the stages' progress,
	// kept in place at the bottom of the terminal.
	TTY bool
	// Width, when set, is the terminal's width in columns now (0 when
	// unknown): the live line is cut to fit it, since a line that wraps
	// cannot be redrawn in place and leaves a stale copy at each redraw.
	Width func() int
	// Order is the stages in the pipeline's order, the order of their
	// parts on the live line.
	Order []string
	// Color marks outcomes in colour: on a terminal, unless NO_COLOR is
	// set (https://no-color.org) or TERM is dumb.
	Color bool
	Clock Clock
	Scrub func(string) string

	mu sync.Mutex
	// parts are the live line's, by stage (the countdown, the push, the
	// publishes): the line kept at the bottom of a terminal, drawn again
	// under each line printed above it.
	parts map[string]string
	// shorts are the parts' shorter forms, where a stage gave one.
	shorts map[string]string
	// drawn is how many columns of the live line are on the screen, and
	// drawnAt the width it was drawn at.
	drawn, drawnAt int
	// screen is what is to be written next, in one write.
	screen strings.Builder
}

// NewReporter writes to w; TTY is detected when w is a terminal.
func NewReporter(w io.Writer, jsonOut bool, clock Clock, scrub func(string) string) *Reporter {
	r := &Reporter{Out: w, JSON: jsonOut, Clock: clock, Scrub: scrub}
	if f, ok := w.(*os.File); ok && !jsonOut {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			r.TTY = true
		}
	}
	return r
}

func (r *Reporter) scrub(s string) string {
	if r.Scrub == nil {
		return s
	}
	return r.Scrub(s)
}

// Emit prints one event.
func (r *Reporter) Emit(ev Event) {
	if r == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = r.Clock.Now()
	}
	ev.Msg, ev.Short = r.scrub(ev.Msg), r.scrub(ev.Short)
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev.Kind == EventLive && (r.JSON || !r.TTY) {
		return
	}
	if r.JSON {
		b, err := json.Marshal(ev)
		if err != nil {
			return
		}
		fmt.Fprintln(r.Out, r.scrub(string(b)))
		return
	}
	if r.Quiet && ev.Kind != EventFail && ev.Kind != EventInterrupted && ev.Kind != EventWarn {
		return
	}
	if r.TTY && (ev.Kind == EventCountdown || ev.Kind == EventLive) {
		r.setPart(ev.Stage, ev.Msg, ev.Short)
		r.clearLocked()
		r.drawLocked()
		r.flushLocked()
		return
	}
	if ev.Step == "" && (ev.Kind == EventDone || ev.Kind == EventFail || ev.Kind == EventInterrupted) {
		r.setPart(ev.Stage, "", "") // the stage has ended: so has its progress
	}
	r.clearLocked()
	mark := map[string]string{EventStart: "==>", EventDone: " ok", EventSkip: " --", EventFail: "!!!", EventInterrupted: " --", EventWarn: " !!", EventInfo: "   ", EventCountdown: "   "}[ev.Kind]
	if r.Color {
		mark = Paint(markColor[ev.Kind], mark)
	}
	prefix := ev.Time.UTC().Format("15:04:05")
	where := ev.Stage
	if ev.Step != "" && ev.Kind != EventStart {
		where = ev.Stage + ": " + ev.Step
	}
	line := fmt.Sprintf("%s %s %s", prefix, mark, where)
	if ev.Msg != "" {
		if where != "" {
			line += ": "
		} else {
			line += " "
		}
		line += ev.Msg
	}
	r.screen.WriteString(strings.TrimRight(line, " ") + "\n")
	r.drawLocked()
	r.flushLocked()
}

// setPart sets the stage's part of the live line, and its shorter form
// (or none), or removes it for "".
func (r *Reporter) setPart(stage, msg, short string) {
	delete(r.shorts, stage)
	if msg == "" {
		delete(r.parts, stage)
		return
	}
	if r.parts == nil {
		r.parts, r.shorts = map[string]string{}, map[string]string{}
	}
	r.parts[stage] = msg
	if short != "" {
		r.shorts[stage] = short
	}
}

// liveLocked is the live line: the stages' parts in the pipeline's
// order, in their shorter forms when short.
func (r *Reporter) liveLocked(short bool) string {
	part := func(stage string) string {
		if s, ok := r.shorts[stage]; ok && short {
			return s
		}
		return r.parts[stage]
	}
	var out []string
	for _, stage := range r.Order {
		if _, ok := r.parts[stage]; ok {
			out = append(out, part(stage))
		}
	}
	var others []string
	for stage := range r.parts {
		if !slices.Contains(r.Order, stage) {
			others = append(others, stage)
		}
	}
	slices.Sort(others)
	for _, stage := range others {
		out = append(out, part(stage))
	}
	return strings.Join(out, " · ")
}

// liveMargin is the columns the live line leaves free at the right: one
// for the cursor after it, two for the "^C" a terminal echoes there when
// the operator stops the run, all of which a redraw then clears.
const liveMargin = 3

// drawLocked draws the live line, cut to the terminal's width: in the
// parts' shorter forms when the whole one would not fit, so that a narrow
// terminal loses words before it loses counts.
func (r *Reporter) drawLocked() {
	line := r.liveLocked(false)
	if line == "" {
		return
	}
	width := r.width()
	if width > 0 && utf8.RuneCountInString(line) > width-liveMargin {
		line = Cut(r.liveLocked(true), width-liveMargin)
	}
	r.screen.WriteString(line)
	r.drawn, r.drawnAt = utf8.RuneCountInString(line), width
}

// clearLocked removes the live line from the screen, leaving the cursor
// where it began. A terminal made narrower since it was drawn has
// rewrapped it onto several rows (most do; xterm cuts it instead), the
// cursor at its end: the rows above are cleared too.
func (r *Reporter) clearLocked() {
	if r.drawn == 0 {
		return
	}
	up := ""
	if width := r.width(); width > 0 && width < r.drawnAt && r.drawn > width {
		up = fmt.Sprintf("\033[%dA", (r.drawn-1)/width)
	}
	r.screen.WriteString("\r" + up + "\033[J")
	r.drawn = 0
}

func (r *Reporter) width() int {
	if r.Width == nil {
		return 0
	}
	return r.Width()
}

// Redraw draws the live line again at the terminal's width now: after
// the terminal was resized.
func (r *Reporter) Redraw() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clearLocked()
	r.drawLocked()
	r.flushLocked()
}

// ClearLive removes the live line for good, with every stage's part: what
// is printed next (a final report) is not followed by it.
func (r *Reporter) ClearLive() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.parts, r.shorts = nil, nil
	r.clearLocked()
	r.flushLocked()
}

// flushLocked writes what the screen is to show in one write: a line
// printed and the live line drawn again under it reach the terminal
// together, never the one without the other.
func (r *Reporter) flushLocked() {
	io.WriteString(r.Out, r.screen.String())
	r.screen.Reset()
}

// Cut shortens s to at most width columns, ending it with "…" when it was
// cut (a rune is taken as one column: the live line's are).
func Cut(s string, width int) string {
	switch {
	case utf8.RuneCountInString(s) <= width:
		return s
	case width < 1:
		return ""
	}
	runes := []rune(s)
	return string(runes[:width-1]) + "…"
}

// ANSI colours of the marks and states.
const (
	Green  = "32"
	Yellow = "33"
	Red    = "31"
	Grey   = "90"
	Bold   = "1"
)

var markColor = map[string]string{EventStart: Bold, EventDone: Green, EventFail: Red, EventInterrupted: Yellow, EventWarn: Yellow}

// Paint wraps s in the ANSI colour code, or returns it as it is for no
// code.
func Paint(code, s string) string {
	if code == "" {
		return s
	}
	return "\033[" + code + "m" + s + "\033[0m"
}

// WantColor is whether output to a terminal may be coloured, by the
// environment: NO_COLOR set to anything but empty, or TERM=dumb, says no.
func WantColor(lookup func(string) (string, bool)) bool {
	noColor, _ := lookup("NO_COLOR")
	term, _ := lookup("TERM")
	return noColor == "" && term != "dumb"
}

// Printf prints a plain line for people (nothing in JSON mode).
func (r *Reporter) Printf(format string, args ...any) {
	if r == nil || r.JSON || r.Quiet {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	text := r.scrub(fmt.Sprintf(format, args...))
	if !strings.HasSuffix(text, "\n") {
		io.WriteString(r.Out, text)
		return
	}
	r.clearLocked()
	r.screen.WriteString(text)
	r.drawLocked()
	r.flushLocked()
}

// Debugf prints only with -v.
func (r *Reporter) Debugf(stage, format string, args ...any) {
	if r == nil || !r.Verbose {
		return
	}
	r.Emit(Event{Kind: EventInfo, Stage: stage, Msg: fmt.Sprintf(format, args...)})
}
