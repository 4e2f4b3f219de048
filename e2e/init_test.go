package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The operator's first steps: init in the clone holding the held branches,
// fill in what init could not know, and check passes: the starter config
// releases the world as it stands.
func TestInitThenCheckIsReady(t *testing.T) {
	t.Parallel()
	t0 := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	rl := newRelease(t, t0)
	config := filepath.Join(rl.dir, "starter.toml")
	res := execute(t, exec.Command(binary, "init", "--dir", rl.ex.World.Source, "-o", config))
	if res.code != 0 {
		t.Fatalf("init: %s", res)
	}
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for key, value := range map[string]string{
		"at": t0.Format(time.RFC3339), "title": `"Out-of-bounds read in demo_core::get"`, "severity": `"high"`,
	} {
		re := regexp.MustCompile(`(?m)^(` + key + ` *= *)"TODO:.*$`)
		if !re.MatchString(src) {
			t.Fatalf("no placeholder for %s:\n%s", key, src)
		}
		src = re.ReplaceAllString(src, "${1}"+value)
	}
	// This world's crates go to its sandbox registry, not crates.io.
	src += "\n[registry]\nindex     = \"" + rl.registry.IndexURL() + "\"\ntoken_env = \"" + registryTokenEnv + "\"\n"
	if err := os.WriteFile(config, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rl.dir, "advisory.md"), []byte("An index was not checked.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "check", "-c", config)
	cmd.Env = append(os.Environ(), registryTokenEnv+"="+registryToken)
	res = execute(t, cmd)
	if res.code != 0 || !strings.Contains(res.stdout, "ready: DEMO-SA-") {
		t.Fatalf("check of the starter config: %s\n--- config\n%s", res, src)
	}
	rl.assertUnreleased()

	// Run again, init refuses to replace it.
	again := execute(t, exec.Command(binary, "init", "--dir", rl.ex.World.Source, "-o", config))
	if again.code != 2 || !strings.Contains(again.stderr, "already exists") {
		t.Errorf("second init: %s", again)
	}
}
