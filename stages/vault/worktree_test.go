package vault_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/sandbox/world"
	"github.com/async-rs/embargo/stages/vault"
)

// The Cargo.lock pinned for a repository that commits none sits in the
// checkout beside the commit's files: a checkout holding it is still clean
// and reused, even where the .gitignore does not list it, while any other
// untracked file makes it cloned again.
func TestWorktreeCarriesExtraFilesAndStaysClean(t *testing.T) {
	s := world.DefaultSpec(t.TempDir())
	s.NoLockfile = true
	w, err := world.Build(s)
	if err != nil {
		t.Fatal(err)
	}
	branch := w.Lines[0].HeldBranch
	if _, err := world.CommitFile(w.Source, branch, ".gitignore", "/target\n", "Stop ignoring Cargo.lock"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, err := vault.Open(filepath.Join(t.TempDir(), "vault.git"))
	if err != nil {
		t.Fatal(err)
	}
	tips, err := v.FetchHeld(ctx, w.Source, []string{branch}, nil)
	if err != nil {
		t.Fatal(err)
	}
	held := tips[branch]
	dir := filepath.Join(t.TempDir(), "work", "1.13")
	marker := filepath.Join(dir, ".git", "reused")
	lock := filepath.Join(dir, "Cargo.lock")
	prepare := func(extra map[string][]byte) {
		t.Helper()
		if err := v.Worktree(ctx, dir, branch, held, extra); err != nil {
			t.Fatal(err)
		}
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return ""
		}
		return string(b)
	}

	prepare(map[string][]byte{"Cargo.lock": []byte("pinned A\n")})
	if got := read(lock); got != "pinned A\n" {
		t.Fatalf("Cargo.lock in the checkout: %q", got)
	}
	os.WriteFile(marker, []byte("x"), 0o644)

	prepare(map[string][]byte{"Cargo.lock": []byte("pinned A\n")})
	if read(marker) == "" {
		t.Error("a checkout holding only its commit and the pinned Cargo.lock was cloned again")
	}
	prepare(map[string][]byte{"Cargo.lock": []byte("pinned B\n")})
	if read(marker) == "" || read(lock) != "pinned B\n" {
		t.Errorf("another pinned Cargo.lock: reused %v, content %q", read(marker) != "", read(lock))
	}

	// Without it, the same untracked file is a change: cloned again.
	prepare(nil)
	if read(marker) != "" || read(lock) != "" {
		t.Errorf("an untracked Cargo.lock nobody pinned was kept (reused %v, content %q)", read(marker) != "", read(lock))
	}

	// A file the commit tracks is used as committed.
	err = v.Worktree(ctx, dir, branch, held, map[string][]byte{"README.md": []byte("other\n")})
	if err == nil || !strings.Contains(err.Error(), "README.md is committed") {
		t.Errorf("replacing a committed file: %v", err)
	}
	if err := v.Worktree(ctx, dir, branch, plumbing.ZeroHash, nil); err == nil {
		t.Error("a checkout at another commit than the held tip was made")
	}
}
