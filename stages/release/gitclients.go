package release

import (
	"context"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/async-rs/embargo/stages/blog"
	"github.com/async-rs/embargo/stages/vault"
)

// The vault (the private mirror of the source clone and of the public
// repository, stages/vault) and the blog's private clone (stages/blog),
// as the stages call them: each function takes the smallest of these that
// it uses, so that a test gives a stage a fake git world in place of
// repositories and servers. Clients opens the real ones.

// HeldBranches is what a stage reads of the held release: which branches
// and tags the source clone has, the copy of them into the vault, and the
// tips kept there (heldTips, fetchHeld; a restored bundle's vault).
type HeldBranches interface {
	SourceRefs(source string, refs []plumbing.ReferenceName) (map[plumbing.ReferenceName]plumbing.Hash, error)
	FetchHeld(ctx context.Context, source string, branches, tags []string) (map[string]plumbing.Hash, error)
	Held(branch string) (plumbing.Hash, bool)
	SourceTag(tag string) (commit plumbing.Hash, ok bool, err error)
}

// CommitTrees reads the tree of a vault commit, under the vault's lock
// (the cargo workspace at a tip, whether it commits a Cargo.lock).
type CommitTrees interface {
	Locked(fn func() error) error
	Tree(commit plumbing.Hash) (*object.Tree, error)
}

// HeldWorktrees checks a held tip out where cargo packages it.
type HeldWorktrees interface {
	CommitTrees
	Worktree(ctx context.Context, dir, heldBranch string, commit plumbing.Hash, extra map[string][]byte) error
}

// PublicHistory is preflight's line check: the public refs as mirrored,
// whether the held tip fast-forwards them, and which held commits are
// public already (the leak check).
type PublicHistory interface {
	CommitTrees
	PublicBranch(branch string) (plumbing.Hash, bool)
	PublicTag(tag string) (commit plumbing.Hash, ok bool, err error)
	SourceTag(tag string) (commit plumbing.Hash, ok bool, err error)
	IsAncestor(a, b plumbing.Hash) (bool, error)
	Ahead(tip, base plumbing.Hash) ([]plumbing.Hash, error)
	Leaks(commits []plumbing.Hash) (map[plumbing.Hash]string, error)
}

// ReleaseVault is the vault as preflight, publish and verify read it.
type ReleaseVault interface {
	HeldBranches
	PublicHistory
	HeldWorktrees
	// FetchPublic mirrors the public repository's refs, reading only.
	FetchPublic(ctx context.Context, url string, auth transport.AuthMethod) error
	// ProbePush asks a remote, with auth, what a push asks first (the
	// refs it advertises to one), and sends nothing after: the forge's
	// refusal is the error.
	ProbePush(ctx context.Context, url string, auth transport.AuthMethod) error
	// Dir is where the vault is, for messages.
	Dir() string
}

// HeldFixes is the vault as `embargo notify` reads it: the held tips, the
// public branches they fast-forward, and the fix commits between them, as
// objects to be made into patches for the distros pre-notice.
type HeldFixes interface {
	HeldBranches
	// FetchPublic mirrors the public repository's refs, reading only.
	FetchPublic(ctx context.Context, url string, auth transport.AuthMethod) error
	PublicBranch(branch string) (plumbing.Hash, bool)
	IsAncestor(a, b plumbing.Hash) (bool, error)
	Ahead(tip, base plumbing.Hash) ([]plumbing.Hash, error)
	Commit(h plumbing.Hash) (*object.Commit, error)
}

// PushVault is the vault as the push stage uses it: the held tips, the
// release tags made in it, and the one atomic push to the public
// repository, prepared before T0 and read back after.
type PushVault interface {
	HeldBranches
	EnsureTag(tag string, commit plumbing.Hash, tagger object.Signature, message string) (plumbing.Hash, error)
	IsAncestor(a, b plumbing.Hash) (bool, error)
	// OpenPush reads the remote's refs for a push; nothing is written
	// until the prepared push is sent.
	OpenPush(ctx context.Context, url string, auth transport.AuthMethod) (PushSession, error)
	// ListRemote reads the remote's refs, peeled.
	ListRemote(ctx context.Context, url string, auth transport.AuthMethod) (map[string]vault.RemoteRef, error)
}

// PushSession is an open push: the remote's refs as read, and the push of
// updates prepared against them (vault.PushSession).
type PushSession interface {
	Refs() map[string]vault.RemoteRef
	Prepare(updates []vault.Update) (PreparedPush, error)
	Close() error
}

// PreparedPush is one atomic push ready to send (vault.PreparedPush).
type PreparedPush interface {
	// Empty: the remote holds every update already.
	Empty() bool
	// Objects is how many objects the pack holds.
	Objects() int
	// Refs are the remote refs the push sets.
	Refs() []string
	// Recheck reads the remote again: false when a ref the push sets
	// moved since it was prepared.
	Recheck(ctx context.Context, url string, auth transport.AuthMethod) (bool, error)
	// Send is the one write.
	Send(ctx context.Context) error
	Close()
}

// BlogClone is the private clone of the blog's branch the advisory stage
// publishes from: fetch the branch, read a file at a commit, commit on
// top, push never forced, and read the remote tip again (stages/blog);
// the site at a commit, when no preflight recorded its conventions.
type BlogClone interface {
	Fetch(ctx context.Context) (plumbing.Hash, error)
	File(commit plumbing.Hash, name string) (content []byte, ok bool, err error)
	Commit(parent plumbing.Hash, files map[string][]byte, author object.Signature, message string) (plumbing.Hash, error)
	Push(ctx context.Context, commit plumbing.Hash) error
	RemoteTip(ctx context.Context) (tip plumbing.Hash, ok bool, err error)
	IsAncestor(a, b plumbing.Hash) (bool, error)
	BlogSite
}

// BlogSite lists the blog's files at a commit, for its posts'
// conventions to be read.
type BlogSite interface {
	Site(commit plumbing.Hash) (*blog.Site, error)
}

// BlogFiles reads files at a commit of the blog: what the post still
// needs is worked out the same way on the advisory stage's clone and on
// preflight's.
type BlogFiles interface {
	File(commit plumbing.Hash, name string) (content []byte, ok bool, err error)
}

// gitVault is the real vault behind the interfaces: the source clone and
// the remote are read with the vault package's own functions.
type gitVault struct{ *vault.Vault }

func openGitVault(path string) (gitVault, error) {
	v, err := vault.Open(path)
	return gitVault{v}, err
}

func (v gitVault) Dir() string { return v.Path }

func (v gitVault) Commit(h plumbing.Hash) (*object.Commit, error) {
	var c *object.Commit
	err := v.Locked(func() (err error) {
		c, err = v.Repo().CommitObject(h)
		return err
	})
	return c, err
}

func (gitVault) SourceRefs(source string, refs []plumbing.ReferenceName) (map[plumbing.ReferenceName]plumbing.Hash, error) {
	return vault.SourceRefs(source, refs)
}

func (gitVault) ProbePush(ctx context.Context, url string, auth transport.AuthMethod) error {
	return vault.ProbePush(ctx, url, auth)
}

func (gitVault) ListRemote(ctx context.Context, url string, auth transport.AuthMethod) (map[string]vault.RemoteRef, error) {
	return vault.ListRemote(ctx, url, auth)
}

func (v gitVault) OpenPush(ctx context.Context, url string, auth transport.AuthMethod) (PushSession, error) {
	s, err := v.Vault.OpenPush(ctx, url, auth)
	if err != nil {
		return nil, err // not a nil *vault.PushSession in an interface
	}
	return gitSession{s}, nil
}

type gitSession struct{ *vault.PushSession }

func (s gitSession) Prepare(updates []vault.Update) (PreparedPush, error) {
	pp, err := s.PushSession.Prepare(updates)
	if err != nil {
		return nil, err
	}
	return gitPrepared{pp}, nil
}

type gitPrepared struct{ *vault.PreparedPush }

func (p gitPrepared) Objects() int { return p.PreparedPush.Objects }

// ClosePush closes a prepared push, if there is one.
func ClosePush(pp PreparedPush) {
	if pp != nil {
		pp.Close()
	}
}
