package cargo_test

import (
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/async-rs/embargo/stages/cargo"
)

// memTree is a commit's files in memory.
type memTree map[string]string

func (m memTree) Read(p string) (string, bool, error) {
	s, ok := m[p]
	return s, ok, nil
}

func (m memTree) Dirs(dir string) ([]string, error) {
	seen := map[string]bool{}
	for p := range m {
		d := path.Dir(p)
		for d != "." && d != "/" {
			parent := path.Dir(d)
			if parent == dir || (dir == "." && parent == ".") {
				seen[path.Base(d)] = true
			}
			d = parent
		}
	}
	var out []string
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out, nil
}

func names(cs []*cargo.Crate) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name+"@"+c.Version)
	}
	return strings.Join(out, " ")
}

// A workspace as real projects write it: globbed members, an excluded
// folder, inherited versions, a renamed and a workspace-inherited
// dependency, a build dependency, an unpublished crate.
func TestWorkspacePublishOrderFollowsDependencies(t *testing.T) {
	tree := memTree{
		"Cargo.toml": `[workspace]
members = ["crates/*", "tools/xtask"]
exclude = ["crates/scratch"]

[workspace.package]
version = "1.13.1"

[workspace.dependencies]
core = { package = "demo-core", path = "crates/core", version = "=1.13.1" }
`,
		"crates/core/Cargo.toml": "[package]\nname = \"demo-core\"\nversion.workspace = true\n",
		"crates/macros/Cargo.toml": `[package]
name = "demo-macros"
version.workspace = true

[build-dependencies]
demo-core = { path = "../core", version = "=1.13.1" }
`,
		"crates/demo/Cargo.toml": `[package]
name = "demo"
version = "1.13.1"

[dependencies]
core = { workspace = true }
mac = { package = "demo-macros", path = "../macros", version = "=1.13.1" }
serde = "1"

[target.'cfg(unix)'.dependencies]
libc = "0.2"
`,
		"crates/scratch/Cargo.toml": "[package]\nname = \"scratch\"\nversion = \"0.1.0\"\n",
		"tools/xtask/Cargo.toml":    "[package]\nname = \"xtask\"\nversion = \"0.1.0\"\npublish = false\n",
	}
	ws, err := cargo.ReadWorkspace(tree)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ws.Crates["scratch"]; ok {
		t.Error("an excluded folder was read as a member")
	}
	all, err := ws.Select(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(all), "demo-core@1.13.1 demo-macros@1.13.1 demo@1.13.1"; got != want {
		t.Errorf("publish order %q, want %q", got, want)
	}
	if deps := strings.Join(ws.Crates["demo"].Deps, ","); deps != "demo-core,demo-macros" {
		t.Errorf("demo's workspace deps %q", deps)
	}
	if _, err := ws.Select([]string{"xtask"}); err == nil || !strings.Contains(err.Error(), "publish = false") {
		t.Errorf("selecting an unpublished crate: %v", err)
	}
	if _, err := ws.Select([]string{"nope"}); err == nil || !strings.Contains(err.Error(), "not in the workspace") {
		t.Errorf("selecting a missing crate: %v", err)
	}
}

// A single-crate repository (like async-std) is its own workspace.
func TestSingleCrateRepository(t *testing.T) {
	ws, err := cargo.ReadWorkspace(memTree{"Cargo.toml": "[package]\nname = \"async-std\"\nversion = \"1.13.1\"\n"})
	if err != nil {
		t.Fatal(err)
	}
	all, err := ws.Select(nil)
	if err != nil || names(all) != "async-std@1.13.1" {
		t.Fatalf("%q, %v", names(all), err)
	}
}

// A dependency cycle among publishable crates cannot be published in any
// order, and says so.
func TestDependencyCycleIsNamed(t *testing.T) {
	tree := memTree{
		"Cargo.toml":   "[workspace]\nmembers = [\"a\", \"b\"]\n",
		"a/Cargo.toml": "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\nb = { path = \"../b\", version = \"1\" }\n",
		"b/Cargo.toml": "[package]\nname = \"b\"\nversion = \"1.0.0\"\n[dependencies]\na = { path = \"../a\", version = \"1\" }\n",
	}
	ws, err := cargo.ReadWorkspace(tree)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Select(nil); err == nil || !strings.Contains(err.Error(), "dependency cycle: a -> b -> a") {
		t.Errorf("want the cycle named, got %v", err)
	}
}
