package bundle

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/sandbox/demo"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/seal"
	"github.com/async-rs/embargo/stages/vault"
)

// A bundle restores into a state directory's vault under the names
// preflight reads, and a directory restored from one bundle refuses another.
func TestRestore(t *testing.T) {
	dir := t.TempDir()
	ex, err := demo.Build(dir, demo.Options{T0: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(ex.Config)
	if err != nil {
		t.Fatal(err)
	}
	src, err := git.PlainOpen(ex.World.Source)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := os.ReadFile(ex.Config)
	m := &seal.Manifest{ID: cfg.Embargo.ID, T0: cfg.T0(), Config: seal.File{Sha256: seal.Sha256(cb)}, Description: seal.File{Sha256: seal.Sha256([]byte(cfg.Description))}}
	refs := map[plumbing.ReferenceName]plumbing.Hash{}
	for _, rel := range cfg.Releases {
		b, _ := src.Reference(plumbing.NewBranchReferenceName(rel.Branch), true)
		tg, _ := src.Reference(plumbing.NewTagReferenceName(rel.Tag), true)
		refs[b.Name()], refs[tg.Name()] = b.Hash(), tg.Hash()
		m.Lines = append(m.Lines, seal.Line{Line: rel.Line, Branch: rel.Branch, Held: b.Hash().String(), Tag: rel.Tag, TagObject: tg.Hash().String()})
	}
	archive, err := seal.Archive(src, refs)
	if err != nil {
		t.Fatal(err)
	}
	// Line 1.13 was packaged with a Cargo.lock cargo resolved.
	pinned := lockOf("tinydep@1.0.0")
	m.Lines[0].PinnedLock = seal.Sha256([]byte(pinned))
	manifest, _ := m.Marshal()
	b := &seal.Bundle{Manifest: manifest, Git: archive, Description: []byte(cfg.Description)}
	state := filepath.Join(dir, "runner-state")
	ref := "127.0.0.1:5000/b@sha256:" + strings.Repeat("a", 64)
	b.Lockfiles = map[string][]byte{seal.LockfileName(m.Lines[0].Line): []byte(lockOf("tinydep@1.0.1"))}
	if _, err := Restore(cfg, state, ref, b); err == nil || !strings.Contains(err.Error(), "the Cargo.lock pinned for line 1.13 is missing or not the sealed bytes") {
		t.Errorf("a bundle with another lockfile than sealed: %v", err)
	}
	if _, err := os.Stat(state); err == nil {
		t.Error("a refused bundle wrote a state directory")
	}
	b.Lockfiles = map[string][]byte{seal.LockfileName(m.Lines[0].Line): []byte(pinned)}
	if _, err := Restore(cfg, state, ref, b); err != nil {
		t.Fatal(err)
	}
	// The runner's preflight packages at the sealed tip with exactly it.
	if got, ok := release.KeptLockfile(state, m.Lines[0].Line, m.Lines[0].Held); !ok || string(got) != pinned {
		t.Errorf("kept lockfile after the restore: %v %q", ok, got)
	}
	if _, ok := release.KeptLockfile(state, m.Lines[1].Line, m.Lines[1].Held); ok {
		t.Error("a line sealed without a pinned lockfile has one")
	}
	// The marker that puts preflight and push in bundle mode.
	if got, ok := release.BundleRef(state); !ok || got != ref {
		t.Errorf("marker: %q %v", got, ok)
	}
	if got, _ := os.ReadFile(release.SealPath(state)); !bytes.Equal(got, manifest) {
		t.Error("seal.json is not the bundle's")
	}
	// Preflight's view: every held branch and source tag from the vault,
	// and the workspace at each held tip.
	v, err := vault.Open(release.VaultPath(state))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Lines {
		h, ok := v.Held(l.Branch)
		if !ok || h.String() != l.Held {
			t.Errorf("held %s = %s, want %s", l.Branch, h, l.Held)
		}
		if c, ok, err := v.SourceTag(l.Tag); err != nil || !ok || c.String() != l.Held {
			t.Errorf("source tag %s -> %s %v %v", l.Tag, c, ok, err)
		}
	}
	tree, err := v.Tree(plumbing.NewHash(m.Lines[0].Held))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cargo.ReadWorkspace(release.TreeOf(tree)); err != nil {
		t.Errorf("the restored tip's workspace: %v", err)
	}

	// Same bundle again: fine. Another one: refused.
	if _, err := Restore(cfg, state, ref, b); err != nil {
		t.Errorf("restoring the same bundle again: %v", err)
	}
	other := "127.0.0.1:5000/b@sha256:" + strings.Repeat("b", 64)
	if _, err := Restore(cfg, state, other, b); err == nil || !strings.Contains(err.Error(), "was restored from bundle") {
		t.Errorf("another bundle into the same directory: %v", err)
	}
	// Another config: refused before anything is written.
	if err := os.WriteFile(ex.Config, append(cb, []byte("# edited\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(cfg, filepath.Join(dir, "other-state"), ref, b); err == nil || !strings.Contains(err.Error(), "is not the config sealed in bundle") {
		t.Errorf("another config: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "other-state")); err == nil {
		t.Error("a refused bundle wrote a state directory")
	}
}

func lockOf(versions ...string) string {
	var b strings.Builder
	b.WriteString("version = 4\n")
	for _, nv := range versions {
		name, v, _ := strings.Cut(nv, "@")
		fmt.Fprintf(&b, "\n[[package]]\nname = %q\nversion = %q\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n", name, v)
	}
	return b.String()
}
