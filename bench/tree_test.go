package bench

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/async-rs/embargo/stages/cargo"
)

// The generated tree is what the async-std-shaped case claims: n packages,
// every one reachable from the released crate's direct dependencies, each
// depending only on packages of the level below, so resolving it takes
// one read a level.
func TestDependencyTreeReachesEveryPackage(t *testing.T) {
	direct, pkgs := dependencyTree(90)
	if len(pkgs) != 90 {
		t.Fatalf("%d packages, want 90", len(pkgs))
	}
	byName := map[string]treePackage{}
	for _, p := range pkgs {
		byName[p.Name] = p
	}
	depth := map[string]int{}
	level := direct
	for d := 1; len(level) > 0; d++ {
		var next []string
		for _, n := range level {
			if _, ok := byName[n]; !ok {
				t.Fatalf("%s is required but not generated", n)
			}
			if _, seen := depth[n]; seen {
				if depth[n] != d {
					t.Fatalf("%s is at depth %d and %d", n, depth[n], d)
				}
				continue
			}
			depth[n] = d
			next = append(next, byName[n].Deps...)
		}
		level = next
	}
	if len(depth) != len(pkgs) {
		t.Errorf("%d of %d packages reachable from the direct dependencies", len(depth), len(pkgs))
	}
	if max := depth[pkgs[len(pkgs)-1].Name]; max < 4 {
		t.Errorf("the tree is %d levels deep, want at least 4", max)
	}
}

// A tree package's .crate holds its manifest with its dependencies under
// name-version/, as cargo unpacks it.
func TestTreePackageCrateFile(t *testing.T) {
	p := treePackage{Name: "tree-dep-01", Version: "1.0.1", Deps: []string{"tree-dep-07", "tree-dep-08"}}
	b, err := p.crateFile()
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		files[h.Name] = string(body)
	}
	manifest := files["tree-dep-01-1.0.1/Cargo.toml"]
	if !strings.Contains(manifest, `tree-dep-07 = "1"`) || !strings.Contains(manifest, `version = "1.0.1"`) {
		t.Errorf("manifest:\n%s", manifest)
	}
	if lib := files["tree-dep-01-1.0.1/src/lib.rs"]; !strings.Contains(lib, "tree_dep_08::value()") {
		t.Errorf("lib.rs does not use its dependencies:\n%s", lib)
	}
}

// lockOf reads the Cargo.lock packed in a .crate.
func lockOf(t *testing.T, crate []byte) []cargo.LockedPackage {
	t.Helper()
	pkgs, ok, err := cargo.PackagedLock(crate)
	if err != nil || !ok {
		t.Fatalf("no Cargo.lock in the .crate: %v", err)
	}
	return pkgs
}
