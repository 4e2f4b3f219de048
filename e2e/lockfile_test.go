package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/sandbox/demo"
	"github.com/async-rs/embargo/sandbox/gitserver"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/sandbox/world"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/index"
)

// dependency is a crate of another project on the registry the release
// publishes to, as async-std's ~90 dependencies are to it.
const dependency = "tinydep"

// newDependentRelease is the example release whose first crate depends on
// tinydep = "1", already on the registry at 1.0.0, and whose repository
// commits no Cargo.lock (its .gitignore lists it, as async-std's does).
func newDependentRelease(t *testing.T, t0 time.Time) *release {
	t.Helper()
	rl := buildReleaseWith(t, t0, gitserver.Options{}, &registry.Options{}, func(o *demo.Options) {
		o.Dependencies = map[string]string{dependency: "1"}
		o.NoLockfile = true
	})
	rl.publishDependency("1.0.0")
	return rl
}

// publishDependency publishes a version of the other project's crate with
// the real cargo, as its maintainers would.
func (rl *release) publishDependency(version string) {
	t := rl.t
	t.Helper()
	dir := t.TempDir()
	err := world.WriteFiles(dir, map[string]string{
		"Cargo.toml": fmt.Sprintf("[package]\nname = %q\nversion = %q\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"a crate of another project\"\n", dependency, version),
		"src/lib.rs": fmt.Sprintf("pub const VERSION: &str = %q;\n", version),
	})
	if err != nil {
		t.Fatal(err)
	}
	rl.otherProject(dir, "publish", "--no-verify", "--allow-dirty")
}

// yankDependency yanks a version of the other project's crate, as its
// maintainers would.
func (rl *release) yankDependency(version string) {
	rl.t.Helper()
	rl.otherProject(rl.t.TempDir(), "yank", dependency, "--version", version)
	idx, err := index.New(rl.registry.IndexURL(), index.Options{})
	if err != nil {
		rl.t.Fatal(err)
	}
	if e, found, err := idx.Lookup(rl.t.Context(), dependency, version); err != nil || !found || !e.Yanked {
		rl.t.Fatalf("%s@%s is not yanked in the index: %v %v", dependency, version, found, err)
	}
}

// otherProject runs the real cargo as the other project's maintainers, on
// the registry the release publishes to.
func (rl *release) otherProject(dir string, args ...string) {
	t := rl.t
	t.Helper()
	cmd := exec.Command("cargo", append(args, "--registry", "other")...)
	cmd.Dir = dir
	cmd.Env = append(cargo.CleanEnv(), "CARGO_HOME="+filepath.Join(dir, ".cargo-home"), "CARGO_TARGET_DIR="+filepath.Join(dir, ".target"),
		"CARGO_REGISTRIES_OTHER_INDEX="+rl.registry.IndexURL(), "CARGO_REGISTRIES_OTHER_TOKEN="+registryToken)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cargo %v: %v\n%s", args, err, out)
	}
}

// lockedVersions reads the versions of name that the Cargo.lock inside a
// .crate pins.
func lockedVersions(t *testing.T, crate []byte, name string) []string {
	t.Helper()
	pkgs, ok, err := cargo.PackagedLock(crate)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatal("the .crate holds no Cargo.lock")
	}
	var out []string
	for _, p := range pkgs {
		if p.Name == name {
			out = append(out, p.Version)
		}
	}
	return out
}

// assertSealedWith checks every sealed line pins a lockfile and that the
// packages sealed for the dependent crate lock the dependency at version.
func (rl *release) assertSealedWith(s sealFile, version string) {
	t := rl.t
	t.Helper()
	for _, l := range s.Lines {
		if len(l.PinnedLock) != 64 {
			t.Errorf("line %s: the seal pins no Cargo.lock (%q)", l.Line, l.PinnedLock)
		}
		for _, c := range l.Crates {
			if c.Name != rl.ex.World.Crates[0] {
				continue
			}
			b, err := os.ReadFile(cargo.PackagedFile(filepath.Join(rl.dir, ".embargo", "work", l.Line), c.Name, c.Version))
			if err != nil {
				t.Fatal(err)
			}
			if got := lockedVersions(t, b, dependency); len(got) != 1 || got[0] != version {
				t.Errorf("%s@%s locks %s %v, want %s", c.Name, c.Version, dependency, got, version)
			}
		}
	}
}

// A dependency publishes a new compatible version after the seal, and
// yanks the one the release was verified with: at T0 the release uses the
// lockfile that was verified, and every version goes out with its sealed
// checksum.
func TestDependencyReleasedAfterTheSealChangesNoByte(t *testing.T) {
	t.Parallel()
	rl := newDependentRelease(t, time.Now().Add(-time.Second))
	res := rl.run([]string{"seal"})
	if res.code != 0 {
		t.Fatalf("seal: %s", res)
	}
	for _, l := range rl.ex.World.Lines {
		if want := "line " + l.Line + ": no Cargo.lock committed; the seal pins the one verified"; !strings.Contains(res.stdout, want) {
			t.Errorf("seal does not say %q:\n%s", want, res.stdout)
		}
	}
	sealed := readSealFile(t, rl.dir)
	rl.assertSealedWith(sealed, "1.0.0")

	rl.publishDependency("1.0.1")
	rl.yankDependency("1.0.0")
	res = rl.run([]string{"run"})
	if res.code != 0 {
		t.Fatalf("run at T0 after %s 1.0.1 came out and 1.0.0 was yanked: %s", dependency, res)
	}
	rl.assertSealedPublic(sealed)
	rl.assertNoSecret(res.stdout, res.stderr)
	// The checkouts still hold exactly their commits, beside the pinned
	// lockfile: nothing was cloned again or left dirty.
	for _, l := range rl.ex.World.Lines {
		lock, err := os.ReadFile(filepath.Join(rl.dir, ".embargo", "work", l.Line, "Cargo.lock"))
		if err != nil || !strings.Contains(string(lock), "name = \""+dependency+"\"\nversion = \"1.0.0\"") {
			t.Errorf("line %s: the checkout's Cargo.lock is not the pinned one (%v):\n%s", l.Line, err, lock)
		}
	}
}

// The same from a CI runner that has only the config and the bundle.
func TestDependencyReleasedAfterTheSealChangesNoByteFromTheBundle(t *testing.T) {
	t.Parallel()
	requireTool(t, "docker-registry")
	sr := withSeal(t, newDependentRelease(t, time.Now().Add(-time.Second)))
	ref, _ := sr.sealAndPush()
	sealed := readSealFile(t, sr.dir)
	sr.assertSealedWith(sealed, "1.0.0")

	sr.publishDependency("1.0.1")
	runner := sr.freshRunner()
	res := runner.run([]string{"run", "--bundle", ref}, sr.identityVar())
	if res.code != 0 {
		t.Fatalf("run --bundle after %s 1.0.1 came out: %s", dependency, res)
	}
	sr.assertSealedPublic(sealed)
	runner.assertAbsent([]string{token, registryToken, sr.identity.String()}, res.stdout, res.stderr)
}

// When the bytes differ anyway (here the state directory lost the
// lockfiles it pinned, so cargo resolves again and takes the newer
// dependency), the release is refused before anything is public, and the
// refusal names the file inside the .crate that differs and the packages
// whose versions moved.
func TestPackageThatDiffersFromTheSealNamesWhatMoved(t *testing.T) {
	t.Parallel()
	rl := newDependentRelease(t, time.Now().Add(-time.Second))
	if res := rl.run([]string{"seal"}); res.code != 0 {
		t.Fatalf("seal: %s", res)
	}
	rl.publishDependency("1.0.1")
	state := filepath.Join(rl.dir, ".embargo")
	for _, dir := range []string{filepath.Join(state, "lockfiles"), filepath.Join(state, "sealed", "lockfiles")} {
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("the state directory keeps no %s: %v", dir, err)
		}
		os.RemoveAll(dir)
	}
	moved := "Cargo.lock: " + dependency + " 1.0.0 -> 1.0.1"
	core := rl.ex.World.Crates[0]
	res := rl.run([]string{"run"})
	if res.code != 1 {
		t.Fatalf("run with another resolution: want exit 1, got %s", res)
	}
	for _, l := range rl.ex.World.Lines {
		if want := core + "@" + l.FixVersion + " packages to sha256 "; !strings.Contains(res.stdout, want) {
			t.Errorf("the refusal does not name %s:\n%s", core+"@"+l.FixVersion, res.stdout)
		}
	}
	if !strings.Contains(res.stdout, moved) {
		t.Errorf("the refusal does not say %q:\n%s", moved, res.stdout)
	}
	// The publish stage alone refuses too, before it packages anything
	// again: its own check against the seal says the same.
	res = rl.run([]string{"run", "--only", "publish"})
	if res.code != 1 || !strings.Contains(res.stdout+res.stderr, moved) || !strings.Contains(res.stdout+res.stderr, "nothing was published") {
		t.Errorf("publish with another resolution: %s", res)
	}
	if n := rl.pushes(); n != 0 {
		t.Errorf("%d pushes reached the public server", n)
	}
	for _, r := range rl.registry.Requests() {
		if r.Method == http.MethodPut && r.Crate != dependency {
			t.Errorf("the registry saw an upload of the release: %s %s", r.Method, r.Path)
		}
	}
}

// kill -9 right after the first upload of a release sealed with a pinned
// lockfile, a newer dependency out since: the re-run publishes the rest
// with the same lockfile, each version once, with its sealed checksum.
func TestKill9DuringPublishWithAPinnedLockfileThenRerunConverges(t *testing.T) {
	t.Parallel()
	rl := newDependentRelease(t, time.Now().Add(-time.Second))
	if res := rl.run([]string{"seal"}); res.code != 0 {
		t.Fatalf("seal: %s", res)
	}
	sealed := readSealFile(t, rl.dir)
	rl.publishDependency("1.0.1")
	crash := rl.run([]string{"run"}, "EMBARGO_TEST_KILL_AT=publish.uploaded")
	if !crash.killed {
		t.Fatalf("expected a kill after the first upload: %s", crash)
	}
	if res := rl.run([]string{"run"}); res.code != 0 {
		t.Fatalf("re-run: %s", res)
	}
	rl.assertSealedPublic(sealed)
	rl.assertOneUploadAttemptEach()
}

// rehearseWithoutTokens runs `embargo rehearse` with no token variable set.
func (rl *release) rehearseWithoutTokens(args ...string) result {
	rl.t.Helper()
	cmd := rl.command(append([]string{"rehearse"}, args...))
	var env []string
	for _, kv := range cmd.Env {
		if !strings.HasPrefix(kv, tokenEnv+"=") && !strings.HasPrefix(kv, registryTokenEnv+"=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	return execute(rl.t, cmd)
}

// The rehearsal of a project that commits no Cargo.lock and depends on
// another project's crates: the lockfile is resolved against the real
// registry, read only, the sandbox is seeded with every package it pins,
// and the whole pipeline passes with the real public targets untouched.
func TestRehearseWithRegistryDependenciesAndNoCommittedLockfile(t *testing.T) {
	t.Parallel()
	rl := newDependentRelease(t, time.Now().Add(24*time.Hour))
	before := len(rl.registry.Requests())
	res := rl.rehearseWithoutTokens()
	if res.code != 0 {
		t.Fatalf("rehearse: %s", res)
	}
	for _, want := range []string{
		"line 1.13: no Cargo.lock committed; rehearsed with one resolved against " + rl.registry.IndexURL() + ", read only: 1 registry package(s)",
		"sandbox registry seeded from " + rl.registry.IndexURL() + ": 1 package(s) copied (1 version(s), 1 .crate file(s)) in ",
		"rehearsal: what would be public", "registry  demo-core@1.13.1", "registry  demo@1.12.5",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("rehearsal output lacks %q:\n%s", want, res.stdout)
		}
	}
	if n := len(rl.server.ReceivePacks()); n != 0 {
		t.Errorf("the real git server saw %d receive-pack requests", n)
	}
	for _, r := range rl.registry.Requests()[before:] {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			t.Errorf("the real registry saw %s %s", r.Method, r.Path)
		}
	}
	rl.assertUnreleased()
	for _, p := range []string{"journal.json", "lockfiles"} {
		if _, err := os.Stat(filepath.Join(rl.dir, ".embargo", p)); err == nil {
			t.Errorf("the rehearsal wrote the release's %s", p)
		}
	}
}

// A rehearsal of a sealed release rehearses the sealed lockfile, not a
// resolution made now: a newer dependency out since changes nothing, and
// the rehearsal packages the very bytes that were sealed.
func TestRehearseOfASealedReleaseUsesTheSealedLockfile(t *testing.T) {
	t.Parallel()
	rl := newDependentRelease(t, time.Now().Add(24*time.Hour))
	if res := rl.run([]string{"seal"}); res.code != 0 {
		t.Fatalf("seal: %s", res)
	}
	sealed := readSealFile(t, rl.dir)
	rl.publishDependency("1.0.1")
	res := rl.rehearseWithoutTokens("--keep")
	if res.code != 0 {
		t.Fatalf("rehearse: %s", res)
	}
	if !strings.Contains(res.stdout, "line 1.12: no Cargo.lock committed; rehearsed with the one the release keeps for its held tip") {
		t.Errorf("the rehearsal does not say it used the sealed lockfile:\n%s", res.stdout)
	}
	worlds, _ := filepath.Glob(filepath.Join(rl.dir, ".embargo", "rehearsal", "*", "state"))
	if len(worlds) != 1 {
		t.Fatalf("kept rehearsal worlds: %v", worlds)
	}
	for _, l := range sealed.Lines {
		for _, c := range l.Crates {
			sum, err := cargo.FileSha256(cargo.PackagedFile(filepath.Join(worlds[0], "work", l.Line), c.Name, c.Version))
			if err != nil || sum != c.Sha256 {
				t.Errorf("%s@%s rehearsed as sha256 %s (%v), sealed %s", c.Name, c.Version, sum, err, c.Sha256)
			}
		}
	}
}
