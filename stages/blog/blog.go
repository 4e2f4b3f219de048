// Package blog is embargo's client for the project blog's git repository.
// It keeps a private clone under the state directory, reads files at the
// blog branch's remote tip, builds commits directly on top of that tip and
// pushes them, never forced.
//
// The clone is bare: commits are made from trees, not from a checkout, so a
// crash halfway through leaves no half-written work tree for the next run to
// trip over, and nothing in the clone is ever trusted over the remote.
package blog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// ErrNonFastForward is returned by Push when the blog branch moved since
// the commit's parent was fetched: someone else pushed meanwhile. Fetch,
// commit again on the new tip and push again.
var ErrNonFastForward = errors.New("the blog branch moved meanwhile (non-fast-forward)")

// ErrNoBranch is returned by Fetch when the remote has no such branch.
var ErrNoBranch = errors.New("no such branch on the blog repository")

// Names inside the clone. The remote tip is kept apart from what is about
// to be pushed, so a commit that was never pushed is never mistaken for
// the remote's.
const (
	remoteName  = "blog"
	trackPrefix = "refs/remotes/blog/"
	outgoing    = "refs/embargo/outgoing"
)

// Clone is the private clone of one branch of the blog repository.
type Clone struct {
	Path   string // the bare clone on disk
	URL    string // the blog repository: a URL or a local path
	Branch string

	auth transport.AuthMethod
	repo *git.Repository
}

// Open opens the clone at dir, or creates it. The clone is a cache: one that
// cannot be read is started afresh, since every fact is fetched again from
// the remote anyway. auth may be nil (local remotes, anonymous reads).
func Open(dir, url, branch string, auth transport.AuthMethod) (*Clone, error) {
	if url == "" || branch == "" {
		return nil, errors.New("blog: repository and branch are required")
	}
	repo, err := git.PlainOpen(dir)
	if err != nil && !errors.Is(err, git.ErrRepositoryNotExists) {
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			return nil, fmt.Errorf("blog clone %s is unreadable (%v) and cannot be removed: %w", dir, err, rmErr)
		}
		err = git.ErrRepositoryNotExists
	}
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		repo, err = git.PlainInit(dir, true)
	}
	if err != nil {
		return nil, fmt.Errorf("blog clone %s: %w", dir, err)
	}
	return &Clone{Path: dir, URL: url, Branch: branch, auth: auth, repo: repo}, nil
}

func (c *Clone) remote() *git.Remote {
	return git.NewRemote(c.repo.Storer, &config.RemoteConfig{Name: remoteName, URLs: []string{c.URL}})
}

func (c *Clone) branchRef() plumbing.ReferenceName { return plumbing.NewBranchReferenceName(c.Branch) }

func (c *Clone) trackRef() plumbing.ReferenceName {
	return plumbing.ReferenceName(trackPrefix + c.Branch)
}

// Fetch brings the clone up to date with the remote branch and returns its
// tip. Only what the clone lacks is transferred.
func (c *Clone) Fetch(ctx context.Context) (plumbing.Hash, error) {
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", c.branchRef(), c.trackRef()))
	err := c.remote().FetchContext(ctx, &git.FetchOptions{RefSpecs: []config.RefSpec{spec}, Auth: c.auth, Tags: git.NoTags, Force: true})
	var nm git.NoMatchingRefSpecError
	switch {
	case errors.As(err, &nm), errors.Is(err, transport.ErrEmptyRemoteRepository):
		return plumbing.ZeroHash, fmt.Errorf("fetch %s from %s: %w", c.Branch, c.URL, ErrNoBranch)
	case err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate):
		return plumbing.ZeroHash, fmt.Errorf("fetch %s from %s: %w", c.Branch, c.URL, err)
	}
	tip, ok := c.Tip()
	if !ok {
		return plumbing.ZeroHash, fmt.Errorf("fetch %s from %s: %w", c.Branch, c.URL, ErrNoBranch)
	}
	return tip, nil
}

// Tip is the remote branch tip as last fetched.
func (c *Clone) Tip() (plumbing.Hash, bool) {
	ref, err := c.repo.Reference(c.trackRef(), true)
	if err != nil {
		return plumbing.ZeroHash, false
	}
	return ref.Hash(), true
}

// File reads the file at path in commit; ok is false when there is none.
func (c *Clone) File(commit plumbing.Hash, name string) (content []byte, ok bool, err error) {
	cm, err := c.repo.CommitObject(commit)
	if err != nil {
		return nil, false, fmt.Errorf("blog commit %s: %w", short(commit), err)
	}
	f, err := cm.File(name)
	if errors.Is(err, object.ErrFileNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s at %s: %w", name, short(commit), err)
	}
	rd, err := f.Reader()
	if err != nil {
		return nil, false, err
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, false, fmt.Errorf("%s at %s: %w", name, short(commit), err)
	}
	return b, true, nil
}

// Commit stores a commit whose parent is parent and whose tree is parent's
// with files (path → content, slash-separated, relative to the repository
// root) written over it; every other file is kept. It does not push.
func (c *Clone) Commit(parent plumbing.Hash, files map[string][]byte, author object.Signature, message string) (plumbing.Hash, error) {
	if len(files) == 0 {
		return plumbing.ZeroHash, errors.New("blog: nothing to commit")
	}
	pc, err := c.repo.CommitObject(parent)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("blog commit %s: %w", short(parent), err)
	}
	blobs := map[string]plumbing.Hash{}
	for p, content := range files {
		if err := checkPath(p); err != nil {
			return plumbing.ZeroHash, err
		}
		h, err := c.put(blobObject(content))
		if err != nil {
			return plumbing.ZeroHash, err
		}
		blobs[p] = h
	}
	root, err := c.writeOver(pc.TreeHash, blobs)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if !strings.HasSuffix(message, "\n") {
		message += "\n"
	}
	h, err := c.put(&object.Commit{
		Author:       author,
		Committer:    author,
		Message:      message,
		TreeHash:     root,
		ParentHashes: []plumbing.Hash{parent},
	})
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return h, nil
}

// checkPath refuses paths that would escape the repository or write into
// git's own files.
func checkPath(p string) error {
	clean := path.Clean(p)
	if p == "" || clean != p || path.IsAbs(p) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") ||
		clean == ".git" || strings.HasPrefix(clean, ".git/") || strings.Contains(p, "\\") {
		return fmt.Errorf("blog: %q is not a clean path inside the repository", p)
	}
	return nil
}

// writeOver stores the tree base with files (relative to it) written over
// it and returns its hash. base may be zero: a new directory.
func (c *Clone) writeOver(base plumbing.Hash, files map[string]plumbing.Hash) (plumbing.Hash, error) {
	entries := map[string]object.TreeEntry{}
	if !base.IsZero() {
		t, err := c.repo.TreeObject(base)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("blog tree %s: %w", short(base), err)
		}
		for _, e := range t.Entries {
			entries[e.Name] = e
		}
	}
	direct := map[string]plumbing.Hash{}
	sub := map[string]map[string]plumbing.Hash{}
	for p, h := range files {
		if dir, rest, ok := strings.Cut(p, "/"); ok {
			if sub[dir] == nil {
				sub[dir] = map[string]plumbing.Hash{}
			}
			sub[dir][rest] = h
		} else {
			direct[p] = h
		}
	}
	for name, h := range direct {
		old, exists := entries[name]
		mode := filemode.Regular
		switch {
		case exists && old.Mode == filemode.Dir:
			return plumbing.ZeroHash, fmt.Errorf("blog: %s is a directory in the blog repository", name)
		case exists && old.Mode == filemode.Executable:
			mode = old.Mode
		}
		entries[name] = object.TreeEntry{Name: name, Mode: mode, Hash: h}
	}
	for name, files := range sub {
		var inner plumbing.Hash
		if old, exists := entries[name]; exists {
			if old.Mode != filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("blog: %s is a file in the blog repository, not a directory", name)
			}
			inner = old.Hash
		}
		h, err := c.writeOver(inner, files)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
	}
	t := &object.Tree{}
	for _, e := range entries {
		t.Entries = append(t.Entries, e)
	}
	sort.Sort(object.TreeEntrySorter(t.Entries))
	return c.put(t)
}

type encoder interface {
	Encode(plumbing.EncodedObject) error
}

type blobObject []byte

func (b blobObject) Encode(o plumbing.EncodedObject) error {
	o.SetType(plumbing.BlobObject)
	o.SetSize(int64(len(b)))
	w, err := o.Writer()
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func (c *Clone) put(e encoder) (plumbing.Hash, error) {
	obj := c.repo.Storer.NewEncodedObject()
	if err := e.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	h, err := c.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("blog clone %s: store object: %w", c.Path, err)
	}
	return h, nil
}

// Push makes commit the remote branch tip. It is never forced: when the
// branch is no longer at commit's ancestor (someone pushed meanwhile), the
// error wraps ErrNonFastForward and the remote is unchanged.
func (c *Clone) Push(ctx context.Context, commit plumbing.Hash) error {
	if err := c.repo.Storer.SetReference(plumbing.NewHashReference(outgoing, commit)); err != nil {
		return err
	}
	spec := config.RefSpec(outgoing + ":" + c.branchRef().String())
	err := c.remote().PushContext(ctx, &git.PushOptions{RemoteName: remoteName, RefSpecs: []config.RefSpec{spec}, Auth: c.auth})
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	// go-git refuses before sending anything when the advertised tip is
	// not an ancestor; the server refuses when the branch moved between
	// the advertisement and the update. Either way the remote says
	// whether it moved.
	if strings.Contains(err.Error(), "non-fast-forward") {
		return fmt.Errorf("push to %s %s: %w", c.URL, c.Branch, ErrNonFastForward)
	}
	if tip, ok, lerr := c.RemoteTip(ctx); lerr == nil && ok && tip != commit {
		if ours, aerr := c.IsAncestor(tip, commit); aerr == nil && !ours {
			return fmt.Errorf("push to %s %s: %w (%v)", c.URL, c.Branch, ErrNonFastForward, err)
		}
	}
	return fmt.Errorf("push to %s %s: %w", c.URL, c.Branch, err)
}

// RemoteTip asks the remote where the branch is now, without fetching.
func (c *Clone) RemoteTip(ctx context.Context) (tip plumbing.Hash, ok bool, err error) {
	refs, err := c.remote().ListContext(ctx, &git.ListOptions{Auth: c.auth})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return plumbing.ZeroHash, false, nil
	}
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("list refs of %s: %w", c.URL, err)
	}
	for _, r := range refs {
		if r.Name() == c.branchRef() && r.Type() == plumbing.HashReference {
			return r.Hash(), true, nil
		}
	}
	return plumbing.ZeroHash, false, nil
}

// IsAncestor reports whether a is reachable from b in the clone (a == b
// counts). A commit the clone does not have is no ancestor.
func (c *Clone) IsAncestor(a, b plumbing.Hash) (bool, error) {
	if a == b {
		return true, nil
	}
	ca, err := c.repo.CommitObject(a)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	cb, err := c.repo.CommitObject(b)
	if err != nil {
		return false, fmt.Errorf("blog commit %s: %w", short(b), err)
	}
	return ca.IsAncestor(cb)
}

func short(h plumbing.Hash) string { return h.String()[:12] }
