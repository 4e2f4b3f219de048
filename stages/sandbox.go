package stages

import (
	"fmt"
	"sort"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/cargo"
)

// ReleaseCrates reads, from the held tips in the source clone, the crates a
// release publishes, the versions it publishes and the registry packages its
// lockfiles pin (name@version): what a rehearsal seeds its sandbox registry
// with.
func ReleaseCrates(cfg *pipeline.Config) (crates, released, locked []string, err error) {
	repo, err := git.PlainOpenWithOptions(cfg.Resolve(cfg.Source.Repo), &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open source repository %s: %w", cfg.Source.Repo, err)
	}
	seenCrate, seenLock := map[string]bool{}, map[string]bool{}
	for _, rel := range cfg.Releases {
		ref, err := repo.Reference(plumbing.NewBranchReferenceName(rel.Branch), true)
		if err != nil {
			continue // preflight reports it by name
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
		for _, cr := range sel {
			released = append(released, cr.Name+"@"+cr.Version)
			if !seenCrate[cr.Name] {
				seenCrate[cr.Name] = true
				crates = append(crates, cr.Name)
			}
		}
		lock, ok, err := commitTree{tree: tree}.Read("Cargo.lock")
		if err != nil || !ok {
			continue
		}
		pkgs, err := cargo.ParseLock(lock)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: Cargo.lock: %v", rel.Branch, err)
		}
		for _, p := range pkgs {
			if !p.FromRegistry() {
				continue
			}
			if nv := p.Name + "@" + p.Version; !seenLock[nv] {
				seenLock[nv] = true
				locked = append(locked, nv)
			}
		}
	}
	sort.Strings(crates)
	sort.Strings(released)
	sort.Strings(locked)
	return crates, released, locked, nil
}
