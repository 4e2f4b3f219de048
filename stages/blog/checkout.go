package blog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Checkout writes the files of commit into dir, with files (path →
// content) written over them: the site as it will be once they are
// pushed, for its own build to read. dir must be empty or absent; nothing
// in the clone or on the remote changes. Submodules are not checked out.
//
// dir is a git work tree whose HEAD is commit, as the site's own deploy
// has it: generators read the history (hugo's enableGitInfo runs git log
// and fails the build without a repository). Its objects are the clone's,
// borrowed through git's alternates rather than copied.
func (c *Clone) Checkout(commit plumbing.Hash, dir string, files map[string][]byte) error {
	cm, err := c.repo.CommitObject(commit)
	if err != nil {
		return fmt.Errorf("blog commit %s: %w", short(commit), err)
	}
	tree, err := cm.Tree()
	if err != nil {
		return err
	}
	err = tree.Files().ForEach(func(f *object.File) error {
		if _, over := files[f.Name]; over {
			return nil
		}
		return writeBlob(dir, f)
	})
	if err != nil {
		return fmt.Errorf("check out the blog at %s: %w", short(commit), err)
	}
	if err := c.workRepo(dir, commit); err != nil {
		return fmt.Errorf("check out the blog at %s: %w", short(commit), err)
	}
	for p, content := range files {
		if err := checkPath(p); err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// workRepo makes dir a repository at commit whose objects are the clone's.
func (c *Clone) workRepo(dir string, commit plumbing.Hash) error {
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		return err
	}
	objects, err := filepath.Abs(filepath.Join(c.Path, "objects"))
	if err != nil {
		return err
	}
	alt := filepath.Join(dir, ".git", "objects", "info", "alternates")
	if err := os.MkdirAll(filepath.Dir(alt), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(alt, []byte(objects+"\n"), 0o644); err != nil {
		return err
	}
	return repo.Storer.SetReference(plumbing.NewHashReference(plumbing.HEAD, commit))
}

func writeBlob(dir string, f *object.File) error {
	rel := filepath.FromSlash(f.Name)
	if !filepath.IsLocal(rel) {
		return fmt.Errorf("%q is not a path inside the repository", f.Name)
	}
	dst := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	rd, err := f.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	if f.Mode == filemode.Symlink {
		target, err := io.ReadAll(rd)
		if err != nil {
			return err
		}
		return os.Symlink(string(target), dst)
	}
	perm := os.FileMode(0o644)
	if f.Mode == filemode.Executable {
		perm = 0o755
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, rd)
	return errors.Join(err, out.Close())
}
