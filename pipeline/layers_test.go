package pipeline_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The engine depends on no stage, no client and not on the config: a stage
// is a package and a line in stages.All, and pipeline is what they all
// share. Its journal is written with internal/durable, which depends on
// nothing of embargo.
func TestPipelineImportsNoStageOrClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/async-rs/embargo/") && p != "github.com/async-rs/embargo/pipeline" && p != "github.com/async-rs/embargo/internal/durable" {
			t.Errorf("pipeline depends on %s", p)
		}
	}
}

// The layers above the engine: the stages know nothing of the services
// that seal and restore bundles (bundle), nor of the commands; bundle uses
// the stages and knows nothing of the commands. cli is what wires them.
func TestLayers(t *testing.T) {
	const mod = "github.com/async-rs/embargo/"
	forbidden := map[string][]string{
		mod + "stages/...": {mod + "bundle", mod + "cli"},
		mod + "bundle/...": {mod + "cli"},
	}
	for pattern, deps := range forbidden {
		out, err := exec.Command("go", "list", "-e", "-deps", "-f", "{{.ImportPath}}", pattern).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pattern, err)
		}
		// -e lists a cycle's packages too, to name the import that made it.
		if !strings.Contains(string(out), strings.TrimSuffix(pattern, "/...")+"\n") {
			t.Fatalf("go list %s lists no such package", pattern)
		}
		for _, p := range strings.Fields(string(out)) {
			for _, d := range deps {
				if p == d || strings.HasPrefix(p, d+"/") {
					t.Errorf("%s depends on %s", pattern, p)
				}
			}
		}
	}
}

// The sandbox's registry stores what it is given as the journal is
// stored, durably, and needs the engine for nothing else.
func TestSandboxRegistryImportsNoEngine(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "../sandbox/registry").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/async-rs/embargo/pipeline" {
			t.Errorf("sandbox/registry depends on the engine")
		}
	}
}

// The config is read and validated by a package of its own, which knows
// nothing of the engine, the stages or their clients.
func TestConfigImportsNoEngineOrStage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "../config").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/async-rs/embargo/") && p != "github.com/async-rs/embargo/config" && p != "github.com/async-rs/embargo/semrange" {
			t.Errorf("config depends on %s", p)
		}
	}
}
