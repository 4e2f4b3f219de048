package release

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/vault"
)

// ReleaseSet is what a rehearsal seeds its sandbox registry with, read
// before the sandbox exists.
type ReleaseSet struct {
	Crates   []string // the crates the release publishes
	Released []string // the versions it publishes, name@version
	// Locked are the registry packages (name@version) of the lockfiles the
	// release is packaged with, committed or pinned: every package its
	// resolution needs.
	Locked []string
	// Pinned are the lockfiles of the lines whose repository commits none.
	Pinned []PinnedLockfile
}

// PinnedLockfile is the Cargo.lock a line is packaged with at its held
// tip. Resolved is true when it was resolved for the rehearsal, false when
// it is the one the release's state directory keeps (the sealed one, when
// it was sealed).
type PinnedLockfile struct {
	Line, Held string
	Data       []byte
	Resolved   bool
	Packages   int // registry packages it pins
}

// ReleaseCrates reads, from the held tips in the source clone, what a
// rehearsal seeds its sandbox registry with. A line whose repository
// commits no Cargo.lock gets the one the release's state directory keeps
// for its held tip, or else one resolved against the real registry, read
// only (no token), in a checkout of the held tip under work.
func ReleaseCrates(ctx context.Context, cfg *config.Config, stateDir, work string) (*ReleaseSet, error) {
	source := cfg.Resolve(cfg.Source.Repo)
	repo, err := git.PlainOpenWithOptions(source, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("open source repository %s: %w", cfg.Source.Repo, err)
	}
	set := &ReleaseSet{}
	seenCrate, seenLock := map[string]bool{}, map[string]bool{}
	var resolver *lockResolver
	for _, rel := range cfg.Releases {
		ref, tree, sel, err := heldWorkspace(repo, rel)
		if err != nil {
			return nil, err
		}
		if ref == nil {
			continue // preflight reports it by name
		}
		for _, cr := range sel {
			set.Released = append(set.Released, cr.Name+"@"+cr.Version)
			if !seenCrate[cr.Name] {
				seenCrate[cr.Name] = true
				set.Crates = append(set.Crates, cr.Name)
			}
		}
		lock, committed, err := commitTree{tree: tree}.Read(cargo.LockfileName)
		if err != nil {
			return nil, err
		}
		var pin *PinnedLockfile
		if !committed {
			held := ref.Hash().String()
			pin = &PinnedLockfile{Line: rel.Line, Held: held}
			if data, ok := KeptLockfile(stateDir, rel.Line, held); ok {
				pin.Data = data
			} else {
				if resolver == nil {
					resolver = &lockResolver{cfg: cfg, source: source, work: work}
				}
				if pin.Data, err = resolver.resolve(ctx, rel, ref.Hash()); err != nil {
					return nil, fmt.Errorf("line %s: %w", rel.Line, err)
				}
				pin.Resolved = true
			}
			lock = string(pin.Data)
		}
		pkgs, err := cargo.ParseLock(lock)
		if err != nil {
			return nil, fmt.Errorf("%s: Cargo.lock: %v", rel.Branch, err)
		}
		for _, p := range pkgs {
			if !p.FromRegistry() {
				continue
			}
			if pin != nil {
				pin.Packages++
			}
			if nv := p.Name + "@" + p.Version; !seenLock[nv] {
				seenLock[nv] = true
				set.Locked = append(set.Locked, nv)
			}
		}
		if pin != nil {
			set.Pinned = append(set.Pinned, *pin)
		}
	}
	sort.Strings(set.Crates)
	sort.Strings(set.Released)
	sort.Strings(set.Locked)
	return set, nil
}

// lockResolver resolves the lockfiles of lines whose repository commits
// none, against the real registry, read only: a vault and a CARGO_HOME of
// its own under work, shared by the lines.
type lockResolver struct {
	cfg    *config.Config
	source string
	work   string
	vault  *vault.Vault
}

func (lr *lockResolver) resolve(ctx context.Context, rel config.Release, held plumbing.Hash) ([]byte, error) {
	if lr.vault == nil {
		v, err := vault.Open(filepath.Join(lr.work, "vault.git"))
		if err != nil {
			return nil, err
		}
		lr.vault = v
	}
	if _, err := lr.vault.FetchHeld(ctx, lr.source, []string{rel.Branch}, nil); err != nil {
		return nil, err
	}
	dir := filepath.Join(lr.work, "work", safeName(rel.Line))
	if err := lr.vault.Worktree(ctx, dir, rel.Branch, held, nil); err != nil {
		return nil, err
	}
	os.Remove(filepath.Join(dir, cargo.LockfileName)) // resolved afresh
	// No token: resolving only reads the index.
	cg := &cargo.Cargo{Home: filepath.Join(lr.work, "cargo"), Registry: cargo.Registry{Name: lr.cfg.Registry.Name, Index: lr.cfg.Registry.Index}}
	if err := cg.Lock(ctx, dir); err != nil {
		return nil, fmt.Errorf("resolve a Cargo.lock against %s (the repository commits none): %w", lr.cfg.Registry.Index, err)
	}
	return os.ReadFile(filepath.Join(dir, cargo.LockfileName))
}
