package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// planCIConfig writes a minimal valid config with T0 at `at` (TOML text).
func planCIConfig(t *testing.T, at string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "advisory.md"), []byte("A bug, fixed.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := `[embargo]
id      = "DEMO-SA-2026-001"
at      = ` + at + `
handler = "Jane Doe <jane@example.org>"

[source]
public = "https://example.org/demo.git"

[[release]]
line          = "1.13"
branch        = "embargo/1.13"
public_branch = "main"
tag           = "v1.13.1"

[advisory]
title       = "A bug"
package     = "demo-core"
description = "advisory.md"
`
	path := filepath.Join(dir, "embargo.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func planCI(t *testing.T, at string, now time.Time) string {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(&out, &errb, func(string) (string, bool) { return "", false }, pipeline.NewFakeClock(now))
	if code := a.execute(context.Background(), []string{"plan", "--ci", "-c", planCIConfig(t, at)}); code != 0 {
		t.Fatalf("plan --ci: exit %d\n%s%s", code, out.String(), errb.String())
	}
	return out.String()
}

func TestPlanCIPrintsTheCronLine45MinutesBeforeT0(t *testing.T) {
	out := planCI(t, "2026-12-01T14:00:00Z", time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	for _, want := range []string{
		`cron: "14 13 1 12 *"`,                  // GitHub Actions, off the round minutes
		`cron: "34 13 1 12 *"`,                  // and the backup
		"interval pattern: 14 13 1 12 *",        // GitLab
		"interval pattern: 34 13 1 12 *",        // GitLab's backup
		"start of every hour",                   // why off the round minutes
		"exits cleanly",                         // why a second run is harmless
		"cron timezone:    UTC",                 // GitLab asks for a zone
		"waits in-process for T0",               // why it starts early
		"2026-12-01 13:14 UTC",                  // the start, for people
		"delete the schedule after the release", // it repeats yearly
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan --ci lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "has passed") {
		t.Errorf("start in the future reported as passed:\n%s", out)
	}
}

// The schedule is in UTC whatever offset T0 is written with, and crosses
// day, month and year boundaries.
func TestPlanCICronIsUTCAcrossBoundaries(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for at, want := range map[string]string{
		"2027-01-01T00:30:00Z":      `cron: "44 23 31 12 *"`,
		"2026-12-01T15:00:00+01:00": `cron: "14 13 1 12 *"`,
		"2026-03-01T09:10:00-05:00": `cron: "24 13 1 3 *"`,
		"2026-03-01T09:03:00-05:00": `cron: "18 13 1 3 *"`, // already off the round minutes
	} {
		if out := planCI(t, at, now); !strings.Contains(out, want) {
			t.Errorf("T0 %s: want %s in:\n%s", at, want, out)
		}
	}
}

func TestPlanCIAfterTheStartTimeSaysStartByHand(t *testing.T) {
	out := planCI(t, "2026-12-01T14:00:00Z", time.Date(2026, 12, 1, 13, 30, 0, 0, time.UTC))
	if !strings.Contains(out, "start the job by hand") {
		t.Errorf("plan --ci after the start time:\n%s", out)
	}
}
