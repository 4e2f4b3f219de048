package seal

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/revlist"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Archive packs the objects reachable from refs (a name in the archive →
// the object it points to, in src) into a fresh bare repository holding
// only those refs, and returns that repository as a tar. Decrypted, it is an
// ordinary repository: `git clone` reads it.
func Archive(src *git.Repository, refs map[plumbing.ReferenceName]plumbing.Hash) ([]byte, error) {
	dir, err := os.MkdirTemp("", "embargo-bundle-git-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	dst, err := git.PlainInit(dir, true)
	if err != nil {
		return nil, err
	}
	if err := copyObjects(src.Storer, dst.Storer, tips(refs)); err != nil {
		return nil, fmt.Errorf("pack the held branches: %w", err)
	}
	for name, h := range refs {
		if err := dst.Storer.SetReference(plumbing.NewHashReference(name, h)); err != nil {
			return nil, err
		}
	}
	return tarDir(dir)
}

// Unarchive copies the objects of an archive made by Archive into dst (as
// loose objects, see copyLoose) and returns the archive's refs. dst's own
// refs are left to the caller.
func Unarchive(archive []byte, dst *git.Repository) (map[plumbing.ReferenceName]plumbing.Hash, error) {
	dir, err := os.MkdirTemp("", "embargo-bundle-git-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := untar(archive, dir); err != nil {
		return nil, fmt.Errorf("the bundle's git archive: %w", err)
	}
	src, err := git.PlainOpen(dir)
	if err != nil {
		return nil, fmt.Errorf("the bundle's git archive is not a repository: %w", err)
	}
	iter, err := src.References()
	if err != nil {
		return nil, err
	}
	refs := map[plumbing.ReferenceName]plumbing.Hash{}
	err = iter.ForEach(func(r *plumbing.Reference) error {
		if r.Type() == plumbing.HashReference {
			refs[r.Name()] = r.Hash()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := copyLoose(src.Storer, dst.Storer, tips(refs)); err != nil {
		return nil, fmt.Errorf("restore the held branches: %w", err)
	}
	return refs, nil
}

func tips(refs map[plumbing.ReferenceName]plumbing.Hash) []plumbing.Hash {
	seen := map[plumbing.Hash]bool{}
	var out []plumbing.Hash
	for _, h := range refs {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// copyObjects writes every object reachable from tips, as one packfile,
// from src into dst. A pack keeps the archive small (deltas) and lands in
// dst as a pack too, however large the history.
func copyObjects(src, dst storer.Storer, tips []plumbing.Hash) error {
	if len(tips) == 0 {
		return nil
	}
	hashes, err := revlist.Objects(src, tips, nil)
	if err != nil {
		return err
	}
	// revlist answers in map order; sorted, the same objects make the same pack.
	sort.Slice(hashes, func(i, j int) bool { return bytes.Compare(hashes[i][:], hashes[j][:]) < 0 })
	pr, pw := io.Pipe()
	go func() {
		_, err := packfile.NewEncoder(pw, src, false).Encode(hashes, 10)
		pw.CloseWithError(err)
	}()
	err = packfile.UpdateObjectStorage(dst, pr)
	pr.CloseWithError(err) // unblocks the encoder if the writer gave up
	return err
}

// copyLoose writes every object reachable from tips from src into dst as
// loose objects. Not a pack: go-git loads a repository's pack indexes
// lazily and without a lock, so goroutines reading a freshly opened
// repository at once (publish prepares its lines in parallel) can miss
// objects that are in a pack; loose objects are found by every reader.
func copyLoose(src, dst storer.EncodedObjectStorer, tips []plumbing.Hash) error {
	hashes, err := revlist.Objects(src, tips, nil)
	if err != nil {
		return err
	}
	for _, h := range hashes {
		if dst.HasEncodedObject(h) == nil {
			continue
		}
		o, err := src.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return err
		}
		if _, err := dst.SetEncodedObject(o); err != nil {
			return err
		}
	}
	return nil
}

// tarDir archives the files under dir, in name order with fixed times, so
// the same repository always makes the same tar.
func tarDir(dir string) ([]byte, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil, err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Format: tar.FormatPAX}
		switch {
		case fi.IsDir():
			hdr.Typeflag, hdr.Mode, hdr.Name = tar.TypeDir, 0o755, hdr.Name+"/"
		case fi.Mode().IsRegular():
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, 0o644, fi.Size()
		default:
			continue // go-git writes no links; nothing else belongs here
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if hdr.Typeflag == tar.TypeReg {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			if _, err := tw.Write(b); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// untar extracts regular files and folders only, each strictly inside dir.
func untar(archive []byte, dir string) error {
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !filepath.IsLocal(hdr.Name) {
			return fmt.Errorf("entry %q escapes the archive", hdr.Name)
		}
		p := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %q is not a file or folder", hdr.Name)
		}
	}
}

// Files packs named files (a .crate by its name, an output by its path) as
// a tar, in name order.
func Files(files map[string][]byte) ([]byte, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		if !filepath.IsLocal(filepath.FromSlash(n)) {
			return nil, fmt.Errorf("file name %q is not relative", n)
		}
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[n])), Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ReadFiles is the inverse of Files.
func ReadFiles(archive []byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag != tar.TypeReg || !filepath.IsLocal(filepath.FromSlash(hdr.Name)) {
			return nil, fmt.Errorf("entry %q is not a plain relative file", hdr.Name)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out[hdr.Name] = b
	}
}
