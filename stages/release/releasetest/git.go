package releasetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/vault"
)

// The git world of a release without repositories: the source clone's
// held branches, the vault's copy of them and of the public refs, and the
// public repository, which only an atomic push changes, each push stamped
// with the clock's time. Git is the vault the stages are given, as
// both ReleaseVault and PushVault.

func Hash(s string) plumbing.Hash { return plumbing.ComputeHash(plumbing.CommitObject, []byte(s)) }

type Git struct {
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
	Public  map[string]vault.RemoteRef               // the public repository
	pushes  []GitPush
	// LoseAnswers is how many pushes land but are answered with an
	// error, as when the connection drops after the remote wrote.
	LoseAnswers int
}

type fakeTag struct{ object, commit plumbing.Hash }

// GitPush is one atomic push that landed: the refs it set.
type GitPush struct {
	At   time.Time
	Refs map[string]plumbing.Hash
}

func NewGit(clock *pipeline.FakeClock) *Git {
	return &Git{clock: clock, parent: map[plumbing.Hash]plumbing.Hash{}, version: map[plumbing.Hash]string{},
		source: map[plumbing.ReferenceName]plumbing.Hash{}, held: map[string]plumbing.Hash{}, mirror: map[string]vault.RemoteRef{},
		tags: map[string]fakeTag{}, Public: map[string]vault.RemoteRef{}}
}

// Commit adds a Commit on parent (zero: a root) where demo-core is at
// version.
func (f *Git) Commit(name string, parent plumbing.Hash, version string) plumbing.Hash {
	h := Hash(name)
	f.parent[h], f.version[h] = parent, version
	return h
}

// Line puts a release Line in the world: public branch at a commit of
// version old, the held branch one commit ahead at the tag's version.
func (f *Git) Line(rel config.Release, old string) (public, held plumbing.Hash) {
	public = f.Commit("public "+rel.PublicBranch, plumbing.ZeroHash, old)
	held = f.Commit("fix "+rel.Line, public, config.TagVersion(rel.Tag))
	f.Public["refs/heads/"+rel.PublicBranch] = vault.RemoteRef{Hash: public, Commit: public}
	f.source[plumbing.NewBranchReferenceName(rel.Branch)] = held
	return public, held
}

func (f *Git) Opener() func(string) (release.PushVault, error) {
	return func(string) (release.PushVault, error) { return f, nil }
}

// PublicRefs is the public repository now.
func (f *Git) PublicRefs() map[string]vault.RemoteRef {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.Public)
}

func (f *Git) Landed() []GitPush {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.pushes)
}

func (f *Git) SourceRefs(_ string, refs []plumbing.ReferenceName) (map[plumbing.ReferenceName]plumbing.Hash, error) {
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

func (f *Git) FetchHeld(_ context.Context, _ string, branches, _ []string) (map[string]plumbing.Hash, error) {
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

func (f *Git) Held(branch string) (plumbing.Hash, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.held[branch]
	return h, ok
}

func (f *Git) SourceTag(string) (plumbing.Hash, bool, error) {
	return plumbing.ZeroHash, false, nil
}

// ProbePush: the fake public repository takes every push.
func (f *Git) ProbePush(context.Context, string, transport.AuthMethod) error { return nil }

func (f *Git) FetchPublic(context.Context, string, transport.AuthMethod) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mirror = maps.Clone(f.Public)
	return nil
}

func (f *Git) Dir() string { return "vault.git" }

func (f *Git) PublicBranch(branch string) (plumbing.Hash, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.mirror["refs/heads/"+branch]
	return r.Hash, ok
}

func (f *Git) PublicTag(tag string) (plumbing.Hash, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.mirror["refs/tags/"+tag]
	return r.Commit, ok, nil
}

func (f *Git) IsAncestor(a, b plumbing.Hash) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for h := b; !h.IsZero(); h = f.parent[h] {
		if h == a {
			return true, nil
		}
	}
	return false, nil
}

func (f *Git) Ahead(tip, base plumbing.Hash) ([]plumbing.Hash, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []plumbing.Hash
	for h := tip; !h.IsZero() && h != base; h = f.parent[h] {
		out = append(out, h)
	}
	return out, nil
}

// Leaks: a commit is public when some public ref's history holds it.
func (f *Git) Leaks(commits []plumbing.Hash) (map[plumbing.Hash]string, error) {
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

func (f *Git) Locked(fn func() error) error { return fn() }

// Tree is a workspace of one crate, demo-core, at the commit's version.
func (f *Git) Tree(commit plumbing.Hash) (*object.Tree, error) {
	f.mu.Lock()
	version, ok := f.version[commit]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no commit %s", release.Short(commit))
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

func (f *Git) Worktree(context.Context, string, string, plumbing.Hash, map[string][]byte) error {
	return errors.New("the fake vault checks nothing out")
}

// EnsureTag reuses a public tag at the commit, else makes the same tag
// object every time.
func (f *Git) EnsureTag(tag string, commit plumbing.Hash, _ object.Signature, _ string) (plumbing.Hash, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.tags[tag]; ok {
		if t.commit != commit {
			return plumbing.ZeroHash, fmt.Errorf("tag %s in the vault points to %s, not the held tip %s", tag, release.Short(t.commit), release.Short(commit))
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

func (f *Git) ListRemote(context.Context, string, transport.AuthMethod) (map[string]vault.RemoteRef, error) {
	return f.PublicRefs(), nil
}

func (f *Git) OpenPush(context.Context, string, transport.AuthMethod) (release.PushSession, error) {
	return &fakeSession{f: f, refs: f.PublicRefs()}, nil
}

type fakeSession struct {
	f    *Git
	refs map[string]vault.RemoteRef
}

func (s *fakeSession) Refs() map[string]vault.RemoteRef { return s.refs }

func (s *fakeSession) Close() error { return nil }

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
	f    *Git
	cmds []fakeCommand
}

func (p *fakePrepared) Empty() bool { return len(p.cmds) == 0 }

func (p *fakePrepared) Objects() int { return len(p.cmds) }

func (p *fakePrepared) Close() {}

func (p *fakePrepared) Refs() []string {
	var out []string
	for _, c := range p.cmds {
		out = append(out, c.name)
	}
	return out
}

func (p *fakePrepared) Recheck(context.Context, string, transport.AuthMethod) (bool, error) {
	now := p.f.PublicRefs()
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
		if f.Public[c.name].Hash != c.old.Hash {
			return fmt.Errorf("%s: rejected (stale info)", c.name)
		}
	}
	push := GitPush{At: f.clock.Now(), Refs: map[string]plumbing.Hash{}}
	for _, c := range p.cmds {
		f.Public[c.name] = c.new
		push.Refs[c.name] = c.new.Commit
	}
	f.pushes = append(f.pushes, push)
	if f.LoseAnswers > 0 {
		f.LoseAnswers--
		return errors.New("send-pack: connection reset by peer")
	}
	return nil
}

// Checked is a preflight that found every line of the run sound in git:
// it records each line's held tip and the public tip it fast-forwards, as
// preflight's line step does, for the stages after it to read.
func Checked(git *Git) Stage {
	return Stage{Fn: func(r *release.Run) error {
		for _, rel := range r.Config.Releases {
			git.mu.Lock()
			held, public := git.source[plumbing.NewBranchReferenceName(rel.Branch)], git.Public["refs/heads/"+rel.PublicBranch]
			git.mu.Unlock()
			if _, err := pipeline.Step(r.Run, release.LineCheckedKey(rel.Line), func(res *release.LineChecked) error {
				res.Held, res.PublicTip = held.String(), public.Hash.String()
				res.Text = fmt.Sprintf("%s at %s fast-forwards %s", rel.Branch, release.Short(held), rel.PublicBranch)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	}}
}
