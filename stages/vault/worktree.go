package vault

import (
	"bytes"
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
//
// extra are files the checkout carries beside the commit's own, untracked
// (the Cargo.lock pinned for a repository that commits none): written when
// absent or different, and never taken for a change when a checkout is
// checked clean, whatever the project's .gitignore says. A path the commit
// tracks cannot be one.
func (v *Vault) Worktree(ctx context.Context, dir, heldBranch string, commit plumbing.Hash, extra map[string][]byte) error {
	if reusable(dir, commit, extra) {
		return writeExtra(dir, extra)
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
	if path, tracked := trackedExtra(repo, commit, extra); tracked {
		return fmt.Errorf("worktree %s: %s is committed at %s; it is used as committed", dir, path, short(commit))
	}
	if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, branch)); err != nil {
		return err
	}
	wt, err := repo.Worktree()
	if err != nil {
		return err
	}
	if err := wt.Reset(&git.ResetOptions{Commit: commit, Mode: git.HardReset}); err != nil {
		return err
	}
	return writeExtra(dir, extra)
}

// reusable is true for a checkout at commit with no change but the extra
// files, untracked.
func reusable(dir string, commit plumbing.Hash, extra map[string][]byte) bool {
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return false
	}
	head, err := repo.Head()
	if err != nil || head.Hash() != commit {
		return false
	}
	if _, tracked := trackedExtra(repo, commit, extra); tracked {
		return false
	}
	wt, err := repo.Worktree()
	if err != nil {
		return false
	}
	st, err := wt.Status()
	if err != nil {
		return false
	}
	for path, fs := range st {
		if _, ok := extra[path]; ok && fs.Worktree == git.Untracked {
			continue
		}
		if fs.Worktree != git.Unmodified || fs.Staging != git.Unmodified {
			return false
		}
	}
	return true
}

// trackedExtra names an extra file that commit tracks, if one does (or
// when the commit cannot be read).
func trackedExtra(repo *git.Repository, commit plumbing.Hash, extra map[string][]byte) (string, bool) {
	if len(extra) == 0 {
		return "", false
	}
	c, err := repo.CommitObject(commit)
	if err != nil {
		return commit.String(), true
	}
	tree, err := c.Tree()
	if err != nil {
		return commit.String(), true
	}
	for path := range extra {
		if _, err := tree.File(path); err == nil {
			return path, true
		}
	}
	return "", false
}

// writeExtra writes each extra file whose content differs.
func writeExtra(dir string, extra map[string][]byte) error {
	for path, data := range extra {
		p := filepath.Join(dir, filepath.FromSlash(path))
		if have, err := os.ReadFile(p); err == nil && bytes.Equal(have, data) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("worktree %s: %w", dir, err)
		}
	}
	return nil
}
