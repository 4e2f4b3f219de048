package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
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
	// EventLive replaces the live line on a terminal (a stage's progress);
	// an empty message clears it. Logs and JSON get the events it sums up
	// instead.
	EventLive   = "live"
	EventReport = "report"
)

// Event is one line of --json output.
type Event struct {
	Time  time.Time      `json:"time"`
	Kind  string         `json:"event"`
	Stage string         `json:"stage,omitempty"`
	Step  string         `json:"step,omitempty"`
	Msg   string         `json:"msg,omitempty"`
	Data  map[string]any `json:"data,omitempty"`
}

// Reporter prints events for people or, with JSON, one object a line for
// machines. Everything passes through the scrubber first.
type Reporter struct {
	Out     io.Writer
	JSON    bool
	Quiet   bool
	Verbose bool
	// TTY enables the in-place countdown line.
	TTY bool
	// Color marks outcomes in colour: on a terminal, unless NO_COLOR is
	// set (https://no-color.org) or TERM is dumb.
	Color bool
	Clock Clock
	Scrub func(string) string

	mu sync.Mutex
	// live is the line kept at the bottom of a terminal (the countdown,
	// a stage's progress), drawn again under each line printed above it.
	live string
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
	ev.Msg = r.scrub(ev.Msg)
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
	if r.Quiet && ev.Kind != EventFail && ev.Kind != EventWarn {
		return
	}
	if r.TTY && (ev.Kind == EventCountdown || ev.Kind == EventLive) {
		r.live = ev.Msg
		fmt.Fprintf(r.Out, "\r\033[K%s", r.live)
		return
	}
	if r.live != "" {
		fmt.Fprint(r.Out, "\r\033[K")
		defer fmt.Fprint(r.Out, r.live)
	}
	mark := map[string]string{EventStart: "==>", EventDone: " ok", EventSkip: " --", EventFail: "!!!", EventWarn: " !!", EventInfo: "   ", EventCountdown: "   "}[ev.Kind]
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
	fmt.Fprintln(r.Out, strings.TrimRight(line, " "))
}

// ANSI colours of the marks and states.
const (
	Green  = "32"
	Yellow = "33"
	Red    = "31"
	Grey   = "90"
	Bold   = "1"
)

var markColor = map[string]string{EventStart: Bold, EventDone: Green, EventFail: Red, EventWarn: Yellow}

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
	if r.live != "" && strings.HasSuffix(text, "\n") {
		fmt.Fprint(r.Out, "\r\033[K")
		defer fmt.Fprint(r.Out, r.live)
	}
	fmt.Fprint(r.Out, text)
}

// Debugf prints only with -v.
func (r *Reporter) Debugf(stage, format string, args ...any) {
	if r == nil || !r.Verbose {
		return
	}
	r.Emit(Event{Kind: EventInfo, Stage: stage, Msg: fmt.Sprintf(format, args...)})
}
