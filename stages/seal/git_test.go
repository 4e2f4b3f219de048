package seal

import (
	"archive/tar"
	"bytes"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/async-rs/embargo/sandbox/world"
)

func TestArchiveHoldsOnlyTheNamedRefsAndRestores(t *testing.T) {
	w, src, refs := heldRefs(t, true)
	archive, err := Archive(src, refs)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Archive(src, refs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(archive, again) {
		t.Error("the same refs make different archives")
	}
	// Only the named refs travel: no public branch, no other tag.
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		if strings.HasPrefix(hdr.Name, "refs/") && hdr.Typeflag == tar.TypeReg {
			if _, ok := refs[plumbing.ReferenceName(hdr.Name)]; !ok {
				t.Errorf("archive holds %s", hdr.Name)
			}
		}
	}

	dst, err := git.PlainInit(filepath.Join(t.TempDir(), "vault.git"), true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unarchive(archive, dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(refs) {
		t.Fatalf("restored refs %v, want %v", got, refs)
	}
	for n, h := range refs {
		if got[n] != h {
			t.Errorf("%s restored at %s, want %s", n, got[n], h)
		}
	}
	// Every object of the held history is there: walk a whole tip.
	for _, l := range w.Lines {
		tag, err := dst.TagObject(refs[plumbing.NewTagReferenceName(l.Tag)])
		if err != nil {
			t.Fatalf("tag %s: %v", l.Tag, err)
		}
		c, err := dst.CommitObject(tag.Target)
		if err != nil {
			t.Fatal(err)
		}
		iter := object.NewCommitPreorderIter(c, nil, nil)
		err = iter.ForEach(func(c *object.Commit) error {
			tree, err := c.Tree()
			if err != nil {
				return err
			}
			return tree.Files().ForEach(func(f *object.File) error {
				_, err := f.Contents()
				return err
			})
		})
		if err != nil {
			t.Errorf("history of %s incomplete: %v", l.HeldBranch, err)
		}
	}
}

func TestUntarRefusesEscapes(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "../evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
	tw.Write([]byte("x"))
	tw.Close()
	if err := untar(buf.Bytes(), t.TempDir()); err == nil {
		t.Error("an entry outside the folder was extracted")
	}
	if _, err := ReadFiles(buf.Bytes()); err == nil {
		t.Error("ReadFiles took a path outside")
	}
}

// Publish prepares its lines in parallel, each reading the vault through
// one freshly opened repository: every restored object must be found by
// concurrent readers.
func TestUnarchivedObjectsAreReadableConcurrently(t *testing.T) {
	_, src, refs := heldRefs(t, false)
	archive, err := Archive(src, refs)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vault.git")
	dst, err := git.PlainInit(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Unarchive(archive, dst); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		repo, err := git.PlainOpen(path)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, h := range refs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := repo.CommitObject(h)
				if err == nil {
					var tree *object.Tree
					if tree, err = c.Tree(); err == nil {
						err = tree.Files().ForEach(func(f *object.File) error { _, err := f.Contents(); return err })
					}
				}
				if err != nil {
					t.Errorf("read %s: %v", h, err)
				}
			}()
		}
		wg.Wait()
	}
}

// heldRefs builds the example world and returns its source clone with the
// held branches (and, with tags, the release tags) to archive.
func heldRefs(t *testing.T, tags bool) (*world.World, *git.Repository, map[plumbing.ReferenceName]plumbing.Hash) {
	t.Helper()
	w, err := world.Build(world.DefaultSpec(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	src, err := git.PlainOpen(w.Source)
	if err != nil {
		t.Fatal(err)
	}
	refs := map[plumbing.ReferenceName]plumbing.Hash{}
	for _, l := range w.Lines {
		b, err := src.Reference(plumbing.NewBranchReferenceName(l.HeldBranch), true)
		if err != nil {
			t.Fatal(err)
		}
		refs[b.Name()] = b.Hash()
		if tags {
			tg, err := src.Reference(plumbing.NewTagReferenceName(l.Tag), true)
			if err != nil {
				t.Fatal(err)
			}
			refs[tg.Name()] = tg.Hash()
		}
	}
	return w, src, refs
}
