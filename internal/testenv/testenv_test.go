package testenv_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/async-rs/embargo/internal/testenv"
)

// outcome records what NeedTool did to a test, instead of doing it.
type outcome struct {
	testing.TB
	failed, skipped string
}

func (o *outcome) Helper()                           {}
func (o *outcome) Fatalf(format string, args ...any) { o.failed = fmt.Sprintf(format, args...) }
func (o *outcome) Skipf(format string, args ...any)  { o.skipped = fmt.Sprintf(format, args...) }

// A test that needs cargo runs where cargo is; where it is not, it skips,
// except under EMBARGO_E2E=1, where it fails: CI installs every tool, so a
// missing one is a broken image, not a reason to pass.
func TestAMissingToolSkipsUnlessTheSuiteIsRequired(t *testing.T) {
	bin := t.TempDir()
	t.Setenv("PATH", bin)

	t.Setenv(testenv.E2E, "")
	var o outcome
	testenv.NeedTool(&o, "cargo", "publishing is tested with the real cargo")
	if o.skipped == "" || o.failed != "" {
		t.Errorf("without cargo and without %s: skipped %q, failed %q; want a skip", testenv.E2E, o.skipped, o.failed)
	}

	t.Setenv(testenv.E2E, "1")
	o = outcome{}
	testenv.NeedTool(&o, "cargo", "publishing is tested with the real cargo")
	if o.failed == "" || o.skipped != "" || !strings.Contains(o.failed, testenv.E2E) {
		t.Errorf("without cargo under %s=1: skipped %q, failed %q; want a failure", testenv.E2E, o.skipped, o.failed)
	}

	if err := os.WriteFile(filepath.Join(bin, "cargo"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o = outcome{}
	testenv.NeedTool(&o, "cargo", "publishing is tested with the real cargo")
	if o.failed != "" || o.skipped != "" {
		t.Errorf("with cargo on PATH: skipped %q, failed %q; want the test to run", o.skipped, o.failed)
	}
}
