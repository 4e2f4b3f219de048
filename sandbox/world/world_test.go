package world

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/async-rs/embargo/internal/testenv"
)

func build(t *testing.T) *World {
	t.Helper()
	w, err := Build(DefaultSpec(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func open(t *testing.T, path string) *git.Repository {
	t.Helper()
	r, err := git.PlainOpen(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func refs(t *testing.T, r *git.Repository) map[string]plumbing.Hash {
	t.Helper()
	out := map[string]plumbing.Hash{}
	it, err := r.References()
	if err != nil {
		t.Fatal(err)
	}
	_ = it.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() == plumbing.HashReference {
			out[ref.Name().String()] = ref.Hash()
		}
		return nil
	})
	return out
}

func commitAt(t *testing.T, r *git.Repository, ref string) *object.Commit {
	t.Helper()
	h, err := r.ResolveRevision(plumbing.Revision(ref))
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	c, err := r.CommitObject(*h)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fileAt(t *testing.T, c *object.Commit, path string) string {
	t.Helper()
	f, err := c.File(path)
	if err != nil {
		t.Fatalf("%s at %s: %v", path, c.Hash, err)
	}
	s, err := f.Contents()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// export writes the tree of c into dir, as a checkout would.
func export(t *testing.T, c *object.Commit, dir string) {
	t.Helper()
	files, err := c.Files()
	if err != nil {
		t.Fatal(err)
	}
	err = files.ForEach(func(f *object.File) error {
		s, err := f.Contents()
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(s), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPublicHoldsOnlyPublicRefs(t *testing.T) {
	w := build(t)
	pub := open(t, w.Public)
	var got []string
	for name := range refs(t, pub) {
		got = append(got, name)
	}
	sort.Strings(got)
	want := []string{"refs/heads/main", "refs/heads/release-1.12", "refs/tags/v1.12.4", "refs/tags/v1.13.0"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("public refs = %v, want %v", got, want)
	}
	head, err := pub.Reference(plumbing.HEAD, false)
	if err != nil || head.Target() != "refs/heads/main" {
		t.Fatalf("public HEAD = %v (%v), want refs/heads/main", head, err)
	}

	src := open(t, w.Source)
	for _, l := range w.Lines {
		tag, err := pub.TagObject(refs(t, pub)["refs/tags/"+l.PublicTag()])
		if err != nil {
			t.Fatalf("%s is not an annotated tag: %v", l.PublicTag(), err)
		}
		if tag.Target != commitAt(t, pub, l.PublicBranch).Hash {
			t.Fatalf("%s does not point at the tip of %s", l.PublicTag(), l.PublicBranch)
		}
		held := commitAt(t, src, l.HeldBranch).Hash
		if _, err := pub.CommitObject(held); !errors.Is(err, plumbing.ErrObjectNotFound) {
			t.Fatalf("held commit %s of %s is in the public repository (%v)", held, l.Line, err)
		}
	}
}

func TestSourceHoldsFixes(t *testing.T) {
	w := build(t)
	src := open(t, w.Source)
	pub := open(t, w.Public)
	srcRefs := refs(t, src)

	for _, l := range w.Lines {
		publicTip := commitAt(t, pub, l.PublicBranch)
		if got := srcRefs["refs/heads/"+l.PublicBranch]; got != publicTip.Hash {
			t.Errorf("source %s = %s, want public tip %s", l.PublicBranch, got, publicTip.Hash)
		}
		if got := srcRefs["refs/remotes/origin/"+l.PublicBranch]; got != publicTip.Hash {
			t.Errorf("source origin/%s = %s, want %s", l.PublicBranch, got, publicTip.Hash)
		}
		fix := commitAt(t, src, l.HeldBranch)
		if len(fix.ParentHashes) != 1 || fix.ParentHashes[0] != publicTip.Hash {
			t.Errorf("%s parents = %v, want [%s]", l.HeldBranch, fix.ParentHashes, publicTip.Hash)
		}
		tag, err := src.TagObject(srcRefs["refs/tags/"+l.Tag])
		if err != nil || tag.Target != fix.Hash {
			t.Errorf("tag %s: %v, want annotated tag of %s", l.Tag, err, fix.Hash)
		}
		for i, c := range w.Crates {
			m := fileAt(t, fix, c+"/Cargo.toml")
			if !strings.Contains(m, "\nversion = \""+l.FixVersion+"\"\n") {
				t.Errorf("%s at %s:\n%s\nwant version %s", c, l.HeldBranch, m, l.FixVersion)
			}
			if i > 0 && !strings.Contains(m, `version = "=`+l.FixVersion+`"`) {
				t.Errorf("%s at %s does not require =%s of %s:\n%s", c, l.HeldBranch, l.FixVersion, w.Crates[i-1], m)
			}
			if strings.Contains(m, l.PublicVersion) {
				t.Errorf("%s at %s still mentions %s", c, l.HeldBranch, l.PublicVersion)
			}
			if pm := fileAt(t, publicTip, c+"/Cargo.toml"); !strings.Contains(pm, "\nversion = \""+l.PublicVersion+"\"\n") {
				t.Errorf("%s at %s:\n%s\nwant version %s", c, l.PublicBranch, pm, l.PublicVersion)
			}
		}
		if lock := fileAt(t, fix, "Cargo.lock"); strings.Contains(lock, l.PublicVersion) {
			t.Errorf("Cargo.lock at %s still has %s", l.HeldBranch, l.PublicVersion)
		}
		if lib := fileAt(t, fix, w.Crates[0]+"/src/lib.rs"); !strings.Contains(lib, "fixed in "+l.FixVersion) {
			t.Errorf("fix of %s does not change %s:\n%s", l.Line, w.Crates[0], lib)
		}
	}

	cfg, err := src.Config()
	if err != nil {
		t.Fatal(err)
	}
	if o := cfg.Remotes["origin"]; o == nil || len(o.URLs) != 1 || o.URLs[0] != w.Public {
		t.Fatalf("origin = %+v, want %s", o, w.Public)
	}
	head, _ := src.Head()
	if head.Name() != "refs/heads/main" {
		t.Fatalf("source HEAD = %s, want refs/heads/main", head.Name())
	}
	wt, _ := src.Worktree()
	st, err := wt.Status()
	if err != nil {
		t.Fatal(err)
	}
	if !st.IsClean() {
		t.Fatalf("source work tree is not clean:\n%s", st)
	}
	if b, err := os.ReadFile(filepath.Join(w.Source, w.Crates[0], "Cargo.toml")); err != nil || !bytes.Contains(b, []byte(`"1.13.0"`)) {
		t.Fatalf("work tree is not the main checkout: %v\n%s", err, b)
	}
}

func TestReproducible(t *testing.T) {
	a, b := build(t), build(t)
	ra, rb := refs(t, open(t, a.Source)), refs(t, open(t, b.Source))
	if len(ra) != len(rb) {
		t.Fatalf("%v vs %v", ra, rb)
	}
	for name, h := range ra {
		if rb[name] != h {
			t.Errorf("%s differs between builds: %s vs %s", name, h, rb[name])
		}
	}
}

func TestCargoAcceptsWorkspace(t *testing.T) {
	testenv.NeedTool(t, "cargo", "cargo checks the generated workspace")
	w := build(t)
	src := open(t, w.Source)
	for _, l := range w.Lines {
		for _, ref := range []string{l.PublicBranch, l.HeldBranch} {
			dir := t.TempDir()
			export(t, commitAt(t, src, ref), dir)
			cargo := func(args ...string) {
				t.Helper()
				cmd := exec.Command("cargo", args...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "CARGO_TARGET_DIR="+filepath.Join(dir, "target"))
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s: cargo %s: %v\n%s", ref, strings.Join(args, " "), err, out)
				}
			}
			cargo("metadata", "--locked", "--offline", "--format-version", "1")
			if ref != l.HeldBranch {
				continue
			}
			cargo("package", "--workspace", "--no-verify", "--offline", "--locked")
			before, _ := os.ReadFile(filepath.Join(dir, "Cargo.lock"))
			cargo("generate-lockfile", "--offline")
			after, _ := os.ReadFile(filepath.Join(dir, "Cargo.lock"))
			if !bytes.Equal(before, after) {
				t.Fatalf("%s: cargo rewrites Cargo.lock:\n--- ours\n%s\n--- cargo\n%s", ref, before, after)
			}
		}
	}
}

func TestCommitFile(t *testing.T) {
	w := build(t)
	pub := open(t, w.Public)
	before := commitAt(t, pub, "main")

	sha, err := CommitFile(w.Public, "main", "demo-core/src/extra.rs", "// moved\n", "Move the public tip")
	if err != nil {
		t.Fatal(err)
	}
	after := commitAt(t, pub, "main")
	if after.Hash.String() != sha {
		t.Fatalf("main = %s, want %s", after.Hash, sha)
	}
	if len(after.ParentHashes) != 1 || after.ParentHashes[0] != before.Hash {
		t.Fatalf("parents = %v, want [%s]", after.ParentHashes, before.Hash)
	}
	if got := fileAt(t, after, "demo-core/src/extra.rs"); got != "// moved\n" {
		t.Fatalf("new file = %q", got)
	}
	if fileAt(t, after, "demo-core/src/lib.rs") != fileAt(t, before, "demo-core/src/lib.rs") {
		t.Fatal("other files changed")
	}
	if !after.Committer.When.After(before.Committer.When) {
		t.Fatal("commit time does not move forward")
	}

	// In the source clone, the checked-out branch moves but its files do not.
	readme := filepath.Join(w.Source, "README.md")
	old, _ := os.ReadFile(readme)
	if _, err := CommitFile(w.Source, "main", "README.md", "changed\n", "Change README"); err != nil {
		t.Fatal(err)
	}
	if now, _ := os.ReadFile(readme); !bytes.Equal(now, old) {
		t.Fatal("CommitFile touched the work tree")
	}
	if got := fileAt(t, commitAt(t, open(t, w.Source), "main"), "README.md"); got != "changed\n" {
		t.Fatalf("README.md at main = %q", got)
	}

	if _, err := CommitFile(w.Public, "no-such-branch", "a", "a", "a"); err == nil {
		t.Fatal("CommitFile on a missing branch succeeded")
	}
	for _, p := range []string{"", "/etc/x", "../x", ".git/config"} {
		if _, err := CommitFile(w.Public, "main", p, "a", "a"); err == nil {
			t.Fatalf("CommitFile accepted path %q", p)
		}
	}
}

func TestBuildRejectsBadSpecs(t *testing.T) {
	for name, edit := range map[string]func(*Spec){
		"no crates":        func(s *Spec) { s.Crates = nil },
		"same branch":      func(s *Spec) { s.Lines[1].PublicBranch = "main" },
		"fix not above":    func(s *Spec) { s.Lines[0].FixVersion = "1.13.0" },
		"bad version":      func(s *Spec) { s.Lines[0].PublicVersion = "1.13" },
		"bad author":       func(s *Spec) { s.Author = "nobody" },
		"tag is public":    func(s *Spec) { s.Lines[0].Tag = "v1.12.4" },
		"duplicate crate":  func(s *Spec) { s.Crates = []string{"a", "a"} },
		"bad branch name":  func(s *Spec) { s.Lines[0].HeldBranch = "embargo/../x" },
		"bad crate name":   func(s *Spec) { s.Crates = []string{"a b"} },
		"no release lines": func(s *Spec) { s.Lines = nil },
	} {
		s := DefaultSpec(t.TempDir())
		edit(&s)
		if _, err := Build(s); err == nil {
			t.Errorf("%s: Build succeeded", name)
		}
	}
}

func TestSingleCrateSingleLine(t *testing.T) {
	s := DefaultSpec(t.TempDir())
	s.Crates = []string{"solo"}
	s.Lines = s.Lines[:1]
	w, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	fix := commitAt(t, open(t, w.Source), "embargo/1.13")
	if m := fileAt(t, fix, "solo/Cargo.toml"); strings.Contains(m, "[dependencies]") {
		t.Fatalf("single crate has dependencies:\n%s", m)
	}
}

// A project that commits no Cargo.lock, whose first crate depends on a
// crate of another project from the registry: every commit carries the
// requirement, none a lockfile, and the .gitignore lists it.
func TestWorkspaceWithRegistryDependencyAndNoLockfile(t *testing.T) {
	s := DefaultSpec(t.TempDir())
	s.Dependencies = map[string]string{"tinydep": "1", "other-dep": "0.3"}
	s.NoLockfile = true
	w, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	src := open(t, w.Source)
	for _, l := range w.Lines {
		for _, ref := range []string{l.PublicBranch, l.HeldBranch} {
			c := commitAt(t, src, ref)
			if _, err := c.File("Cargo.lock"); err == nil {
				t.Errorf("%s commits a Cargo.lock", ref)
			}
			if ign := fileAt(t, c, ".gitignore"); !strings.Contains(ign, "\nCargo.lock\n") {
				t.Errorf("%s: .gitignore does not list Cargo.lock:\n%s", ref, ign)
			}
			core := fileAt(t, c, w.Crates[0]+"/Cargo.toml")
			if !strings.Contains(core, "[dependencies]\nother-dep = \"0.3\"\ntinydep = \"1\"\n") {
				t.Errorf("%s: %s lacks its registry dependencies:\n%s", ref, w.Crates[0], core)
			}
			if m := fileAt(t, c, w.Crates[1]+"/Cargo.toml"); strings.Contains(m, "tinydep") {
				t.Errorf("%s: %s depends on tinydep too:\n%s", ref, w.Crates[1], m)
			}
		}
	}

	// A committed lockfile cannot pin what only the registry knows.
	s = DefaultSpec(t.TempDir())
	s.Dependencies = map[string]string{"tinydep": "1"}
	if _, err := Build(s); err == nil || !strings.Contains(err.Error(), "NoLockfile") {
		t.Errorf("dependencies with a committed lockfile: %v", err)
	}
}
