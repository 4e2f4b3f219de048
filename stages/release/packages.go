package release

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/seal"
)

// LinePackages prepares the line's worktree at the held tip, with the
// Cargo.lock kept for it (see lockfile.go), and packages its crates
// (verified, --locked), in publish order, with the line's cargo cg.
func LinePackages(ctx context.Context, r *Run, v HeldWorktrees, cg LineCargo, rel config.Release, held plumbing.Hash) ([]cargo.Package, LineLock, error) {
	crates, err := LineCrates(v, rel, held)
	if err != nil {
		return nil, LineLock{}, err
	}
	lock, err := lockFor(r, v, rel, held)
	if err != nil {
		return nil, LineLock{}, err
	}
	dir := WorktreeDir(r.StateDir, rel.Line)
	if err := v.Worktree(ctx, dir, rel.Branch, held, lock.Files()); err != nil {
		return nil, LineLock{}, err
	}
	if err := pinLock(ctx, r, cg, rel, held, dir, &lock); err != nil {
		return nil, LineLock{}, err
	}
	pkgs, err := cg.Package(ctx, dir, crates)
	return pkgs, lock, err
}

// PreparedAsSealed prepares the line's worktree at the held tip, with the
// lockfile the sealed packages were made with, and reports whether it
// still holds those packages; false when that lockfile is not at hand.
func PreparedAsSealed(ctx context.Context, r *Run, v HeldWorktrees, rel config.Release, held plumbing.Hash, s Packaged) (bool, error) {
	lock, err := lockFor(r, v, rel, held)
	if err != nil {
		return false, err
	}
	if !lock.Committed && (lock.data == nil || lock.Sum() != s.PinnedLock) {
		return false, nil
	}
	dir := WorktreeDir(r.StateDir, rel.Line)
	if err := v.Worktree(ctx, dir, rel.Branch, held, lock.Files()); err != nil {
		return false, err
	}
	return packagedAsSealed(dir, s), nil
}

// ReproducesSealed checks packages made again against the seal s, naming
// what differs inside a .crate that does not reproduce.
func ReproducesSealed(r *Run, rel config.Release, pkgs []cargo.Package, s Packaged) error {
	for _, p := range pkgs {
		c := seal.Crate{Name: p.Name, Version: p.Version, Sha256: s.Sha256[p.Name+"@"+p.Version]}
		if c.Sha256 != p.Sha256 {
			msg, _ := notAsSealed(r, rel, c, p.Sha256)
			return fmt.Errorf("the release is not what was verified: %s", msg)
		}
	}
	return nil
}

// readSealed is preflight's package record of a line, when it holds a
// checksum for every crate: what a seal is made of and checked against.
func readSealed(r *Run, rel config.Release) (Packaged, bool) {
	p, ok := PackagedLine(r.Journal, rel.Line)
	if !ok || !p.Complete() {
		return Packaged{}, false
	}
	return p, true
}

// ReleaseSealed is what publish and verify hold a line to: preflight's
// record, overridden by the seal when the release was sealed. The seal is
// what was frozen; a preflight that found the packages differ from it
// still records what it packaged.
func ReleaseSealed(r *Run, rel config.Release) (Packaged, bool, error) {
	s, ok := readSealed(r, rel)
	m, sealedOK, err := ReadSeal(r.StateDir)
	if err != nil {
		return Packaged{}, false, fmt.Errorf("%w: move it aside and seal again with `embargo seal`", err)
	}
	if !sealedOK {
		return s, ok, nil
	}
	sl, found := m.Line(rel.Line)
	if !found {
		return Packaged{}, false, fmt.Errorf("line %s is not in the seal: check and seal again (`embargo seal`)", rel.Line)
	}
	out := Packaged{Sha256: map[string]string{}, Cargo: m.Cargo, PinnedLock: sl.PinnedLock}
	for _, c := range sl.Crates {
		out.Order = append(out.Order, c.NV())
		out.Sha256[c.NV()] = c.Sha256
	}
	return out, true, nil
}

// PackagedOf is what packages seal: their order and checksums, and the
// sha256 of the pinned lockfile they were packaged with.
func PackagedOf(pkgs []cargo.Package, cargoVersion, lock string) Packaged {
	s := Packaged{Sha256: map[string]string{}, Cargo: cargoVersion, PinnedLock: lock}
	for _, p := range pkgs {
		nv := p.Name + "@" + p.Version
		s.Order = append(s.Order, nv)
		s.Sha256[nv] = p.Sha256
	}
	return s
}

// packagedAsSealed reports whether every sealed .crate is in the worktree
// with its sealed checksum.
func packagedAsSealed(dir string, s Packaged) bool {
	for _, nv := range s.Order {
		name, version := SplitNV(nv)
		sum, err := cargo.FileSha256(cargo.PackagedFile(dir, name, version))
		if err != nil || sum != s.Sha256[nv] {
			return false
		}
	}
	return true
}

func SplitNV(nv string) (string, string) {
	for i := len(nv) - 1; i >= 0; i-- {
		if nv[i] == '@' {
			return nv[:i], nv[i+1:]
		}
	}
	return nv, ""
}

// commitTree lets the cargo workspace reader look inside a vault commit.
type commitTree struct {
	tree *object.Tree
}

func WorkspaceAt(v CommitTrees, commit plumbing.Hash) (ws *cargo.Workspace, err error) {
	err = v.Locked(func() error {
		t, err := v.Tree(commit)
		if err != nil {
			return err
		}
		ws, err = cargo.ReadWorkspace(commitTree{tree: t})
		return err
	})
	return ws, err
}

// LineCrates reads the workspace at a line's held tip and selects the
// line's crates from it, in publish order.
func LineCrates(v CommitTrees, rel config.Release, held plumbing.Hash) ([]*cargo.Crate, error) {
	ws, err := WorkspaceAt(v, held)
	if err != nil {
		return nil, err
	}
	return ws.Select(rel.Crates)
}

// TreeOf lets the cargo workspace reader look inside a commit's tree read
// elsewhere (embargo init reads the operator's clone).
func TreeOf(t *object.Tree) cargo.Tree { return commitTree{tree: t} }

func (c commitTree) Read(path string) (string, bool, error) {
	f, err := c.tree.File(path)
	if errors.Is(err, object.ErrFileNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	s, err := f.Contents()
	return s, err == nil, err
}

func (c commitTree) Dirs(dir string) ([]string, error) {
	t := c.tree
	if dir != "." && dir != "" {
		sub, err := c.tree.Tree(dir)
		if errors.Is(err, object.ErrDirectoryNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		t = sub
	}
	var out []string
	for _, e := range t.Entries {
		if e.Mode == filemode.Dir {
			out = append(out, e.Name)
		}
	}
	return out, nil
}

// heldWorkspace reads a line's held tip in the source clone: the branch,
// its tree and the crates the line publishes. A missing branch is a nil
// ref and no error: preflight names it.
func heldWorkspace(repo *git.Repository, rel config.Release) (*plumbing.Reference, *object.Tree, []*cargo.Crate, error) {
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(rel.Branch), true)
	if err != nil {
		return nil, nil, nil, nil
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, nil, nil, err
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, nil, nil, err
	}
	ws, err := cargo.ReadWorkspace(commitTree{tree: tree})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", rel.Branch, err)
	}
	sel, err := ws.Select(rel.Crates)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", rel.Branch, err)
	}
	return ref, tree, sel, nil
}
