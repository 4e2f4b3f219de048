// Package vault is embargo's git client: a private bare repository under the
// state directory that holds the held branches (fetched from the source
// clone) beside a read-only copy of the public refs. Every check and the push
// itself run from the vault, so the operator's clone is only ever read.
package vault

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// Namespaces inside the vault.
const (
	heldPrefix      = "refs/held/"
	sourceTagPrefix = "refs/source-tags/"
	publicPrefix    = "refs/public/"
)

// HeldRef is where the vault keeps a held branch: what a restored bundle
// writes, having no source clone to fetch it from.
func HeldRef(branch string) plumbing.ReferenceName {
	return plumbing.ReferenceName(heldPrefix + branch)
}

// SourceTagRef is where the vault keeps a tag fetched from the source
// clone (or restored from a bundle), unpeeled.
func SourceTagRef(tag string) plumbing.ReferenceName {
	return plumbing.ReferenceName(sourceTagPrefix + tag)
}

// Vault is the private working repository.
type Vault struct {
	Path string
	repo *git.Repository
	// mu serialises reads made from parallel lines: go-git loads pack
	// indexes lazily, without a lock of its own.
	mu sync.Mutex
}

// Locked runs fn with the vault to itself; use it for object reads made
// from goroutines.
func (v *Vault) Locked(fn func() error) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return fn()
}

// Open opens or creates the vault at path.
func Open(path string) (*Vault, error) {
	repo, err := git.PlainOpen(path)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if err := os.MkdirAll(path, 0o700); err != nil {
			return nil, err
		}
		repo, err = git.PlainInit(path, true)
	}
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", path, err)
	}
	if err := dropTornRefs(filepath.Join(path, "refs")); err != nil {
		return nil, fmt.Errorf("vault %s: %w", path, err)
	}
	return &Vault{Path: path, repo: repo}, nil
}

// dropTornRefs removes loose ref files that a crash left half written:
// go-git rewrites a ref file in place, so a process killed mid-write leaves
// it empty or cut short, and every later read of the vault's refs fails.
// Every vault ref is derived from the source clone, the public remote or
// the release's deterministic tags, and the stages fetch or make it again.
func dropTornRefs(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		line := strings.TrimSpace(string(b))
		if strings.HasPrefix(line, "ref: ") || (len(line) == 40 && plumbing.IsHash(line)) {
			return nil
		}
		return os.Remove(p)
	})
}

// Repo exposes the underlying repository to the other clients (cargo
// worktrees, the bundle).
func (v *Vault) Repo() *git.Repository { return v.repo }

// Auth is HTTP basic auth with a token, or nil for local remotes.
func Auth(token string) transport.AuthMethod {
	if token == "" {
		return nil
	}
	// GitHub and GitLab accept any user name with a token as password.
	return &githttp.BasicAuth{Username: "x-access-token", Password: token}
}

// FetchHeld copies the held branches (and the release tags the operator may
// have made already) from the source clone, read only, into refs/held/<branch>
// and refs/source-tags/<tag>, and returns the branch tips. Every name passed
// must exist in the source (see SourceRefs).
func (v *Vault) FetchHeld(ctx context.Context, source string, branches, tags []string) (map[string]plumbing.Hash, error) {
	specs := make([]config.RefSpec, 0, len(branches)+len(tags))
	for _, b := range branches {
		specs = append(specs, config.RefSpec(fmt.Sprintf("+refs/heads/%s:%s%s", b, heldPrefix, b)))
	}
	for _, t := range tags {
		specs = append(specs, config.RefSpec(fmt.Sprintf("+refs/tags/%s:%s%s", t, sourceTagPrefix, t)))
	}
	if len(specs) == 0 {
		return map[string]plumbing.Hash{}, nil
	}
	if err := v.fetch(ctx, source, nil, specs, false); err != nil {
		return nil, fmt.Errorf("read held branches from %s: %w", source, err)
	}
	tips := map[string]plumbing.Hash{}
	for _, b := range branches {
		if h, err := v.ref(heldPrefix + b); err == nil {
			tips[b] = h
		}
	}
	return tips, nil
}

// SourceRefs says which of refs exist in the source clone, without fetching
// anything, so a missing branch is reported by name.
func SourceRefs(source string, refs []plumbing.ReferenceName) (map[plumbing.ReferenceName]plumbing.Hash, error) {
	repo, err := git.PlainOpenWithOptions(source, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("open source repository %s: %w", source, err)
	}
	found := map[plumbing.ReferenceName]plumbing.Hash{}
	for _, name := range refs {
		if ref, err := repo.Reference(name, true); err == nil {
			found[name] = ref.Hash()
		}
	}
	return found, nil
}

// FetchPublic mirrors every ref of the public remote into refs/public/*,
// pruning refs that disappeared, so leak checks see exactly what is public.
// It only reads the remote.
func (v *Vault) FetchPublic(ctx context.Context, url string, auth transport.AuthMethod) error {
	specs := []config.RefSpec{"+refs/heads/*:refs/public/heads/*", "+refs/tags/*:refs/public/tags/*", "+refs/pull/*:refs/public/pull/*", "+refs/merge-requests/*:refs/public/merge-requests/*"}
	if err := v.fetch(ctx, url, auth, specs, true); err != nil {
		return fmt.Errorf("fetch public repository %s: %w", url, err)
	}
	return nil
}

// writes serialises the fetches and ref writes of the stages that run side
// by side in one process, each with its own Vault on the same repository.
var writes sync.Mutex

func (v *Vault) fetch(ctx context.Context, url string, auth transport.AuthMethod, specs []config.RefSpec, prune bool) error {
	writes.Lock()
	defer writes.Unlock()
	rem := git.NewRemote(v.repo.Storer, &config.RemoteConfig{Name: "anonymous", URLs: []string{url}})
	err := rem.FetchContext(ctx, &git.FetchOptions{RefSpecs: specs, Auth: auth, Tags: git.NoTags, Prune: prune, Force: true})
	if errors.Is(err, git.NoErrAlreadyUpToDate) || isNoMatchingRef(err) {
		return nil
	}
	return err
}

// A refspec with no match on the remote (no pull requests, say) is fine.
func isNoMatchingRef(err error) bool {
	var nm git.NoMatchingRefSpecError
	return errors.As(err, &nm)
}

// SourceTag is the commit a tag fetched from the source clone points to.
func (v *Vault) SourceTag(tag string) (commit plumbing.Hash, ok bool, err error) {
	h, err := v.ref(sourceTagPrefix + tag)
	if err != nil {
		return plumbing.ZeroHash, false, nil
	}
	c, err := v.Peel(h)
	return c, true, err
}

func (v *Vault) ref(name string) (plumbing.Hash, error) {
	ref, err := v.repo.Reference(plumbing.ReferenceName(name), true)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return ref.Hash(), nil
}

// Held is the vault's copy of a held branch tip.
func (v *Vault) Held(branch string) (plumbing.Hash, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	h, err := v.ref(heldPrefix + branch)
	return h, err == nil
}

// PublicBranch is the public tip of branch as last fetched.
func (v *Vault) PublicBranch(branch string) (plumbing.Hash, bool) {
	h, err := v.ref(publicPrefix + "heads/" + branch)
	return h, err == nil
}

// PublicTag is the commit a public tag points to (peeled), as last fetched.
func (v *Vault) PublicTag(tag string) (commit plumbing.Hash, ok bool, err error) {
	h, err := v.ref(publicPrefix + "tags/" + tag)
	if err != nil {
		return plumbing.ZeroHash, false, nil
	}
	c, err := v.Peel(h)
	return c, true, err
}

// Peel follows annotated tags to the commit.
func (v *Vault) Peel(h plumbing.Hash) (plumbing.Hash, error) {
	for i := 0; i < 10; i++ {
		t, err := v.repo.TagObject(h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return h, nil
		}
		if err != nil {
			return plumbing.ZeroHash, err
		}
		h = t.Target
	}
	return plumbing.ZeroHash, fmt.Errorf("tag chain too deep at %s", h)
}

// Tree is a commit's tree, for listing workspace members.
func (v *Vault) Tree(commit plumbing.Hash) (*object.Tree, error) {
	c, err := v.repo.CommitObject(commit)
	if err != nil {
		return nil, err
	}
	return c.Tree()
}

// EnsureTag makes refs/tags/<tag> in the vault an annotated tag of commit.
// An existing public tag at the commit is reused, so a re-run on any machine
// pushes nothing new; otherwise the tag object is made deterministically
// (tagger and time fixed by the caller), so every run creates the same bytes.
func (v *Vault) EnsureTag(tag string, commit plumbing.Hash, tagger object.Signature, message string) (plumbing.Hash, error) {
	writes.Lock()
	defer writes.Unlock()
	name := plumbing.NewTagReferenceName(tag)
	if h, err := v.ref(name.String()); err == nil {
		target, err := v.Peel(h)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if target != commit {
			return plumbing.ZeroHash, fmt.Errorf("tag %s in the vault points to %s, not the held tip %s", tag, short(target), short(commit))
		}
		return h, nil
	}
	if h, err := v.ref(publicPrefix + "tags/" + tag); err == nil {
		if target, err := v.Peel(h); err == nil && target == commit {
			return h, v.repo.Storer.SetReference(plumbing.NewHashReference(name, h))
		}
	}
	if h, err := v.ref(sourceTagPrefix + tag); err == nil {
		target, err := v.Peel(h)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if target != commit {
			return plumbing.ZeroHash, fmt.Errorf("tag %s in the source repository points to %s, not the held tip %s", tag, short(target), short(commit))
		}
		if _, err := v.repo.TagObject(h); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("tag %s in the source repository is not an annotated tag", tag)
		}
		return h, v.repo.Storer.SetReference(plumbing.NewHashReference(name, h))
	}
	ref, err := v.repo.CreateTag(tag, commit, &git.CreateTagOptions{Tagger: &tagger, Message: message})
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("create tag %s: %w", tag, err)
	}
	return ref.Hash(), nil
}

// RemoteRef is one advertised ref of a remote, with the commit it peels to.
type RemoteRef struct {
	Hash   plumbing.Hash
	Commit plumbing.Hash
}

// ListRemote reads the remote's refs (heads and tags), peeled.
func ListRemote(ctx context.Context, url string, auth transport.AuthMethod) (map[string]RemoteRef, error) {
	rem := git.NewRemote(nil, &config.RemoteConfig{Name: "public", URLs: []string{url}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth, PeelingOption: git.AppendPeeled})
	if err != nil {
		if errors.Is(err, transport.ErrEmptyRemoteRepository) {
			return map[string]RemoteRef{}, nil
		}
		return nil, fmt.Errorf("list refs of %s: %w", url, err)
	}
	out := map[string]RemoteRef{}
	peeled := map[string]plumbing.Hash{}
	for _, r := range refs {
		name := r.Name().String()
		if strings.HasSuffix(name, "^{}") {
			peeled[strings.TrimSuffix(name, "^{}")] = r.Hash()
			continue
		}
		if r.Type() == plumbing.HashReference {
			out[name] = RemoteRef{Hash: r.Hash(), Commit: r.Hash()}
		}
	}
	for name, c := range peeled {
		if rr, ok := out[name]; ok {
			rr.Commit = c
			out[name] = rr
		}
	}
	return out, nil
}

// Update is one ref a push sets.
type Update struct {
	Local  string // vault ref, e.g. refs/held/embargo/1.13
	Remote string // remote ref, e.g. refs/heads/main
}

// Signature builds a tagger from "Name <email>" at a fixed time.
func Signature(name, email string, when time.Time) object.Signature {
	return object.Signature{Name: name, Email: email, When: when}
}

func short(h plumbing.Hash) string { return ShortHex(h.String()) }

// Short is the abbreviated form of a hash used in messages.
func Short(h plumbing.Hash) string { return short(h) }

// ShortHex abbreviates a hex hash or digest given as text, as Short does.
func ShortHex(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
