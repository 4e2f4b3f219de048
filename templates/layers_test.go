package templates_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The templates take the advisory as plain values (Input) and depend on no
// other part of embargo but semrange, the version algebra they share with
// the config's checks: the config, its checks and the stages that publish
// the outputs all sit above them.
func TestTemplatesImportNoEmbargoPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/async-rs/embargo/") && p != "github.com/async-rs/embargo/templates" && p != "github.com/async-rs/embargo/semrange" {
			t.Errorf("templates depends on %s", p)
		}
	}
}
