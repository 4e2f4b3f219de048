package blog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Checkout writes the files of commit into dir, with files (path →
// content) written over them: the site as it will be once they are
// pushed, for its own build to read. dir must be empty or absent; nothing
// in the clone or on the remote changes. Submodules are not checked out.
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
