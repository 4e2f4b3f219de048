// Package durable writes files that survive a crash at any instant: a
// reader finds the old content or the new, never a part, and once the
// write has returned the new content is on disk. The journal, the seal,
// the pinned lockfiles and the sandbox registry's storage are written so.
// It depends on nothing of embargo, so that the engine and the sandbox can
// both use it.
package durable

import (
	"os"
	"path/filepath"
)

// WriteFile writes data to path through a synced temporary file and a
// rename, then syncs the folder so the rename itself survives a crash.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
