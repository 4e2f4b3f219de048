package stages

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/blog"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/vault"
)

// The git world of a release without repositories: the source clone's
// held branches, the vault's copy of them and of the public refs, and the
// public repository, which only an atomic push changes, each push stamped
// with the clock's time. fakeGit is the vault the stages are given, as
// both ReleaseVault and PushVault.

func fakeHash(s string) plumbing.Hash { return plumbing.ComputeHash(plumbing.CommitObject, []byte(s)) }

type fakeGit struct {
	mu    sync.Mutex
	clock *pipeline.FakeClock
	// parent is the history: each commit's one parent.
	parent map[plumbing.Hash]plumbing.Hash
	// version is demo-core's version at each commit.
	version map[plumbing.Hash]string
	source  map[plumbing.ReferenceName]plumbing.Hash // the source clone
	held    map[string]plumbing.Hash                 // the vault's copy, by branch
	mirror  map[string]vault.RemoteRef               // the vault's copy of the public refs
	tags    map[string]fakeTag                       // release tags made in the vault
	public  map[string]vault.RemoteRef               // the public repository
	pushes  []fakeGitPush
	// loseAnswers is how many pushes land but are answered with an
	// error, as when the connection drops after the remote wrote.
	loseAnswers int
}

type fakeTag struct{ object, commit plumbing.Hash }

// fakeGitPush is one atomic push that landed: the refs it set.
type fakeGitPush struct {
	at   time.Time
	refs map[string]plumbing.Hash
}

func newFakeGit(clock *pipeline.FakeClock) *fakeGit {
	return &fakeGit{clock: clock, parent: map[plumbing.Hash]plumbing.Hash{}, version: map[plumbing.Hash]string{},
		source: map[plumbing.ReferenceName]plumbing.Hash{}, held: map[string]plumbing.Hash{}, mirror: map[string]vault.RemoteRef{},
		tags: map[string]fakeTag{}, public: map[string]vault.RemoteRef{}}
}

// commit adds a commit on parent (zero: a root) where demo-core is at
// version.
func (f *fakeGit) commit(name string, parent plumbing.Hash, version string) plumbing.Hash {
	h := fakeHash(name)
	f.parent[h], f.version[h] = parent, version
	return h
}

// line puts a release line in the world: public branch at a commit of
// version old, the held branch one commit ahead at the tag's version.
func (f *fakeGit) line(rel config.Release, old string) (public, held plumbing.Hash) {
	public = f.commit("public "+rel.PublicBranch, plumbing.ZeroHash, old)
	held = f.commit("fix "+rel.Line, public, config.TagVersion(rel.Tag))
	f.public["refs/heads/"+rel.PublicBranch] = vault.RemoteRef{Hash: public, Commit: public}
	f.source[plumbing.NewBranchReferenceName(rel.Branch)] = held
	return public, held
}

func (f *fakeGit) opener() func(string) (release.PushVault, error) {
	return func(string) (release.PushVault, error) { return f, nil }
}

// publicRefs is the public repository now.
func (f *fakeGit) publicRefs() map[string]vault.RemoteRef {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.public)
}

func (f *fakeGit) landed() []fakeGitPush {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.pushes)
}

func (f *fakeGit) SourceRefs(_ string, refs []plumbing.ReferenceName) (map[plumbing.ReferenceName]plumbing.Hash, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[plumbing.ReferenceName]plumbing.Hash{}
	for _, n := range refs {
		if h, ok := f.source[n]; ok {
			out[n] = h
		}
	}
	return out, nil
}

func (f *fakeGit) FetchHeld(_ context.Context, _ string, branches, _ []string) (map[string]plumbing.Hash, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]plumbing.Hash{}
	for _, b := range branches {
		h, ok := f.source[plumbing.NewBranchReferenceName(b)]
		if !ok {
			return nil, fmt.Errorf("no branch %s in the source", b)
		}
		f.held[b], out[b] = h, h
	}
	return out, nil
}

func (f *fakeGit) Held(branch string) (plumbing.Hash, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.held[branch]
	return h, ok
}

func (f *fakeGit) SourceTag(string) (plumbing.Hash, bool, error) {
	return plumbing.ZeroHash, false, nil
}

// ProbePush: the fake public repository takes every push.
func (f *fakeGit) ProbePush(context.Context, string, transport.AuthMethod) error { return nil }

func (f *fakeGit) FetchPublic(context.Context, string, transport.AuthMethod) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mirror = maps.Clone(f.public)
	return nil
}

func (f *fakeGit) Dir() string { return "vault.git" }

func (f *fakeGit) PublicBranch(branch string) (plumbing.Hash, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.mirror["refs/heads/"+branch]
	return r.Hash, ok
}

func (f *fakeGit) PublicTag(tag string) (plumbing.Hash, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.mirror["refs/tags/"+tag]
	return r.Commit, ok, nil
}

func (f *fakeGit) IsAncestor(a, b plumbing.Hash) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for h := b; !h.IsZero(); h = f.parent[h] {
		if h == a {
			return true, nil
		}
	}
	return false, nil
}

func (f *fakeGit) Ahead(tip, base plumbing.Hash) ([]plumbing.Hash, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []plumbing.Hash
	for h := tip; !h.IsZero() && h != base; h = f.parent[h] {
		out = append(out, h)
	}
	return out, nil
}

// Leaks: a commit is public when some public ref's history holds it.
func (f *fakeGit) Leaks(commits []plumbing.Hash) (map[plumbing.Hash]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[plumbing.Hash]string{}
	for _, name := range slices.Sorted(maps.Keys(f.mirror)) {
		for h := f.mirror[name].Commit; !h.IsZero(); h = f.parent[h] {
			if slices.Contains(commits, h) {
				if _, seen := out[h]; !seen {
					out[h] = name
				}
			}
		}
	}
	return out, nil
}

func (f *fakeGit) Locked(fn func() error) error { return fn() }

// Tree is a workspace of one crate, demo-core, at the commit's version.
func (f *fakeGit) Tree(commit plumbing.Hash) (*object.Tree, error) {
	f.mu.Lock()
	version, ok := f.version[commit]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no commit %s", Short(commit))
	}
	return manifestTree("[package]\nname = \"demo-core\"\nversion = \"" + version + "\"\n")
}

// manifestTree is a tree holding Cargo.toml, in memory.
func manifestTree(manifest string) (*object.Tree, error) {
	st := memory.NewStorage()
	blob := st.NewEncodedObject()
	blob.SetType(plumbing.BlobObject)
	w, err := blob.Writer()
	if err != nil {
		return nil, err
	}
	if _, err := w.Write([]byte(manifest)); err != nil {
		return nil, err
	}
	w.Close()
	bh, err := st.SetEncodedObject(blob)
	if err != nil {
		return nil, err
	}
	tree := st.NewEncodedObject()
	if err := (&object.Tree{Entries: []object.TreeEntry{{Name: "Cargo.toml", Mode: filemode.Regular, Hash: bh}}}).Encode(tree); err != nil {
		return nil, err
	}
	th, err := st.SetEncodedObject(tree)
	if err != nil {
		return nil, err
	}
	return object.GetTree(st, th)
}

func (f *fakeGit) Worktree(context.Context, string, string, plumbing.Hash, map[string][]byte) error {
	return errors.New("the fake vault checks nothing out")
}

// EnsureTag reuses a public tag at the commit, else makes the same tag
// object every time.
func (f *fakeGit) EnsureTag(tag string, commit plumbing.Hash, _ object.Signature, _ string) (plumbing.Hash, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.tags[tag]; ok {
		if t.commit != commit {
			return plumbing.ZeroHash, fmt.Errorf("tag %s in the vault points to %s, not the held tip %s", tag, Short(t.commit), Short(commit))
		}
		return t.object, nil
	}
	t := fakeTag{object: plumbing.ComputeHash(plumbing.TagObject, []byte(tag+commit.String())), commit: commit}
	if pub, ok := f.mirror["refs/tags/"+tag]; ok && pub.Commit == commit {
		t.object = pub.Hash
	}
	f.tags[tag] = t
	return t.object, nil
}

func (f *fakeGit) ListRemote(context.Context, string, transport.AuthMethod) (map[string]vault.RemoteRef, error) {
	return f.publicRefs(), nil
}

func (f *fakeGit) OpenPush(context.Context, string, transport.AuthMethod) (release.PushSession, error) {
	return &fakeSession{f: f, refs: f.publicRefs()}, nil
}

type fakeSession struct {
	f    *fakeGit
	refs map[string]vault.RemoteRef
}

func (s *fakeSession) Refs() map[string]vault.RemoteRef { return s.refs }
func (s *fakeSession) Close() error                     { return nil }

type fakeCommand struct {
	name     string
	old, new vault.RemoteRef
}

func (s *fakeSession) Prepare(updates []vault.Update) (release.PreparedPush, error) {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	pp := &fakePrepared{f: f}
	for _, u := range updates {
		var local vault.RemoteRef
		if b, ok := strings.CutPrefix(u.Local, "refs/held/"); ok {
			local = vault.RemoteRef{Hash: f.held[b], Commit: f.held[b]}
		} else if tag, ok := strings.CutPrefix(u.Local, "refs/tags/"); ok {
			local = vault.RemoteRef{Hash: f.tags[tag].object, Commit: f.tags[tag].commit}
		}
		if local.Hash.IsZero() {
			return nil, fmt.Errorf("%s: not in the vault", u.Local)
		}
		if s.refs[u.Remote].Hash == local.Hash {
			continue
		}
		pp.cmds = append(pp.cmds, fakeCommand{name: u.Remote, old: s.refs[u.Remote], new: local})
	}
	return pp, nil
}

type fakePrepared struct {
	f    *fakeGit
	cmds []fakeCommand
}

func (p *fakePrepared) Empty() bool  { return len(p.cmds) == 0 }
func (p *fakePrepared) Objects() int { return len(p.cmds) }
func (p *fakePrepared) Close()       {}

func (p *fakePrepared) Refs() []string {
	var out []string
	for _, c := range p.cmds {
		out = append(out, c.name)
	}
	return out
}

func (p *fakePrepared) Recheck(context.Context, string, transport.AuthMethod) (bool, error) {
	now := p.f.publicRefs()
	for _, c := range p.cmds {
		if now[c.name].Hash != c.old.Hash {
			return false, nil
		}
	}
	return true, nil
}

// Send is atomic: every command lands, or none when a ref moved.
func (p *fakePrepared) Send(context.Context) error {
	f := p.f
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range p.cmds {
		if f.public[c.name].Hash != c.old.Hash {
			return fmt.Errorf("%s: rejected (stale info)", c.name)
		}
	}
	push := fakeGitPush{at: f.clock.Now(), refs: map[string]plumbing.Hash{}}
	for _, c := range p.cmds {
		f.public[c.name] = c.new
		push.refs[c.name] = c.new.Commit
	}
	f.pushes = append(f.pushes, push)
	if f.loseAnswers > 0 {
		f.loseAnswers--
		return errors.New("send-pack: connection reset by peer")
	}
	return nil
}

// --- the blog ---

// fakeBlogRepo is the blog repository's branch and the private clone of
// it in one: commits are snapshots of every file, the remote tip moves
// only by a push, never forced, each push stamped with the clock's time.
type fakeBlogRepo struct {
	mu      sync.Mutex
	clock   *pipeline.FakeClock
	commits map[plumbing.Hash]fakeBlogCommit
	tip     plumbing.Hash // the remote branch
	pushes  []fakeBlogPush
	// loseAnswers is how many pushes land but are answered with an
	// error.
	loseAnswers int
}

type fakeBlogCommit struct {
	parent plumbing.Hash
	files  map[string][]byte
}

type fakeBlogPush struct {
	at     time.Time
	commit plumbing.Hash
}

// newFakeBlog is a blog whose branch holds files.
func newFakeBlog(clock *pipeline.FakeClock, files map[string][]byte) *fakeBlogRepo {
	root := fakeHash("blog root")
	return &fakeBlogRepo{clock: clock, commits: map[plumbing.Hash]fakeBlogCommit{root: {files: files}}, tip: root}
}

func (b *fakeBlogRepo) opener(t *testing.T) func(dir, url, branch string, auth transport.AuthMethod) (release.BlogClone, error) {
	return func(dir, url, branch string, _ transport.AuthMethod) (release.BlogClone, error) {
		if url == "" || branch == "" {
			t.Errorf("the blog's clone opened with repository %q, branch %q", url, branch)
		}
		return b, nil
	}
}

// file is a file on the remote branch now.
func (b *fakeBlogRepo) file(name string) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f, ok := b.commits[b.tip].files[name]
	return f, ok
}

func (b *fakeBlogRepo) landed() []fakeBlogPush {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.pushes)
}

func (b *fakeBlogRepo) Fetch(context.Context) (plumbing.Hash, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tip, nil
}

func (b *fakeBlogRepo) File(commit plumbing.Hash, name string) ([]byte, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.commits[commit]
	if !ok {
		return nil, false, fmt.Errorf("blog commit %s: object not found", Short(commit))
	}
	f, ok := c.files[name]
	return f, ok, nil
}

func (b *fakeBlogRepo) Commit(parent plumbing.Hash, files map[string][]byte, author object.Signature, message string) (plumbing.Hash, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	pc, ok := b.commits[parent]
	if !ok {
		return plumbing.ZeroHash, fmt.Errorf("blog commit %s: object not found", Short(parent))
	}
	all := maps.Clone(pc.files)
	maps.Copy(all, files)
	h := fakeHash(fmt.Sprintf("%s %v %s %s", parent, slices.Sorted(maps.Keys(files)), author.When, message))
	b.commits[h] = fakeBlogCommit{parent: parent, files: all}
	return h, nil
}

func (b *fakeBlogRepo) Push(_ context.Context, commit plumbing.Hash) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.commits[commit].parent != b.tip && commit != b.tip {
		return fmt.Errorf("push: %w", blog.ErrNonFastForward)
	}
	b.tip = commit
	b.pushes = append(b.pushes, fakeBlogPush{at: b.clock.Now(), commit: commit})
	if b.loseAnswers > 0 {
		b.loseAnswers--
		return errors.New("push: connection reset by peer")
	}
	return nil
}

func (b *fakeBlogRepo) RemoteTip(context.Context) (plumbing.Hash, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tip, true, nil
}

func (b *fakeBlogRepo) IsAncestor(a, c plumbing.Hash) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for h := c; !h.IsZero(); h = b.commits[h].parent {
		if h == a {
			return true, nil
		}
	}
	return false, nil
}

func (b *fakeBlogRepo) Site(commit plumbing.Hash) (*blog.Site, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.commits[commit]
	if !ok {
		return nil, fmt.Errorf("blog commit %s: object not found", Short(commit))
	}
	files := maps.Clone(c.files)
	return &blog.Site{Paths: slices.Sorted(maps.Keys(files)), Read: func(name string) ([]byte, bool, error) {
		f, ok := files[name]
		return f, ok, nil
	}}, nil
}
