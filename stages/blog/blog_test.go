package blog

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/async-rs/embargo/internal/testenv"
	"github.com/async-rs/embargo/sandbox/gitserver"
	"github.com/async-rs/embargo/sandbox/world"
	"github.com/async-rs/embargo/stages/vault"
)

const token = "blog-tok-4c1f8e2a9d"

// forge is a blog repository behind a token-protected smart-HTTP server.
type forge struct {
	t      *testing.T
	srv    *gitserver.Server
	blog   *world.Blog
	url    string
	author object.Signature
}

func newForge(t *testing.T) *forge {
	t.Helper()
	testenv.NeedTool(t, "git", "the test server runs git-http-backend")
	dir := t.TempDir()
	b, err := world.BuildBlog(dir, "middleman", "https://blog.example.org", "Jane Doe <jane@example.org>")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gitserver.Start(dir, gitserver.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return &forge{t: t, srv: srv, blog: b, url: srv.RepoURL("blog.git"),
		author: object.Signature{Name: "Jane Doe", Email: "jane@example.org", When: time.Date(2026, 12, 1, 14, 0, 5, 0, time.UTC)}}
}

func (f *forge) open(dir string, auth bool) *Clone {
	f.t.Helper()
	a := vault.Auth("")
	if auth {
		a = vault.Auth(token)
	}
	c, err := Open(dir, f.url, f.blog.Branch, a)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// tip reads the branch straight from the server's repository.
func (f *forge) tip() plumbing.Hash {
	f.t.Helper()
	repo, err := git.PlainOpen(f.blog.Repo)
	if err != nil {
		f.t.Fatal(err)
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(f.blog.Branch), true)
	if err != nil {
		f.t.Fatal(err)
	}
	return ref.Hash()
}

func (f *forge) file(commit plumbing.Hash, path string) (string, bool) {
	f.t.Helper()
	repo, err := git.PlainOpen(f.blog.Repo)
	if err != nil {
		f.t.Fatal(err)
	}
	c, err := repo.CommitObject(commit)
	if err != nil {
		f.t.Fatal(err)
	}
	file, err := c.File(path)
	if err != nil {
		return "", false
	}
	s, err := file.Contents()
	if err != nil {
		f.t.Fatal(err)
	}
	return s, true
}

func (f *forge) posts() int { return len(f.srv.Pushes()) }

const postPath = "source/blog/2026-12-01-out-of-bounds-read.html.md"

func TestCommitOnTheTipAndPushWithTheToken(t *testing.T) {
	ctx := context.Background()
	f := newForge(t)
	before := f.tip()
	c := f.open(filepath.Join(t.TempDir(), "blog"), true)
	tip, err := c.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tip != before {
		t.Fatalf("fetched tip %s, the server has %s", tip, before)
	}
	if got, ok, err := c.File(tip, "source/blog/2026-01-10-hello.html.md"); err != nil || !ok || !strings.Contains(string(got), "The blog is open.") {
		t.Fatalf("existing post: %q %v %v", got, ok, err)
	}
	if _, ok, err := c.File(tip, postPath); err != nil || ok {
		t.Fatalf("new post already there? ok=%v err=%v", ok, err)
	}
	if _, ok, err := c.File(tip, "config.rb/nested"); err != nil || ok {
		t.Fatalf("a path under a file: ok=%v err=%v", ok, err)
	}

	commit, err := c.Commit(tip, map[string][]byte{
		postPath:              []byte("---\ntitle: Advisory\n---\n\nBody.\n"),
		"source/security.xml": []byte("<feed/>\n"),
		"config.rb":           []byte("# replaced\n"),
	}, f.author, "DEMO-SA-2026-001: Out-of-bounds read")
	if err != nil {
		t.Fatal(err)
	}
	if f.tip() != before {
		t.Fatal("committing changed the remote")
	}
	if err := c.Push(ctx, commit); err != nil {
		t.Fatal(err)
	}
	if f.tip() != commit {
		t.Fatalf("remote at %s, want %s", f.tip(), commit)
	}
	remote, ok, err := c.RemoteTip(ctx)
	if err != nil || !ok || remote != commit {
		t.Fatalf("RemoteTip = %s %v %v, want %s", remote, ok, err, commit)
	}
	for path, want := range map[string]string{
		postPath:                               "---\ntitle: Advisory\n---\n\nBody.\n",
		"source/security.xml":                  "<feed/>\n",
		"config.rb":                            "# replaced\n",
		"source/blog/2026-01-10-hello.html.md": "The blog is open.",
		"Gemfile":                              "middleman-blog",
		"source/index.html.erb":                "<h1>Blog</h1>",
	} {
		if got, ok := f.file(commit, path); !ok || !strings.Contains(got, want) {
			t.Errorf("%s at the pushed commit = %q (present %v), want %q", path, got, ok, want)
		}
	}
	repo, _ := git.PlainOpen(f.blog.Repo)
	cm, err := repo.CommitObject(commit)
	if err != nil {
		t.Fatal(err)
	}
	if len(cm.ParentHashes) != 1 || cm.ParentHashes[0] != before {
		t.Errorf("parents %v, want [%s]", cm.ParentHashes, before)
	}
	if cm.Author.Email != "jane@example.org" || cm.Committer.Name != "Jane Doe" || !cm.Committer.When.Equal(f.author.When) {
		t.Errorf("author %v committer %v", cm.Author, cm.Committer)
	}
	if cm.Message != "DEMO-SA-2026-001: Out-of-bounds read\n" {
		t.Errorf("message %q", cm.Message)
	}
	// git itself finds the pushed repository sound.
	if out, err := exec.Command("git", "-C", f.blog.Repo, "fsck", "--strict").CombinedOutput(); err != nil {
		t.Fatalf("git fsck: %v\n%s", err, out)
	}
}

func TestPushWithoutTheTokenIsRefused(t *testing.T) {
	ctx := context.Background()
	f := newForge(t)
	before := f.tip()
	c := f.open(filepath.Join(t.TempDir(), "blog"), false)
	tip, err := c.Fetch(ctx) // reading stays anonymous
	if err != nil {
		t.Fatal(err)
	}
	commit, err := c.Commit(tip, map[string][]byte{postPath: []byte("post\n")}, f.author, "post")
	if err != nil {
		t.Fatal(err)
	}
	err = c.Push(ctx, commit)
	if err == nil {
		t.Fatal("push without the token succeeded")
	}
	if errors.Is(err, ErrNonFastForward) {
		t.Errorf("a refused credential reads as a moved branch: %v", err)
	}
	if f.tip() != before {
		t.Error("the remote moved")
	}
}

// Someone pushes between the fetch and the push: the push is refused as a
// non-fast-forward, the remote keeps their commit, and a second round on
// the new tip publishes on top of it.
func TestRemoteMovedBetweenFetchAndPush(t *testing.T) {
	ctx := context.Background()
	f := newForge(t)
	c := f.open(filepath.Join(t.TempDir(), "blog"), true)
	tip, err := c.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	commit, err := c.Commit(tip, map[string][]byte{postPath: []byte("post\n")}, f.author, "post")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := world.CommitFile(f.blog.Repo, f.blog.Branch, "source/blog/2026-11-30-news.html.md", "---\ntitle: News\n---\n", "News")
	if err != nil {
		t.Fatal(err)
	}
	pushesBefore := f.posts()
	err = c.Push(ctx, commit)
	if !errors.Is(err, ErrNonFastForward) {
		t.Fatalf("push over a moved branch: %v, want ErrNonFastForward", err)
	}
	if f.tip().String() != theirs {
		t.Fatalf("remote at %s, want their commit %s kept", f.tip(), theirs)
	}
	if f.posts() != pushesBefore {
		t.Errorf("a push known to be refused still sent %d pack(s)", f.posts()-pushesBefore)
	}

	tip2, err := c.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tip2.String() != theirs {
		t.Fatalf("fetched %s, want %s", tip2, theirs)
	}
	commit2, err := c.Commit(tip2, map[string][]byte{postPath: []byte("post\n")}, f.author, "post")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Push(ctx, commit2); err != nil {
		t.Fatal(err)
	}
	if f.tip() != commit2 {
		t.Fatalf("remote at %s, want %s", f.tip(), commit2)
	}
	if _, ok := f.file(commit2, "source/blog/2026-11-30-news.html.md"); !ok {
		t.Error("their post is gone")
	}
	if in, err := c.IsAncestor(plumbing.NewHash(theirs), commit2); err != nil || !in {
		t.Errorf("their commit is not under ours: %v %v", in, err)
	}
}

// The branch moves after the server advertised it and before it updates
// it (a push landing in the same instant): the server refuses the update,
// and that too reads as a moved branch.
func TestRemoteMovedDuringThePush(t *testing.T) {
	ctx := context.Background()
	f := newForge(t)
	base := f.tip()
	theirs, err := world.CommitFile(f.blog.Repo, f.blog.Branch, "source/blog/2026-11-30-news.html.md", "news\n", "News")
	if err != nil {
		t.Fatal(err)
	}
	// Put the branch back: their commit exists on the server, and the
	// hook below moves the branch to it while our push is being received.
	if out, err := exec.Command("git", "-C", f.blog.Repo, "update-ref", "refs/heads/"+f.blog.Branch, base.String()).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	hook := filepath.Join(f.blog.Repo, "hooks", "pre-receive")
	script := "#!/bin/sh\ncat >/dev/null\nrm -f \"$0\"\nenv -u GIT_QUARANTINE_PATH git update-ref refs/heads/" + f.blog.Branch + " " + theirs + "\n"
	if err := os.MkdirAll(filepath.Dir(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	c := f.open(filepath.Join(t.TempDir(), "blog"), true)
	tip, err := c.Fetch(ctx)
	if err != nil || tip != base {
		t.Fatalf("fetch: %s %v", tip, err)
	}
	commit, err := c.Commit(tip, map[string][]byte{postPath: []byte("post\n")}, f.author, "post")
	if err != nil {
		t.Fatal(err)
	}
	err = c.Push(ctx, commit)
	if !errors.Is(err, ErrNonFastForward) {
		t.Fatalf("push while the branch moved: %v, want ErrNonFastForward", err)
	}
	if f.posts() != 1 {
		t.Fatalf("want the one push the server refused, saw %d", f.posts())
	}
	if f.tip().String() != theirs {
		t.Fatalf("remote at %s, want their %s", f.tip(), theirs)
	}
}

// A commit that does not descend from the remote tip is never forced over
// it, even when the clone has every object.
func TestPushIsNeverForced(t *testing.T) {
	ctx := context.Background()
	f := newForge(t)
	c := f.open(filepath.Join(t.TempDir(), "blog"), true)
	base, err := c.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.Commit(base, map[string][]byte{"a.md": []byte("a\n")}, f.author, "a")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Push(ctx, first); err != nil {
		t.Fatal(err)
	}
	sibling, err := c.Commit(base, map[string][]byte{"b.md": []byte("b\n")}, f.author, "b")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Push(ctx, sibling); !errors.Is(err, ErrNonFastForward) {
		t.Fatalf("push of a sibling: %v, want ErrNonFastForward", err)
	}
	if f.tip() != first {
		t.Fatal("the remote was rewritten")
	}
	// Pushing what is already there is a no-op.
	if err := c.Push(ctx, first); err != nil {
		t.Fatalf("re-push of the tip: %v", err)
	}
}

// The clone is reused run after run, and rebuilt when it is damaged.
func TestCloneIsReusedAndRebuiltWhenBroken(t *testing.T) {
	ctx := context.Background()
	f := newForge(t)
	dir := filepath.Join(t.TempDir(), "blog")
	c := f.open(dir, true)
	if _, err := c.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	moved, err := world.CommitFile(f.blog.Repo, f.blog.Branch, "x.md", "x\n", "x")
	if err != nil {
		t.Fatal(err)
	}
	again := f.open(dir, true)
	if tip, ok := again.Tip(); !ok || tip == plumbing.NewHash(moved) {
		t.Fatalf("reopened clone: tip %s %v, want the earlier fetch", tip, ok)
	}
	tip, err := again.Fetch(ctx)
	if err != nil || tip.String() != moved {
		t.Fatalf("fetch on reuse: %s %v, want %s", tip, err, moved)
	}

	// Damage: HEAD unreadable. The clone is a cache and starts afresh.
	if err := os.WriteFile(filepath.Join(dir, "HEAD"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := f.open(dir, true)
	if tip, err := fresh.Fetch(ctx); err != nil || tip.String() != moved {
		t.Fatalf("fetch into a rebuilt clone: %s %v", tip, err)
	}
}

func TestMissingBranchIsNamed(t *testing.T) {
	f := newForge(t)
	c, err := Open(filepath.Join(t.TempDir(), "blog"), f.url, "gh-pages", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(context.Background()); !errors.Is(err, ErrNoBranch) || !strings.Contains(err.Error(), "gh-pages") {
		t.Fatalf("fetch of a missing branch: %v", err)
	}
}

func TestCommitRefusesBadPaths(t *testing.T) {
	ctx := context.Background()
	f := newForge(t)
	c := f.open(filepath.Join(t.TempDir(), "blog"), true)
	tip, err := c.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "/etc/passwd", "../x", "a/../../x", ".git/config", "a//b", "./a", "source"} {
		if _, err := c.Commit(tip, map[string][]byte{p: []byte("x")}, f.author, "x"); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
	// A file where the blog has a directory, or under a file.
	if _, err := c.Commit(tip, map[string][]byte{"config.rb/x": []byte("x")}, f.author, "x"); err == nil {
		t.Error("a path under a file accepted")
	}
}
