package releasetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/blog"
	"github.com/async-rs/embargo/stages/release"
)

// Blog is the blog repository's branch and the private clone of
// it in one: commits are snapshots of every file, the remote tip moves
// only by a push, never forced, each push stamped with the clock's time.
type Blog struct {
	mu      sync.Mutex
	clock   *pipeline.FakeClock
	commits map[plumbing.Hash]fakeBlogCommit
	tip     plumbing.Hash // the remote branch
	pushes  []BlogPush
	// LoseAnswers is how many pushes land but are answered with an
	// error.
	LoseAnswers int
}

type fakeBlogCommit struct {
	parent plumbing.Hash
	files  map[string][]byte
}

type BlogPush struct {
	At     time.Time
	commit plumbing.Hash
}

// NewBlog is a blog whose branch holds files.
func NewBlog(clock *pipeline.FakeClock, files map[string][]byte) *Blog {
	root := Hash("blog root")
	return &Blog{clock: clock, commits: map[plumbing.Hash]fakeBlogCommit{root: {files: files}}, tip: root}
}

func (b *Blog) Opener(t *testing.T) func(dir, url, branch string, auth transport.AuthMethod) (release.BlogClone, error) {
	return func(dir, url, branch string, _ transport.AuthMethod) (release.BlogClone, error) {
		if url == "" || branch == "" {
			t.Errorf("the blog's clone opened with repository %q, branch %q", url, branch)
		}
		return b, nil
	}
}

// OnBranch is a OnBranch on the remote branch now.
func (b *Blog) OnBranch(name string) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f, ok := b.commits[b.tip].files[name]
	return f, ok
}

func (b *Blog) Landed() []BlogPush {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.pushes)
}

func (b *Blog) Fetch(context.Context) (plumbing.Hash, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tip, nil
}

func (b *Blog) File(commit plumbing.Hash, name string) ([]byte, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.commits[commit]
	if !ok {
		return nil, false, fmt.Errorf("blog commit %s: object not found", release.Short(commit))
	}
	f, ok := c.files[name]
	return f, ok, nil
}

func (b *Blog) Commit(parent plumbing.Hash, files map[string][]byte, author object.Signature, message string) (plumbing.Hash, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	pc, ok := b.commits[parent]
	if !ok {
		return plumbing.ZeroHash, fmt.Errorf("blog commit %s: object not found", release.Short(parent))
	}
	all := maps.Clone(pc.files)
	maps.Copy(all, files)
	h := Hash(fmt.Sprintf("%s %v %s %s", parent, slices.Sorted(maps.Keys(files)), author.When, message))
	b.commits[h] = fakeBlogCommit{parent: parent, files: all}
	return h, nil
}

func (b *Blog) Push(_ context.Context, commit plumbing.Hash) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.commits[commit].parent != b.tip && commit != b.tip {
		return fmt.Errorf("push: %w", blog.ErrNonFastForward)
	}
	b.tip = commit
	b.pushes = append(b.pushes, BlogPush{At: b.clock.Now(), commit: commit})
	if b.LoseAnswers > 0 {
		b.LoseAnswers--
		return errors.New("push: connection reset by peer")
	}
	return nil
}

func (b *Blog) RemoteTip(context.Context) (plumbing.Hash, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tip, true, nil
}

func (b *Blog) IsAncestor(a, c plumbing.Hash) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for h := c; !h.IsZero(); h = b.commits[h].parent {
		if h == a {
			return true, nil
		}
	}
	return false, nil
}

func (b *Blog) Site(commit plumbing.Hash) (*blog.Site, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.commits[commit]
	if !ok {
		return nil, fmt.Errorf("blog commit %s: object not found", release.Short(commit))
	}
	files := maps.Clone(c.files)
	return &blog.Site{Paths: slices.Sorted(maps.Keys(files)), Read: func(name string) ([]byte, bool, error) {
		f, ok := files[name]
		return f, ok, nil
	}}, nil
}

// PushOther is someone else's push to the blog: files written on top of
// the branch.
func (b *Blog) PushOther(t *testing.T, files map[string][]byte) {
	t.Helper()
	c, err := b.Commit(b.tip, files, object.Signature{Name: "Someone", When: b.clock.Now()}, "A post\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Push(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}
