package pipeline_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The engine depends on no stage and no client: a stage is a file and a
// line in stages.All, and pipeline is what they all share.
func TestPipelineImportsNoStageOrClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/async-rs/embargo/") && p != "github.com/async-rs/embargo/pipeline" {
			t.Errorf("pipeline depends on %s", p)
		}
	}
}
