package vault

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// pushWorld is a public bare repository with main at a base commit, and a
// vault holding a held fix on top of it, with its tag.
type pushWorld struct {
	public     string
	v          *Vault
	base, held plumbing.Hash
}

func newPushWorld(t *testing.T) *pushWorld {
	t.Helper()
	dir := t.TempDir()
	public := filepath.Join(dir, "public.git")
	if _, err := git.PlainInit(public, true); err != nil {
		t.Fatal(err)
	}
	v, err := Open(filepath.Join(dir, "vault.git"))
	if err != nil {
		t.Fatal(err)
	}
	w := &pushWorld{public: public, v: v}
	w.base = commit(t, v.repo, "base\n", plumbing.ZeroHash)
	w.held = commit(t, v.repo, "the fix\n", w.base)
	must(t, v.repo.Storer.SetReference(plumbing.NewHashReference("refs/held/embargo/1.13", w.held)))
	must(t, v.repo.Storer.SetReference(plumbing.NewHashReference("refs/heads/base", w.base)))
	// The public repository has main at base.
	rem := git.NewRemote(v.repo.Storer, &config.RemoteConfig{Name: "p", URLs: []string{public}})
	must(t, rem.Push(&git.PushOptions{RemoteName: "p", RefSpecs: []config.RefSpec{"refs/heads/base:refs/heads/main"}}))
	if _, err := v.EnsureTag("v1.13.1", w.held, Signature("Jane Doe", "jane@example.org", time.Unix(0, 0)), "1.13.1\n"); err != nil {
		t.Fatal(err)
	}
	return w
}

func commit(t *testing.T, repo *git.Repository, content string, parent plumbing.Hash) plumbing.Hash {
	t.Helper()
	blob := repo.Storer.NewEncodedObject()
	blob.SetType(plumbing.BlobObject)
	wr, _ := blob.Writer()
	wr.Write([]byte(content))
	wr.Close()
	bh, err := repo.Storer.SetEncodedObject(blob)
	must(t, err)
	tree := &object.Tree{Entries: []object.TreeEntry{{Name: "README.md", Mode: 0o100644, Hash: bh}}}
	to := repo.Storer.NewEncodedObject()
	must(t, tree.Encode(to))
	th, err := repo.Storer.SetEncodedObject(to)
	must(t, err)
	sig := object.Signature{Name: "Jane Doe", Email: "jane@example.org", When: time.Unix(1700000000, 0)}
	c := &object.Commit{Author: sig, Committer: sig, Message: content, TreeHash: th}
	if !parent.IsZero() {
		c.ParentHashes = []plumbing.Hash{parent}
	}
	co := repo.Storer.NewEncodedObject()
	must(t, c.Encode(co))
	h, err := repo.Storer.SetEncodedObject(co)
	must(t, err)
	return h
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var releaseUpdates = []Update{
	{Local: "refs/held/embargo/1.13", Remote: "refs/heads/main"},
	{Local: "refs/tags/v1.13.1", Remote: "refs/tags/v1.13.1"},
}

func publicRefs(t *testing.T, public string) map[string]plumbing.Hash {
	t.Helper()
	repo, err := git.PlainOpen(public)
	must(t, err)
	out := map[string]plumbing.Hash{}
	iter, err := repo.References()
	must(t, err)
	iter.ForEach(func(r *plumbing.Reference) error {
		if r.Type() == plumbing.HashReference {
			out[r.Name().String()] = r.Hash()
		}
		return nil
	})
	return out
}

// Prepared before T0, the push sends at T0 exactly the branch and the tag,
// in one push, and nothing before Send.
func TestPreparedPushWritesNothingUntilSentThenEverything(t *testing.T) {
	w := newPushWorld(t)
	ctx := context.Background()
	sess, err := w.v.OpenPush(ctx, w.public, nil)
	must(t, err)
	if got := sess.Refs()["refs/heads/main"].Hash; got != w.base {
		t.Fatalf("the session sees main at %s, want %s", got, w.base)
	}
	pp, err := sess.Prepare(releaseUpdates)
	must(t, err)
	defer pp.Close()
	if pp.Empty() || pp.Objects == 0 {
		t.Fatalf("nothing prepared: %d objects", pp.Objects)
	}
	if same, err := pp.Recheck(ctx, w.public, nil); err != nil || !same {
		t.Fatalf("recheck of an unchanged remote: %v %v", same, err)
	}
	if got := publicRefs(t, w.public); got["refs/heads/main"] != w.base || !got["refs/tags/v1.13.1"].IsZero() {
		t.Fatalf("the remote changed before Send: %v", got)
	}
	must(t, pp.Send(ctx))
	got := publicRefs(t, w.public)
	if got["refs/heads/main"] != w.held {
		t.Errorf("main is at %s, want the held tip %s", got["refs/heads/main"], w.held)
	}
	tag, _ := w.v.repo.Reference("refs/tags/v1.13.1", true)
	if got["refs/tags/v1.13.1"] != tag.Hash() {
		t.Errorf("the tag is at %s, want %s", got["refs/tags/v1.13.1"], tag.Hash())
	}
	// The public repository has every object of the fix.
	repo, err := git.PlainOpen(w.public)
	must(t, err)
	c, err := repo.CommitObject(w.held)
	if err != nil {
		t.Fatalf("the held commit did not reach the remote: %v", err)
	}
	if _, err := c.Tree(); err != nil {
		t.Errorf("the held commit's tree did not reach the remote: %v", err)
	}
}

// A public branch that moves after the push was prepared: the recheck
// sees it, and a push sent anyway is refused whole (atomic), leaving the
// tag unpublished too.
func TestAPushPreparedBeforeTheRemoteMovedIsRefusedWhole(t *testing.T) {
	w := newPushWorld(t)
	ctx := context.Background()
	sess, err := w.v.OpenPush(ctx, w.public, nil)
	must(t, err)
	pp, err := sess.Prepare(releaseUpdates)
	must(t, err)
	defer pp.Close()

	// A colleague pushes to main meanwhile.
	other := commit(t, w.v.repo, "public work\n", w.base)
	must(t, w.v.repo.Storer.SetReference(plumbing.NewHashReference("refs/heads/other", other)))
	rem := git.NewRemote(w.v.repo.Storer, &config.RemoteConfig{Name: "p", URLs: []string{w.public}})
	must(t, rem.Push(&git.PushOptions{RemoteName: "p", RefSpecs: []config.RefSpec{"refs/heads/other:refs/heads/main"}}))

	if same, err := pp.Recheck(ctx, w.public, nil); err != nil || same {
		t.Fatalf("recheck after main moved: same=%v err=%v, want a change seen", same, err)
	}
	err = pp.Send(ctx)
	if err == nil {
		t.Fatal("a push prepared against the old main was accepted")
	}
	got := publicRefs(t, w.public)
	if got["refs/heads/main"] != other || !got["refs/tags/v1.13.1"].IsZero() {
		t.Errorf("after the refused push: main %s (want the colleague's %s), tag %s (want none)", got["refs/heads/main"], other, got["refs/tags/v1.13.1"])
	}
	if transient := !strings.Contains(err.Error(), "main"); transient {
		t.Errorf("the refusal does not name the ref: %v", err)
	}
}
