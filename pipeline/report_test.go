package pipeline_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// On a terminal the live line (the countdown, the publishes' progress)
// stays at the bottom: a line printed while it shows goes above it, and
// the live line is drawn again under it until it is cleared. A log or a
// JSON stream gets none of it, only the events it sums up.
func TestLiveLineStaysUnderThePrintedLinesOnATerminal(t *testing.T) {
	clock := pipeline.NewFakeClock(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC))
	var tty bytes.Buffer
	r := &pipeline.Reporter{Out: &tty, TTY: true, Clock: clock}
	r.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: "publish", Msg: "publishing: 1.13 1/2"})
	r.Emit(pipeline.Event{Kind: pipeline.EventDone, Stage: "publish", Step: "publish demo@1.13.1", Msg: "published"})
	r.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: "publish"})
	r.Emit(pipeline.Event{Kind: pipeline.EventDone, Stage: "publish", Msg: "in 1s"})
	want := "\r\033[Kpublishing: 1.13 1/2" +
		"\r\033[K14:00:00  ok publish: publish demo@1.13.1: published\npublishing: 1.13 1/2" +
		"\r\033[K" +
		"14:00:00  ok publish: in 1s\n"
	if got := tty.String(); got != want {
		t.Errorf("terminal output\n%q\nwant\n%q", got, want)
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
