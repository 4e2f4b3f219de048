package stages

import (
	"context"
	"fmt"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/seal"
)

func LineDir(r *release.Run, rel config.Release) string {
	return WorktreeDir(r.StateDir, rel.Line)
}

// LinePackages prepares the line's worktree at the held tip, with the
// Cargo.lock kept for it (see lockfile.go), and packages its crates
// (verified, --locked), in publish order, with the line's cargo cg.
func LinePackages(ctx context.Context, r *release.Run, v release.HeldWorktrees, cg release.LineCargo, rel config.Release, held plumbing.Hash) ([]cargo.Package, LineLock, error) {
	crates, err := LineCrates(v, rel, held)
	if err != nil {
		return nil, LineLock{}, err
	}
	lock, err := lockFor(r, v, rel, held)
	if err != nil {
		return nil, LineLock{}, err
	}
	dir := LineDir(r, rel)
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
func PreparedAsSealed(ctx context.Context, r *release.Run, v release.HeldWorktrees, rel config.Release, held plumbing.Hash, s Packaged) (bool, error) {
	lock, err := lockFor(r, v, rel, held)
	if err != nil {
		return false, err
	}
	if !lock.Committed && (lock.data == nil || lock.Sum() != s.PinnedLock) {
		return false, nil
	}
	dir := LineDir(r, rel)
	if err := v.Worktree(ctx, dir, rel.Branch, held, lock.Files()); err != nil {
		return false, err
	}
	return PackagedAsSealed(dir, s), nil
}

// ReproducesSealed checks packages made again against the seal s, naming
// what differs inside a .crate that does not reproduce.
func ReproducesSealed(r *release.Run, rel config.Release, pkgs []cargo.Package, s Packaged) error {
	for _, p := range pkgs {
		c := seal.Crate{Name: p.Name, Version: p.Version, Sha256: s.Sha256[p.Name+"@"+p.Version]}
		if c.Sha256 != p.Sha256 {
			msg, _ := notAsSealed(r, rel, c, p.Sha256)
			return fmt.Errorf("the release is not what was verified: %s", msg)
		}
	}
	return nil
}

// ReadSealed is preflight's package record of a line, when it holds a
// checksum for every crate: what a seal is made of and checked against.
func ReadSealed(r *release.Run, rel config.Release) (Packaged, bool) {
	p, ok := PackagedLine(r, rel)
	if !ok || !p.Complete() {
		return Packaged{}, false
	}
	return p, true
}

// ReleaseSealed is what publish and verify hold a line to: preflight's
// record, overridden by the seal when the release was sealed. The seal is
// what was frozen; a preflight that found the packages differ from it
// still records what it packaged.
func ReleaseSealed(r *release.Run, rel config.Release) (Packaged, bool, error) {
	s, ok := ReadSealed(r, rel)
	m, sealedOK, err := ReadSeal(r)
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

// CheckRegistry compares packages with the registry: a version already there
// with the same checksum is already released; with another, it is a hard
// error naming both.
func CheckRegistry(ctx context.Context, idx release.RegistryIndex, pkgs []cargo.Package) (released []string, problems []string, err error) {
	for _, p := range pkgs {
		e, found, err := idx.Lookup(ctx, p.Name, p.Version)
		if err != nil {
			return nil, nil, err
		}
		if !found {
			continue
		}
		if e.Cksum == p.Sha256 {
			released = append(released, p.Name+"@"+p.Version)
		} else {
			problems = append(problems, fmt.Sprintf("%s@%s is already on the registry with sha256 %s, but the held tip packages to %s", p.Name, p.Version, e.Cksum, p.Sha256))
		}
	}
	sort.Strings(released)
	return released, problems, nil
}
