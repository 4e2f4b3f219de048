package cargo

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// LockfileName is the lockfile of a workspace, and of a .crate.
const LockfileName = "Cargo.lock"

// DiffCrates says how the .crate now differs from the .crate was, file by
// file (paths inside the package, without its name-version/ prefix): "src/lib.rs
// differs", "NOTES.md added", "build.rs removed", and for the lockfile
// cargo writes into every package, the packages whose versions moved
// ("Cargo.lock: tinydep 1.0.0 -> 1.0.1"). Equal files are not listed.
func DiffCrates(was, now []byte) ([]string, error) {
	a, err := crateFiles(was)
	if err != nil {
		return nil, fmt.Errorf("the sealed .crate: %w", err)
	}
	b, err := crateFiles(now)
	if err != nil {
		return nil, fmt.Errorf("the .crate packaged now: %w", err)
	}
	var out []string
	for _, n := range keysOfBoth(a, b) {
		old, inOld := a[n]
		cur, inNew := b[n]
		switch {
		case !inOld:
			out = append(out, n+" added")
		case !inNew:
			out = append(out, n+" removed")
		case bytes.Equal(old, cur):
		case n == LockfileName:
			moved, err := LockChanges(string(old), string(cur))
			if err != nil || len(moved) == 0 {
				out = append(out, n+" differs")
				continue
			}
			for _, m := range moved {
				out = append(out, n+": "+m)
			}
		default:
			out = append(out, n+" differs")
		}
	}
	return out, nil
}

// PackagedLock reads the Cargo.lock packed in a .crate: the resolution the
// crate was packaged with. ok is false when it holds none.
func PackagedLock(crate []byte) (pkgs []LockedPackage, ok bool, err error) {
	files, err := crateFiles(crate)
	if err != nil {
		return nil, false, err
	}
	lock, ok := files["Cargo.lock"]
	if !ok {
		return nil, false, nil
	}
	pkgs, err = ParseLock(string(lock))
	return pkgs, err == nil, err
}

// crateFiles reads the regular files of a .crate (a gzipped tar whose
// entries are all under name-version/), by path below that directory.
func crateFiles(crate []byte) (map[string][]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(crate))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	out := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		_, rel, ok := strings.Cut(hdr.Name, "/")
		if !ok {
			rel = hdr.Name
		}
		b, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			return nil, err
		}
		out[rel] = b
	}
}

// keysOfBoth is every key of a and of b, once each, sorted.
func keysOfBoth[A, B any](a map[string]A, b map[string]B) []string {
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	return slices.Sorted(maps.Keys(seen))
}
