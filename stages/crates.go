package stages

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/index"
	"github.com/async-rs/embargo/stages/retry"
	"github.com/async-rs/embargo/stages/seal"
)

// registryIndex is where crates go: the configured registry, or the
// sandbox registry in a rehearsal.
func registryIndex(r *pipeline.Run) string {
	if r.Targets != nil && r.Targets.RegistryIndex != "" {
		return r.Targets.RegistryIndex
	}
	return r.Config.Registry.Index
}

// registryToken is the publish credential; a rehearsal never reads the
// real one.
func registryToken(r *pipeline.Run) string {
	if r.Targets != nil {
		return r.Targets.RegistryToken
	}
	tok, _ := r.Secrets.Get(r.Config.Registry.TokenEnv)
	return tok
}

// indexClient reads the registry's index, everywhere embargo reads it
// (preflight, publish, verify): with the registry's token, which it sends
// only if the registry wants it to be read (a private registry's
// auth-required), as cargo does. It waits between tries on gateClock.
func indexClient(r *pipeline.Run) (*index.Client, error) {
	src := "" // a rehearsal's sandbox token is the sandbox's own
	if r.Targets == nil {
		src = fmt.Sprintf("%s (registry.token_env in %s)", r.Config.Registry.TokenEnv, r.Config.Path)
	}
	return index.New(registryIndex(r), index.Options{Token: registryToken(r), TokenSource: src, Clock: gateClock(r)})
}

// gateClock is what a client waits on between tries: the gate's clock, or
// this machine's where there is no gate (plan, the rate limit's count).
func gateClock(r *pipeline.Run) retry.Clock {
	if r.Gate == nil || r.Gate.Clock == nil {
		return retry.Wall{}
	}
	return r.Gate.Clock
}

// cargoFor is the cargo of one line: a CARGO_HOME of its own, so that lines
// publishing in parallel never wait on each other's package-cache lock. It
// holds the registry's token, and hands it to the cargo commands that need
// it (see cargo.Registry.Token).
//
// In a rehearsal to an alternative registry, cargo keeps the registry's
// real index URL, which it writes into the packages (so that they are the
// sealed bytes), and reaches the sandbox through the rehearsal's proxy,
// which answers for the real registry.
func cargoFor(r *pipeline.Run, rel config.Release) *cargo.Cargo {
	reg := cargo.Registry{Name: r.Config.Registry.Name, Index: registryIndex(r), Token: registryToken(r)}
	cg := &cargo.Cargo{Home: filepath.Join(r.StateDir, "cargo", safeName(rel.Line)), Registry: reg, Verbose: r.Out != nil && r.Out.Verbose, Hide: secretVariables(r.Config),
		Now: gateClock(r).Now}
	if t := r.Targets; t != nil && t.RegistryProxy != "" {
		cg.Registry.Index = r.Config.Registry.Index
		cg.Proxy, cg.ProxyCA = t.RegistryProxy, t.RegistryProxyCA
	}
	return cg
}

func worktreeDir(r *pipeline.Run, rel config.Release) string {
	return WorktreeDir(r.StateDir, rel.Line)
}

func safeName(s string) string {
	return strings.Map(func(c rune) rune {
		if c == '/' || c == '\\' || c == ' ' || c == ':' {
			return '_'
		}
		return c
	}, s)
}

// linePackages prepares the line's worktree at the held tip, with the
// Cargo.lock kept for it (see lockfile.go), and packages its crates
// (verified, --locked), in publish order.
func linePackages(ctx context.Context, r *pipeline.Run, v HeldWorktrees, rel config.Release, held plumbing.Hash) ([]cargo.Package, lineLock, error) {
	crates, err := lineCrates(v, rel, held)
	if err != nil {
		return nil, lineLock{}, err
	}
	lock, err := lockFor(r, v, rel, held)
	if err != nil {
		return nil, lineLock{}, err
	}
	dir := worktreeDir(r, rel)
	if err := v.Worktree(ctx, dir, rel.Branch, held, lock.files()); err != nil {
		return nil, lineLock{}, err
	}
	cg := clients.Cargo(r, rel)
	if err := pinLock(ctx, r, cg, rel, held, dir, &lock); err != nil {
		return nil, lineLock{}, err
	}
	pkgs, err := cg.Package(ctx, dir, crates)
	return pkgs, lock, err
}

// preparedAsSealed prepares the line's worktree at the held tip, with the
// lockfile the sealed packages were made with, and reports whether it
// still holds those packages; false when that lockfile is not at hand.
func preparedAsSealed(ctx context.Context, r *pipeline.Run, v HeldWorktrees, rel config.Release, held plumbing.Hash, s Packaged) (bool, error) {
	lock, err := lockFor(r, v, rel, held)
	if err != nil {
		return false, err
	}
	if !lock.committed && (lock.data == nil || lock.sum() != s.PinnedLock) {
		return false, nil
	}
	dir := worktreeDir(r, rel)
	if err := v.Worktree(ctx, dir, rel.Branch, held, lock.files()); err != nil {
		return false, err
	}
	return packagedAsSealed(dir, s), nil
}

// reproducesSealed checks packages made again against the seal s, naming
// what differs inside a .crate that does not reproduce.
func reproducesSealed(r *pipeline.Run, rel config.Release, pkgs []cargo.Package, s Packaged) error {
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
func readSealed(r *pipeline.Run, rel config.Release) (Packaged, bool) {
	p, ok := PackagedLine(r, rel)
	if !ok || !p.Complete() {
		return Packaged{}, false
	}
	return p, true
}

// releaseSealed is what publish and verify hold a line to: preflight's
// record, overridden by the seal when the release was sealed. The seal is
// what was frozen; a preflight that found the packages differ from it
// still records what it packaged.
func releaseSealed(r *pipeline.Run, rel config.Release) (Packaged, bool, error) {
	s, ok := readSealed(r, rel)
	m, sealedOK, err := readSeal(r)
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

// packagedOf is what packages seal: their order and checksums, and the
// sha256 of the pinned lockfile they were packaged with.
func packagedOf(pkgs []cargo.Package, cargoVersion, lock string) Packaged {
	s := Packaged{Sha256: map[string]string{}, Cargo: cargoVersion, PinnedLock: lock}
	for _, p := range pkgs {
		nv := p.Name + "@" + p.Version
		s.Order = append(s.Order, nv)
		s.Sha256[nv] = p.Sha256
	}
	return s
}

// checkRegistry compares packages with the registry: a version already there
// with the same checksum is already released; with another, it is a hard
// error naming both.
func checkRegistry(ctx context.Context, idx RegistryIndex, pkgs []cargo.Package) (released []string, problems []string, err error) {
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
