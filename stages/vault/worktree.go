package vault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// releaseBranch is the branch name inside a prepared worktree.
const releaseBranch = "embargo-release"

// Worktree prepares dir as a clone of the held branch checked out at
// commit: its own repository, so cargo records the commit in the package
// (.cargo_vcs_info.json) and never mistakes it for part of an enclosing
// repository. A worktree already at commit and clean is reused (the build
// output cargo keeps beside it is what makes publishing at T0 fast).
func (v *Vault) Worktree(ctx context.Context, dir, heldBranch string, commit plumbing.Hash) error {
	if repo, err := git.PlainOpen(dir); err == nil {
		if head, err := repo.Head(); err == nil && head.Hash() == commit {
			if wt, err := repo.Worktree(); err == nil {
				if st, err := wt.Status(); err == nil && st.IsClean() {
					return nil
				}
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		return err
	}
	branch := plumbing.NewBranchReferenceName(releaseBranch)
	rem := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: "vault", URLs: []string{v.Path}})
	spec := config.RefSpec(fmt.Sprintf("+%s%s:%s", heldPrefix, heldBranch, branch))
	if err := rem.FetchContext(ctx, &git.FetchOptions{RefSpecs: []config.RefSpec{spec}, Tags: git.NoTags}); err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("worktree %s: %w", dir, err)
	}
	ref, err := repo.Reference(branch, true)
	if err != nil {
		return err
	}
	if ref.Hash() != commit {
		return fmt.Errorf("worktree %s: %s is at %s, not %s", dir, heldBranch, short(ref.Hash()), short(commit))
	}
	if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, branch)); err != nil {
		return err
	}
	wt, err := repo.Worktree()
	if err != nil {
		return err
	}
	return wt.Reset(&git.ResetOptions{Commit: commit, Mode: git.HardReset})
}
