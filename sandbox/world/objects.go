package world

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Package world generates fixture worlds: a Rust crate workspace with public

// The git objects a world is made of, written straight into its
// repositories' storers.

// builder writes objects with deterministic, increasing times.
type builder struct {
	author object.Signature
	when   time.Time
}

func (b *builder) sig() object.Signature {
	s := b.author
	s.When = b.when
	b.when = b.when.Add(time.Minute)
	return s
}

func (b *builder) commit(to []storer.Storer, files map[string]string, parent plumbing.Hash, msg string) (plumbing.Hash, error) {
	entries := map[string]entry{}
	for p, content := range files {
		h, err := put(to, blob(content))
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries[p] = entry{mode: filemode.Regular, hash: h}
	}
	tree, err := writeTree(to, entries)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	sig := b.sig()
	c := &object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: tree}
	if !parent.IsZero() {
		c.ParentHashes = []plumbing.Hash{parent}
	}
	return put(to, c)
}

func (b *builder) tag(to []storer.Storer, name string, target plumbing.Hash, msg string) (plumbing.Hash, error) {
	return put(to, &object.Tag{
		Name:       name,
		Tagger:     b.sig(),
		Message:    msg,
		TargetType: plumbing.CommitObject,
		Target:     target,
	})
}

type encoder interface {
	Encode(plumbing.EncodedObject) error
}

type blob string

func (b blob) Encode(o plumbing.EncodedObject) error {
	o.SetType(plumbing.BlobObject)
	w, err := o.Writer()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(b)); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// put encodes o once and stores it in every storer.
func put(to []storer.Storer, o encoder) (plumbing.Hash, error) {
	obj := &plumbing.MemoryObject{}
	if err := o.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	for _, s := range to {
		if _, err := s.SetEncodedObject(obj); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("world: store object: %w", err)
		}
	}
	return obj.Hash(), nil
}

type entry struct {
	mode filemode.FileMode
	hash plumbing.Hash
}

// writeTree stores the nested trees for a flat path → blob map and returns
// the root tree.
func writeTree(to []storer.Storer, files map[string]entry) (plumbing.Hash, error) {
	direct := map[string]entry{}
	sub := map[string]map[string]entry{}
	for p, e := range files {
		if dir, rest, ok := strings.Cut(p, "/"); ok {
			if sub[dir] == nil {
				sub[dir] = map[string]entry{}
			}
			sub[dir][rest] = e
		} else {
			direct[p] = e
		}
	}
	t := &object.Tree{}
	for name, e := range direct {
		if _, clash := sub[name]; clash {
			return plumbing.ZeroHash, fmt.Errorf("world: %s is both a file and a directory", name)
		}
		t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: e.mode, Hash: e.hash})
	}
	for name, files := range sub {
		h, err := writeTree(to, files)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
	}
	sort.Sort(object.TreeEntrySorter(t.Entries))
	return put(to, t)
}
