package stages

import (
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/release"
)

// commitTree lets the cargo workspace reader look inside a vault commit.
type commitTree struct {
	tree *object.Tree
}

func WorkspaceAt(v release.CommitTrees, commit plumbing.Hash) (ws *cargo.Workspace, err error) {
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
func LineCrates(v release.CommitTrees, rel config.Release, held plumbing.Hash) ([]*cargo.Crate, error) {
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
