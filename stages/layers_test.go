package stages

import (
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/async-rs/embargo/stages/release"
)

const mod = "github.com/async-rs/embargo/"

// deps lists what pkg depends on, in the module, without its tests.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	var in []string
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, mod) && p != pkg {
			in = append(in, p)
		}
	}
	return in
}

// stagePackages are the packages of the stages in the list, one each.
func stagePackages(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, st := range All(release.Clients{}) {
		p := reflect.TypeOf(st).PkgPath()
		if slices.Contains(out, p) {
			t.Errorf("stage %s shares package %s with another stage", st.Name(), p)
		}
		if p != mod+"stages/"+st.Name() {
			t.Errorf("stage %s is in package %s, not stages/%s", st.Name(), p, st.Name())
		}
		out = append(out, p)
	}
	return out
}

// Every stage is a package of its own around the release core: it imports
// the core and its clients, never another stage nor the fakes of the
// tests; the core imports no stage; the command line and the bundle reach
// the stages only through the list (stages.All) and the core.
func TestEachStageIsAPackageAroundTheCore(t *testing.T) {
	t.Parallel()
	stages := stagePackages(t)
	for _, p := range stages {
		for _, d := range deps(t, p) {
			if slices.Contains(stages, d) || d == mod+"stages/release/releasetest" || d == mod+"stages" {
				t.Errorf("stage package %s depends on %s", p, d)
			}
		}
	}
	for _, d := range deps(t, mod+"stages/release") {
		if slices.Contains(stages, d) || d == mod+"stages" {
			t.Errorf("the release core depends on the stage package %s", d)
		}
	}
	for _, p := range []string{mod + "cli", mod + "bundle"} {
		for _, d := range directImports(t, p) {
			if slices.Contains(stages, d) {
				t.Errorf("%s imports the stage package %s: it uses the core's API and the list", p, d)
			}
		}
	}
}

// directImports are the packages pkg imports itself.
func directImports(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}
