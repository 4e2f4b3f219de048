package vault

import (
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// The history questions the release asks of the vault: which held commits
// the fix adds, whether one commit reaches another, and which are public
// already (the leak check).

// Ahead lists the commits reachable from tip but not from base (the fix
// commits of a held branch), newest first. base may be zero (no public
// branch yet).
func (v *Vault) Ahead(tip, base plumbing.Hash) ([]plumbing.Hash, error) {
	exclude := map[plumbing.Hash]bool{}
	if !base.IsZero() {
		if err := v.walk(base, func(c *object.Commit) bool { exclude[c.Hash] = true; return true }); err != nil {
			return nil, err
		}
	}
	var out []plumbing.Hash
	err := v.walk(tip, func(c *object.Commit) bool {
		if exclude[c.Hash] {
			return false
		}
		out = append(out, c.Hash)
		return true
	})
	return out, err
}

// walk visits commits from tip, each once; visit returns false to stop
// descending through a commit.
func (v *Vault) walk(tip plumbing.Hash, visit func(*object.Commit) bool) error {
	return v.walkUnseen(tip, map[plumbing.Hash]bool{}, visit)
}

// walkUnseen is walk that skips the commits in seen, and adds to it those
// it visits: walks from many tips that share one seen set read each
// commit once over all of them.
func (v *Vault) walkUnseen(tip plumbing.Hash, seen map[plumbing.Hash]bool, visit func(*object.Commit) bool) error {
	stack := []plumbing.Hash{tip}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[h] {
			continue
		}
		seen[h] = true
		c, err := v.repo.CommitObject(h)
		if err != nil {
			return fmt.Errorf("commit %s: %w", short(h), err)
		}
		if visit(c) {
			stack = append(stack, c.ParentHashes...)
		}
	}
	return nil
}

// IsAncestor reports whether a is reachable from b (a == b counts).
func (v *Vault) IsAncestor(a, b plumbing.Hash) (bool, error) {
	if a == b {
		return true, nil
	}
	found := false
	err := v.walk(b, func(c *object.Commit) bool {
		if c.Hash == a {
			found = true
		}
		return !found
	})
	return found, err
}

// Leaks maps each of commits that is reachable from a public ref to one such
// ref's name (without the vault prefix).
func (v *Vault) Leaks(commits []plumbing.Hash) (map[plumbing.Hash]string, error) {
	want := map[plumbing.Hash]bool{}
	for _, c := range commits {
		want[c] = true
	}
	out := map[plumbing.Hash]string{}
	if len(want) == 0 {
		return out, nil
	}
	refs, err := v.repo.References()
	if err != nil {
		return nil, err
	}
	seen := map[plumbing.Hash]bool{}
	err = refs.ForEach(func(ref *plumbing.Reference) error {
		name := ref.Name().String()
		if !strings.HasPrefix(name, publicPrefix) || ref.Type() != plumbing.HashReference {
			return nil
		}
		tip, err := v.Peel(ref.Hash())
		if err != nil {
			return err
		}
		if _, err := v.repo.CommitObject(tip); err != nil {
			return nil // a tag of a tree or blob: no history to leak
		}
		public := "refs/" + strings.TrimPrefix(name, publicPrefix)
		// Share the visited set across refs: history seen once need not
		// be walked again for the next ref.
		if err := v.walkUnseen(tip, seen, func(c *object.Commit) bool {
			if want[c.Hash] {
				out[c.Hash] = public
			}
			return true
		}); err != nil {
			return fmt.Errorf("%s: %w", public, err)
		}
		return nil
	})
	return out, err
}
