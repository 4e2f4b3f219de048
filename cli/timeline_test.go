package cli

import (
	"encoding/xml"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// The timeline of a CI release, whose job started 45 minutes before T0
// and whose writes came in the second after it: every stage is drawn, each
// public write marked in the order it happened, and the minutes before T0
// squeezed so that the writes stay apart.
func TestTimelineSVGDrawsEveryStageAndWriteAroundT0(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	stamp := func(d time.Duration) map[string]string {
		return map[string]string{"uploaded_at": at(d).Format(time.RFC3339Nano)}
	}
	st := &Status{ID: "ASYNC-STD-SA-2026-001", T0: t0, Window: "6h0m0s", Deadline: t0.Add(6 * time.Hour), Now: *at(time.Minute), Stages: []*pipeline.StageRecord{
		{Name: "preflight", State: pipeline.StateDone, Started: at(-45 * time.Minute), Ended: at(-44 * time.Minute)},
		{Name: "gate", State: pipeline.StateDone, Started: at(-44 * time.Minute), Ended: at(time.Millisecond)},
		{Name: "publish", State: pipeline.StateDone, Started: at(-44 * time.Minute), Ended: at(2 * time.Second), Steps: []*pipeline.StepRecord{
			{Name: "publish a@1.0.1", First: stamp(12 * time.Millisecond), Public: []string{"uploaded_at"}},
			{Name: "publish b@1.0.1", First: stamp(1100 * time.Millisecond), Public: []string{"uploaded_at"}},
		}},
		{Name: "advisory", State: pipeline.StateFailed, Started: at(2 * time.Second), Ended: at(3 * time.Second)},
		{Name: "verify", State: pipeline.StatePending},
	}}
	svg := string(timelineSVG(st))
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, svg)
	}
	for _, name := range []string{"preflight", "gate", "publish", "advisory"} {
		if !strings.Contains(svg, `data-stage="`+name+`"`) {
			t.Errorf("no bar for %s", name)
		}
	}
	if strings.Contains(svg, `data-stage="verify"`) {
		t.Error("a stage that never started has a bar")
	}
	if !strings.Contains(svg, `data-state="failed" x=`) || !strings.Contains(svg, "#c8372d") {
		t.Error("the failed stage is not drawn as failed")
	}
	cx := regexp.MustCompile(`<circle class="write" cx="([0-9.]+)"`).FindAllStringSubmatch(svg, -1)
	if len(cx) != 2 {
		t.Fatalf("%d write marks, want 2", len(cx))
	}
	first, _ := strconv.ParseFloat(cx[0][1], 64)
	second, _ := strconv.ParseFloat(cx[1][1], 64)
	t0x, _ := strconv.ParseFloat(regexp.MustCompile(`<line x1="([0-9.]+)"[^>]*stroke="#c8372d"`).FindStringSubmatch(svg)[1], 64)
	if !(t0x < first && first+50 < second) {
		t.Errorf("T0 at x=%.1f, writes at %.1f and %.1f: want both after T0 and a second apart visibly", t0x, first, second)
	}
	if !strings.Contains(svg, "≈ 45m0s before") || !strings.Contains(svg, "deadline T0 + 6h0m0s") {
		t.Errorf("the squeezed part or the deadline is not labelled:\n%s", svg)
	}
}
