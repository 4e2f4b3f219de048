package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// The status table says which stages ran side by side: push and publish
// from preflight to after T0, verify after both.
func TestStatusNamesTheStagesThatRanSideBySide(t *testing.T) {
	at := func(s int) *time.Time { v := time.Date(2026, 12, 1, 14, 0, s, 0, time.UTC); return &v }
	st := &Status{ID: "ASYNC-STD-SA-2026-001", Now: *at(30), Stages: []*pipeline.StageRecord{
		{Name: "preflight", State: pipeline.StateDone, Started: at(0), Ended: at(2)},
		{Name: "push", State: pipeline.StateDone, Started: at(2), Ended: at(11)},
		{Name: "promote", State: pipeline.StateSkipped, Started: at(2), Ended: at(2)},
		{Name: "publish", State: pipeline.StateDone, Started: at(2), Ended: at(14)},
		{Name: "verify", State: pipeline.StateDone, Started: at(14), Ended: at(15)},
	}}
	var b bytes.Buffer
	printStatus(&b, st, false)
	lines := map[string]string{}
	for _, l := range strings.Split(b.String(), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = l
		}
	}
	for name, want := range map[string]string{"push": "beside publish", "publish": "beside push"} {
		if !strings.HasSuffix(lines[name], want) {
			t.Errorf("%s: %q, want it to end %q", name, lines[name], want)
		}
	}
	for _, name := range []string{"preflight", "promote", "verify"} {
		if strings.Contains(lines[name], "beside") {
			t.Errorf("%s ran alone, but: %q", name, lines[name])
		}
	}
}

// An interrupted stage's state fits its column: the times of every stage
// start in one column, after the longest state.
func TestStatusStateColumnFitsInterrupted(t *testing.T) {
	at := func(s int) *time.Time { v := time.Date(2026, 12, 1, 14, 0, s, 0, time.UTC); return &v }
	st := &Status{ID: "ASYNC-STD-SA-2026-001", Now: *at(30), Stages: []*pipeline.StageRecord{
		{Name: "preflight", State: pipeline.StateDone, Started: at(0), Ended: at(2)},
		{Name: "gate", State: pipeline.StateInterrupted, Started: at(2), Ended: at(9)},
		{Name: "push", State: pipeline.StateInterrupted, Started: at(2), Ended: at(9)},
	}}
	var b bytes.Buffer
	printStatus(&b, st, false)
	cols := map[int]bool{}
	for _, l := range strings.Split(b.String(), "\n") {
		if i := strings.Index(l, "14:00:0"); i >= 0 && strings.HasPrefix(l, "  ") {
			cols[i] = true
			if !strings.Contains(l[:i], " ") || strings.Contains(l, "interrupted14") {
				t.Errorf("state runs into the times: %q", l)
			}
		}
	}
	if len(cols) != 1 {
		t.Errorf("the times start in %d columns:\n%s", len(cols), b.String())
	}
}
