// Package testenv holds the rule every test follows for a tool a fresh
// machine may lack (cargo, git, hugo, jekyll, docker-registry, gpg,
// aiosmtpd): without it the test skips and says why, unless EMBARGO_E2E=1
// requires the whole suite, as CI does after installing every tool. Then a
// missing tool fails the test: a CI image without cargo must not go green
// by skipping.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// E2E is the variable that, set to 1, requires every tool.
const E2E = "EMBARGO_E2E"

// NeedTool returns when the tool name is on PATH; otherwise it skips tb, or
// fails it when EMBARGO_E2E=1. why says what the test needs it for.
func NeedTool(tb testing.TB, name, why string) {
	tb.Helper()
	_, err := exec.LookPath(name)
	Need(tb, err == nil, name+" is not on PATH", why)
}

// Need is NeedTool for what is not one binary on PATH (a Python module,
// a tool with a part of its own): when found is false, missing says what
// is not there, and the test skips, or fails when EMBARGO_E2E=1.
func Need(tb testing.TB, found bool, missing, why string) {
	tb.Helper()
	if found {
		return
	}
	if os.Getenv(E2E) == "1" {
		tb.Fatalf("%s, and %s=1 requires it: %s", missing, E2E, why)
		return
	}
	tb.Skipf("%s: %s (%s=1 makes this a failure)", missing, why, E2E)
}
