package vault

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// leakWorld is a vault whose public history is base <- pub (public main),
// with a held line base <- fix1 <- fix2 on top of base.
type leakWorld struct {
	v                    *Vault
	base, pub            plumbing.Hash
	fix1, fix2           plumbing.Hash
	publicMain, heldName string
}

func newLeakWorld(t *testing.T) *leakWorld {
	t.Helper()
	v, err := Open(filepath.Join(t.TempDir(), "vault.git"))
	must(t, err)
	w := &leakWorld{v: v, publicMain: publicPrefix + "heads/main", heldName: heldPrefix + "embargo/1.13"}
	w.base = commit(t, v.repo, "base\n", plumbing.ZeroHash)
	w.pub = commit(t, v.repo, "public work\n", w.base)
	w.fix1 = commit(t, v.repo, "fix, part 1\n", w.base)
	w.fix2 = commit(t, v.repo, "fix, part 2\n", w.fix1)
	w.setRef(t, w.publicMain, w.pub)
	w.setRef(t, w.heldName, w.fix2)
	return w
}

func (w *leakWorld) setRef(t *testing.T, name string, h plumbing.Hash) {
	t.Helper()
	must(t, w.v.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(name), h)))
}

// annotatedTag makes a tag object of target and returns its hash, with no
// ref left pointing to it.
func (w *leakWorld) annotatedTag(t *testing.T, target plumbing.Hash) plumbing.Hash {
	t.Helper()
	sig := Signature("Jane Doe", "jane@example.org", time.Unix(1700000000, 0))
	ref, err := w.v.repo.CreateTag("scratch", target, &git.CreateTagOptions{Tagger: &sig, Message: "a tag\n"})
	must(t, err)
	must(t, w.v.repo.Storer.RemoveReference(ref.Name()))
	return ref.Hash()
}

// held is the fix commits in the order preflight passes them: Ahead of the
// public tip.
func (w *leakWorld) held(t *testing.T) []plumbing.Hash {
	t.Helper()
	ahead, err := w.v.Ahead(w.fix2, w.pub)
	must(t, err)
	return ahead
}

func (w *leakWorld) leaks(t *testing.T) map[plumbing.Hash]string {
	t.Helper()
	got, err := w.v.Leaks(w.held(t))
	must(t, err)
	return got
}

// The held commits are reachable from the vault's own refs (the held
// branch, the release tag it made, the source's tags), none of them
// public: nothing leaked.
func TestLeaksIgnoresTheVaultsOwnRefs(t *testing.T) {
	w := newLeakWorld(t)
	if _, err := w.v.EnsureTag("v1.13.1", w.fix2, Signature("Jane Doe", "jane@example.org", time.Unix(0, 0)), "1.13.1\n"); err != nil {
		t.Fatal(err)
	}
	w.setRef(t, sourceTagPrefix+"v1.13.1", w.fix2)
	if got := w.leaks(t); len(got) != 0 {
		t.Errorf("leaks %v, want none: only public refs can leak a commit", got)
	}
}

// A held commit on a public branch is reported, with the branch that
// reaches it; the held commit after it, not public, is not.
func TestLeaksNamesThePublicBranchThatReachesAHeldCommit(t *testing.T) {
	w := newLeakWorld(t)
	w.setRef(t, publicPrefix+"heads/wip", w.fix1)
	got := w.leaks(t)
	if want := map[plumbing.Hash]string{w.fix1: "refs/heads/wip"}; !maps.Equal(got, want) {
		t.Errorf("leaks %v, want only fix1 through refs/heads/wip %v", got, want)
	}
}

// A held commit merged into a public branch (it is the merge's second
// parent) leaks as surely as one on the branch's first-parent line.
func TestLeaksFollowsEveryParentOfAMerge(t *testing.T) {
	w := newLeakWorld(t)
	merge := commitWithParents(t, w.v.repo, "merge the fix\n", w.pub, w.fix2)
	w.setRef(t, w.publicMain, merge)
	got := w.leaks(t)
	if want := map[plumbing.Hash]string{w.fix1: "refs/heads/main", w.fix2: "refs/heads/main"}; !maps.Equal(got, want) {
		t.Errorf("leaks %v, want both fix commits through the merge on main %v", got, want)
	}
}

// A held commit that only a public annotated tag reaches is reported with
// the tag; so is one a public pull request's head reaches.
func TestLeaksSeesPublicTagsAndPullRequests(t *testing.T) {
	w := newLeakWorld(t)
	w.setRef(t, publicPrefix+"tags/v1.13.1", w.annotatedTag(t, w.fix2))
	got := w.leaks(t)
	if want := map[plumbing.Hash]string{w.fix1: "refs/tags/v1.13.1", w.fix2: "refs/tags/v1.13.1"}; !maps.Equal(got, want) {
		t.Errorf("leaks %v, want both through the public tag %v", got, want)
	}

	w = newLeakWorld(t)
	w.setRef(t, publicPrefix+"pull/7/head", w.fix1)
	got = w.leaks(t)
	if want := map[plumbing.Hash]string{w.fix1: "refs/pull/7/head"}; !maps.Equal(got, want) {
		t.Errorf("leaks %v, want fix1 through the pull request's head %v", got, want)
	}
}

// A public tag of a tree (no history) is skipped, not an error, and does
// not hide a leak through another ref.
func TestLeaksSkipsAPublicTagOfATree(t *testing.T) {
	w := newLeakWorld(t)
	c, err := w.v.repo.CommitObject(w.pub)
	must(t, err)
	w.setRef(t, publicPrefix+"tags/tree", w.annotatedTagOfTree(t, c.TreeHash))
	w.setRef(t, publicPrefix+"heads/wip", w.fix2)
	got := w.leaks(t)
	if want := map[plumbing.Hash]string{w.fix1: "refs/heads/wip", w.fix2: "refs/heads/wip"}; !maps.Equal(got, want) {
		t.Errorf("leaks %v, want both through refs/heads/wip %v", got, want)
	}
}

func (w *leakWorld) annotatedTagOfTree(t *testing.T, tree plumbing.Hash) plumbing.Hash {
	t.Helper()
	tag := &object.Tag{Name: "tree", Tagger: Signature("Jane Doe", "jane@example.org", time.Unix(1700000000, 0)),
		Message: "a tree\n", TargetType: plumbing.TreeObject, Target: tree}
	o := w.v.repo.Storer.NewEncodedObject()
	must(t, tag.Encode(o))
	h, err := w.v.repo.Storer.SetEncodedObject(o)
	must(t, err)
	return h
}

// Hundreds of public refs share history, which the check walks once: a
// held commit reached only by a ref listed after many others whose history
// overlaps it is still found, and every commit reported is reached by the
// ref named, and only those are.
func TestLeaksAmongHundredsOfRefs(t *testing.T) {
	w := newLeakWorld(t)
	// 300 public branches along one public line, each at its own commit.
	line := []plumbing.Hash{w.pub}
	for i := 1; i < 300; i++ {
		line = append(line, commit(t, w.v.repo, fmt.Sprintf("public %d\n", i), line[i-1]))
	}
	for i, h := range line {
		w.setRef(t, fmt.Sprintf("%sheads/b%03d", publicPrefix, i), h)
	}
	// More held commits: one a public feature branch off the line reaches
	// (named to be listed after the 300), one nothing public reaches.
	side := commitWithParents(t, w.v.repo, "held on the line\n", line[150])
	hidden := commitWithParents(t, w.v.repo, "held, never public\n", line[299])
	w.setRef(t, publicPrefix+"heads/zz-feature", commitWithParents(t, w.v.repo, "on top\n", side))
	// A held commit that is an old public commit: every branch from b010
	// on reaches it.
	held := append(w.held(t), side, hidden, line[10])

	got, err := w.v.Leaks(held)
	must(t, err)
	if _, a := got[side]; !a || len(got) != 2 || got[line[10]] == "" {
		t.Fatalf("leaked %v, want exactly the side commit and the old public commit", got)
	}
	if got[side] != "refs/heads/zz-feature" {
		t.Errorf("the side commit is reported through %s, want refs/heads/zz-feature", got[side])
	}
	tip, ok := w.v.PublicBranch(got[line[10]][len("refs/heads/"):])
	if !ok {
		t.Fatalf("the old commit is reported through %q, not a public branch", got[line[10]])
	}
	if in, err := w.v.IsAncestor(line[10], tip); err != nil || !in {
		t.Errorf("the old commit is reported through %s, which does not reach it (%v)", got[line[10]], err)
	}
}

// Nothing asked, nothing walked: an empty list is no leak, even with no
// public refs fetched yet.
func TestLeaksOfNoCommitsIsEmpty(t *testing.T) {
	v, err := Open(filepath.Join(t.TempDir(), "vault.git"))
	must(t, err)
	got, err := v.Leaks(nil)
	if err != nil || len(got) != 0 {
		t.Errorf("Leaks(nil) = %v, %v; want none", got, err)
	}
}

// The leak check sees what FetchPublic mirrored: a fix someone pushed to a
// pull request of the public repository is found through refs/pull.
func TestLeaksSeesWhatFetchPublicMirrored(t *testing.T) {
	w := newPushWorld(t)
	ctx := context.Background()
	// Push the held fix to the public repository as a pull request head,
	// as a contributor's fork would.
	pub, err := git.PlainOpen(w.public)
	must(t, err)
	objects := newObjectCopy(t, w.v, pub)
	objects(w.held)
	must(t, pub.Storer.SetReference(plumbing.NewHashReference("refs/pull/12/head", w.held)))

	must(t, w.v.FetchPublic(ctx, w.public, nil))
	got, err := w.v.Leaks([]plumbing.Hash{w.held})
	must(t, err)
	if want := map[plumbing.Hash]string{w.held: "refs/pull/12/head"}; !maps.Equal(got, want) {
		t.Errorf("leaks %v, want the fix through the pull request %v", got, want)
	}

	// The pull request's ref is deleted: the next fetch prunes it, and the
	// fix no longer shows as leaked.
	must(t, pub.Storer.RemoveReference("refs/pull/12/head"))
	must(t, w.v.FetchPublic(ctx, w.public, nil))
	got, err = w.v.Leaks([]plumbing.Hash{w.held})
	must(t, err)
	if len(got) != 0 {
		t.Errorf("after the ref was deleted: leaks %v, want none", got)
	}
}

// newObjectCopy copies a commit and everything it reaches from the vault
// into dst.
func newObjectCopy(t *testing.T, v *Vault, dst *git.Repository) func(plumbing.Hash) {
	t.Helper()
	return func(h plumbing.Hash) {
		t.Helper()
		c, err := v.repo.CommitObject(h)
		must(t, err)
		iter := object.NewCommitPreorderIter(c, nil, nil)
		must(t, iter.ForEach(func(c *object.Commit) error {
			tree, err := c.Tree()
			if err != nil {
				return err
			}
			for _, hash := range []plumbing.Hash{c.Hash, tree.Hash} {
				o, err := v.repo.Storer.EncodedObject(plumbing.AnyObject, hash)
				if err != nil {
					return err
				}
				if _, err := dst.Storer.SetEncodedObject(o); err != nil {
					return err
				}
			}
			return tree.Files().ForEach(func(f *object.File) error {
				o, err := v.repo.Storer.EncodedObject(plumbing.BlobObject, f.Hash)
				if err != nil {
					return err
				}
				_, err = dst.Storer.SetEncodedObject(o)
				return err
			})
		}))
	}
}

func TestAheadListsTheFixCommitsNewestFirst(t *testing.T) {
	w := newLeakWorld(t)
	got, err := w.v.Ahead(w.fix2, w.base)
	must(t, err)
	if want := []plumbing.Hash{w.fix2, w.fix1}; !slices.Equal(got, want) {
		t.Errorf("Ahead(fix2, base) = %v, want %v", got, want)
	}
	// No public branch yet: the whole history is ahead.
	got, err = w.v.Ahead(w.fix2, plumbing.ZeroHash)
	must(t, err)
	if want := []plumbing.Hash{w.fix2, w.fix1, w.base}; !slices.Equal(got, want) {
		t.Errorf("Ahead(fix2, none) = %v, want %v", got, want)
	}
	// At the public tip: nothing ahead.
	got, err = w.v.Ahead(w.base, w.base)
	must(t, err)
	if len(got) != 0 {
		t.Errorf("Ahead(base, base) = %v, want nothing", got)
	}
}

// IsAncestor is the fast-forward check: the held branch must contain the
// public tip.
func TestIsAncestorIsTheFastForwardCheck(t *testing.T) {
	w := newLeakWorld(t)
	for _, c := range []struct {
		name string
		a, b plumbing.Hash
		want bool
	}{
		{"the same commit", w.fix2, w.fix2, true},
		{"a parent's parent", w.base, w.fix2, true},
		{"a descendant", w.fix2, w.base, false},
		{"a sibling line", w.pub, w.fix2, false},
	} {
		got, err := w.v.IsAncestor(c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("%s: IsAncestor = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	if _, err := w.v.IsAncestor(w.base, plumbing.NewHash("1111111111111111111111111111111111111111")); err == nil {
		t.Error("IsAncestor of a commit the vault lacks: no error")
	}
}

// PublicTag peels an annotated public tag to its commit, reads a
// lightweight one as it is, and says when there is none.
func TestPublicTagPeelsToTheCommit(t *testing.T) {
	w := newLeakWorld(t)
	w.setRef(t, publicPrefix+"tags/v1.13.0", w.annotatedTag(t, w.pub))
	w.setRef(t, publicPrefix+"tags/light", w.base)
	for tag, want := range map[string]plumbing.Hash{"v1.13.0": w.pub, "light": w.base} {
		got, ok, err := w.v.PublicTag(tag)
		if err != nil || !ok || got != want {
			t.Errorf("PublicTag(%s) = %s, %v, %v; want %s", tag, got, ok, err, want)
		}
	}
	if _, ok, err := w.v.PublicTag("v1.13.1"); ok || err != nil {
		t.Errorf("PublicTag of a tag that is not public: ok=%v err=%v", ok, err)
	}
	// The vault's own release tag is not a public one.
	if _, err := w.v.EnsureTag("v1.13.1", w.fix2, Signature("Jane Doe", "jane@example.org", time.Unix(0, 0)), "1.13.1\n"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := w.v.PublicTag("v1.13.1"); ok {
		t.Error("the vault's own tag reads as public")
	}
}

// commitWithParents is a commit of its own tree (its message as the file)
// with the given parents.
func commitWithParents(t *testing.T, repo *git.Repository, content string, parents ...plumbing.Hash) plumbing.Hash {
	t.Helper()
	first := commit(t, repo, content, parents[0])
	c, err := repo.CommitObject(first)
	must(t, err)
	c.ParentHashes = parents
	o := repo.Storer.NewEncodedObject()
	must(t, c.Encode(o))
	h, err := repo.Storer.SetEncodedObject(o)
	must(t, err)
	return h
}
