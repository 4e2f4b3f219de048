package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// plan prints the disclosure calendar, and warns where it departs from the
// policy: a distros notice under 72 hours before T0, a window over 6 hours.
func TestPlanPrintsTheDisclosureCalendar(t *testing.T) {
	config := planCIConfig(t, "2026-12-01T14:00:00Z")
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(b), `handler = "Jane Doe <jane@example.org>"`, `handler = "Jane Doe <jane@example.org>"
distros = 2026-11-29T16:00:00+02:00
window  = "8h"`, 1)
	if err := os.WriteFile(config, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := embargo(t, "plan", "-c", config)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	distros := strings.Index(out, "distros   2026-11-29 14:00:00Z: linux-distros notified (T0 - 2d)")
	t0 := strings.Index(out, "T0        2026-12-01 14:00:00Z")
	deadline := strings.Index(out, "deadline  2026-12-01 22:00:00Z: the advisory live (T0 + 8h)")
	if distros < 0 || t0 < 0 || deadline < 0 || !(distros < t0 && t0 < deadline) {
		t.Errorf("plan does not print the calendar in order (distros, T0, deadline):\n%s", out)
	}
	for _, w := range []string{"warning: linux-distros is notified 2d before T0, under the 72 hours", "warning: the disclosure window is 8h, more than the 6 hours"} {
		if !strings.Contains(out, w) {
			t.Errorf("plan does not warn %q:\n%s", w, out)
		}
	}
}

// plan --json carries the distros notice and the calendar's warnings.
func TestPlanJSONCarriesTheCalendar(t *testing.T) {
	config := planCIConfig(t, "2026-12-01T14:00:00Z")
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(b), `handler = "Jane Doe <jane@example.org>"`, "handler = \"Jane Doe <jane@example.org>\"\ndistros = 2026-11-10T14:00:00Z", 1)
	if err := os.WriteFile(config, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := embargo(t, "plan", "--json", "-c", config)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	var rep struct {
		Distros          string   `json:"distros"`
		CalendarWarnings []string `json:"calendar_warnings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep.Distros != "2026-11-10T14:00:00Z" || len(rep.CalendarWarnings) != 1 || !strings.Contains(rep.CalendarWarnings[0], "more than the 14 days") {
		t.Errorf("plan --json: distros %q, warnings %q", rep.Distros, rep.CalendarWarnings)
	}
}
