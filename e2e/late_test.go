package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/sandbox/registry"
)

// leakToRegistry puts the release's first line on the registry ahead of
// T0, with the very bytes preflight packages (a colleague's early
// `cargo publish`), and returns the versions it put there.
func (rl *release) leakToRegistry() []string {
	rl.t.Helper()
	if res := rl.run([]string{"check"}); res.code != 0 {
		rl.t.Fatalf("check before the leak: %s", res)
	}
	line := rl.ex.World.Lines[0]
	var leaked []string
	for _, c := range rl.ex.World.Crates {
		file := filepath.Join(rl.dir, ".embargo", "work", line.Line+".target", "package", c+"-"+line.FixVersion+".crate")
		b, err := os.ReadFile(file)
		if err != nil {
			rl.t.Fatal(err)
		}
		if err := rl.registry.Seed(registry.IndexEntry{Name: c, Vers: line.FixVersion}, b); err != nil {
			rl.t.Fatal(err)
		}
		leaked = append(leaked, c+"@"+line.FixVersion)
	}
	return leaked
}

// The fix on the registry before T0 is a leak, as loud as a leaked commit:
// check exits 1 naming the versions and when they were published, and run
// refuses with nothing made public.
func TestFixOnTheRegistryBeforeT0IsALeak(t *testing.T) {
	rl := newPublishRelease(t, time.Now().Add(time.Hour), registry.Options{})
	leaked := rl.leakToRegistry()
	for _, cmd := range [][]string{{"check"}, {"run"}} {
		res := rl.run(cmd)
		if res.code != 1 {
			t.Fatalf("%s: want exit 1, got %s", cmd[0], res)
		}
		out := res.stdout + res.stderr
		for _, nv := range leaked {
			if !strings.Contains(out, "LEAK: already on the registry before T0") || !strings.Contains(out, nv+" (published 20") {
				t.Errorf("%s does not report %s as a leak with its publish time:\n%s", cmd[0], nv, out)
			}
		}
		if !strings.Contains(out, "embargo run --late") {
			t.Errorf("%s does not say how to release the rest:\n%s", cmd[0], out)
		}
	}
	if n := rl.pushes(); n != 0 {
		t.Errorf("%d pushes reached the public server", n)
	}
	for _, r := range rl.registry.Requests() {
		if r.Method == http.MethodPut {
			t.Errorf("the registry saw an upload: %s", r.Path)
		}
	}
	rl.assertUnreleased()
}
