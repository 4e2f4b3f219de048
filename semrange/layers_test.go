package semrange_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The version algebra is shared by the engine's config checks and the
// templates, which both sit above it: it depends on no part of embargo.
func TestSemrangeImportsNoEmbargoPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/async-rs/embargo/") && p != "github.com/async-rs/embargo/semrange" {
			t.Errorf("semrange depends on %s", p)
		}
	}
}
