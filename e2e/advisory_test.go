package e2e

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/async-rs/embargo/sandbox/world"
)

// The blog push credential, read from its own variable: the blog is served
// by the same token-protected server as the public repository.
const blogTokenEnv = "EMBARGO_BLOG_TOKEN"

// The demo advisory as the blog shows it.
const (
	advisoryID    = "DEMO-SA-2026-001"
	advisoryTitle = "Panic on an out-of-range window in demo_core::window"
	advisorySlug  = "panic-on-an-out-of-range-window-in-demo-core-window"
	blogFeed      = "source/security.xml"
	blogBranch    = "master"
)

// servedBlog is a release whose blog is pushed to over smart HTTP with a
// token, like the public repository.
type servedBlog struct {
	*release
	repo string        // the blog's bare repository, as the server holds it
	base plumbing.Hash // the blog tip before the release
	post string        // where the post goes
}

func newServedBlogRelease(t *testing.T, t0 time.Time) *servedBlog {
	t.Helper()
	rl := newRelease(t, t0)
	repo := filepath.Join(rl.dir, "blog.git")
	cfg, err := os.ReadFile(rl.config)
	if err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf("%q", repo)
	if strings.Count(string(cfg), local) != 1 {
		t.Fatalf("the demo config does not name the blog %s once:\n%s", repo, cfg)
	}
	served := fmt.Sprintf("%q\ntoken_env = %q", rl.server.RepoURL("blog.git"), blogTokenEnv)
	if err := os.WriteFile(rl.config, []byte(strings.Replace(string(cfg), local, served, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	bl := &servedBlog{release: rl, repo: repo,
		post: "source/blog/" + t0.UTC().Format(time.DateOnly) + "-" + advisorySlug + ".html.md"}
	bl.base = bl.tip()
	return bl
}

// run runs embargo with every token set, the blog's included.
func (bl *servedBlog) run(args []string, env ...string) result {
	bl.t.Helper()
	return bl.release.run(args, append([]string{blogTokenEnv + "=" + token}, env...)...)
}

func (bl *servedBlog) open() *git.Repository {
	bl.t.Helper()
	repo, err := git.PlainOpen(bl.repo)
	if err != nil {
		bl.t.Fatal(err)
	}
	return repo
}

func (bl *servedBlog) tip() plumbing.Hash {
	bl.t.Helper()
	return refHash(bl.t, bl.repo, plumbing.NewBranchReferenceName(blogBranch))
}

// file reads a file of the blog at commit; "" and false when absent.
func (bl *servedBlog) file(commit plumbing.Hash, path string) (string, bool) {
	bl.t.Helper()
	c, err := bl.open().CommitObject(commit)
	if err != nil {
		bl.t.Fatal(err)
	}
	f, err := c.File(path)
	if err != nil {
		return "", false
	}
	s, err := f.Contents()
	if err != nil {
		bl.t.Fatal(err)
	}
	return s, true
}

// advisoryCommits are the commits on the blog branch since stop whose
// message names the advisory, newest first.
func (bl *servedBlog) advisoryCommits(stop plumbing.Hash) []*object.Commit {
	bl.t.Helper()
	repo := bl.open()
	var out []*object.Commit
	h := bl.tip()
	for h != stop && !h.IsZero() {
		c, err := repo.CommitObject(h)
		if err != nil {
			bl.t.Fatal(err)
		}
		if strings.HasPrefix(c.Message, advisoryID+":") {
			out = append(out, c)
		}
		if len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	return out
}

// blogPushes counts the pack uploads the server received for the blog.
func (bl *servedBlog) blogPushes() int {
	n := 0
	for _, r := range bl.server.Pushes() {
		if strings.Contains(r.Path, "/blog.git/") {
			n++
		}
	}
	return n
}

// rendered is the post as `embargo render` writes it.
func (bl *servedBlog) rendered() string {
	bl.t.Helper()
	dir := filepath.Join(bl.t.TempDir(), "rendered")
	if res := bl.run([]string{"render", "-o", dir}); res.code != 0 {
		bl.t.Fatalf("render: %s", res)
	}
	b, err := os.ReadFile(filepath.Join(dir, bl.post))
	if err != nil {
		bl.t.Fatalf("render wrote no %s: %v", bl.post, err)
	}
	return string(b)
}

type atomEntry struct {
	ID    string `xml:"id"`
	Title string `xml:"title"`
}

// feedEntries reads the Atom feed of the blog at commit.
func (bl *servedBlog) feedEntries(commit plumbing.Hash) []atomEntry {
	bl.t.Helper()
	s, ok := bl.file(commit, blogFeed)
	if !ok {
		bl.t.Fatalf("no %s at %s", blogFeed, commit)
	}
	var f struct {
		XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
		Entries []atomEntry `xml:"entry"`
	}
	if err := xml.Unmarshal([]byte(s), &f); err != nil {
		bl.t.Fatalf("%s is not Atom: %v\n%s", blogFeed, err, s)
	}
	return f.Entries
}

// assertPublishedOnce checks the blog holds exactly one advisory commit,
// with the rendered post and its feed entry, and that it is the tip.
func (bl *servedBlog) assertPublishedOnce(stop plumbing.Hash) *object.Commit {
	bl.t.Helper()
	commits := bl.advisoryCommits(stop)
	if len(commits) != 1 {
		bl.t.Fatalf("want exactly one advisory commit on the blog, found %d", len(commits))
	}
	c := commits[0]
	if c.Hash != bl.tip() {
		bl.t.Errorf("the advisory commit %s is not the blog tip %s", c.Hash, bl.tip())
	}
	if _, ok := bl.file(c.Hash, bl.post); !ok {
		bl.t.Errorf("no post at %s", bl.post)
	}
	n := 0
	for _, e := range bl.feedEntries(c.Hash) {
		if e.ID == bl.postURL() {
			n++
		}
	}
	if n != 1 {
		bl.t.Errorf("the feed has %d entries for %s, want 1", n, bl.postURL())
	}
	return c
}

// The release at T0: the post lands at the expanded path with middleman
// front matter, the feed gets its entry, the earlier post stays; a re-run,
// with or without the state directory, changes nothing.
func TestRunPublishesTheAdvisoryOnTheBlogOnce(t *testing.T) {
	t.Parallel()
	t0 := time.Now().Add(-time.Second).Truncate(time.Second)
	bl := newServedBlogRelease(t, t0)

	res := bl.run([]string{"run"})
	if res.code != 0 {
		t.Fatalf("run: %s", res)
	}
	c := bl.assertPublishedOnce(bl.base)
	if len(c.ParentHashes) != 1 || c.ParentHashes[0] != bl.base {
		t.Errorf("the advisory commit's parents are %v, want the blog tip %s", c.ParentHashes, bl.base)
	}
	if want := advisoryID + ": " + advisoryTitle + "\n"; !strings.HasPrefix(c.Message, want) {
		t.Errorf("commit message %q does not start with %q", c.Message, want)
	}
	for _, sig := range []object.Signature{c.Author, c.Committer} {
		if sig.Name != "Jane Doe" || sig.Email != "jane@example.org" {
			t.Errorf("commit by %s <%s>, want the handler", sig.Name, sig.Email)
		}
		if sig.When.Before(t0) || sig.When.After(time.Now()) {
			t.Errorf("commit time %s is not the time of the run", sig.When)
		}
	}

	post, _ := bl.file(c.Hash, bl.post)
	front, body, ok := strings.Cut(strings.TrimPrefix(post, "---\n"), "\n---\n")
	if !strings.HasPrefix(post, "---\n") || !ok {
		t.Fatalf("the post has no front matter:\n%s", post)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(front, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	fileDate := strings.TrimPrefix(bl.post, "source/blog/")[:len(time.DateOnly)]
	if fields["title"] != advisoryTitle || fields["date"] != fileDate || fields["author"] != "Jane Doe" || !strings.Contains(fields["tags"], "security") {
		t.Errorf("front matter %v: want title %q, date %s (the file name's), author Jane Doe, tag security", fields, advisoryTitle, fileDate)
	}
	if !strings.Contains(body, "demo_core::window(buf, start, len)") {
		t.Errorf("the post body lacks the description:\n%s", body)
	}
	if want := bl.rendered(); post != want {
		t.Errorf("the post differs from `embargo render`:\n--- blog\n%s\n--- render\n%s", post, want)
	}
	if hello, ok := bl.file(c.Hash, "source/blog/2026-01-10-hello.html.md"); !ok || !strings.Contains(hello, "The blog is open.") {
		t.Error("the earlier post is gone")
	}
	var entry atomEntry
	for _, e := range bl.feedEntries(c.Hash) {
		if e.ID == bl.postURL() {
			entry = e
		}
	}
	if entry.Title != advisoryTitle {
		t.Errorf("feed entry %+v, want the title %q", entry, advisoryTitle)
	}
	if !strings.Contains(res.stdout, "pushed ") {
		t.Errorf("output does not say the advisory was pushed:\n%s", res.stdout)
	}
	pushes := bl.blogPushes()
	if pushes != 1 {
		t.Errorf("the blog received %d pushes, want 1", pushes)
	}

	tip := bl.tip()
	again := bl.run([]string{"run"})
	if again.code != 0 {
		t.Fatalf("re-run: %s", again)
	}
	if bl.tip() != tip || bl.blogPushes() != pushes {
		t.Errorf("re-run changed the blog: tip %s (was %s), %d pushes (were %d)", bl.tip(), tip, bl.blogPushes(), pushes)
	}
	if !strings.Contains(again.stdout, "already published") {
		t.Errorf("re-run does not say the post is already published:\n%s", again.stdout)
	}

	// A machine that never saw the release finds the blog done too.
	if err := os.RemoveAll(filepath.Join(bl.dir, ".embargo")); err != nil {
		t.Fatal(err)
	}
	fresh := bl.run([]string{"run", "--only", "advisory"})
	if fresh.code != 0 || bl.tip() != tip || bl.blogPushes() != pushes {
		t.Fatalf("on fresh state: tip %s (was %s), %d pushes: %s", bl.tip(), tip, bl.blogPushes(), fresh)
	}
	bl.assertNoSecret(res.stdout, res.stderr, again.stdout, again.stderr, fresh.stdout, fresh.stderr)
}

// Run alone before T0, the stage refuses to push, and the blog server sees
// no push at all.
func TestAdvisoryAloneBeforeT0IsRefused(t *testing.T) {
	t.Parallel()
	bl := newServedBlogRelease(t, time.Now().Add(time.Hour))
	res := bl.run([]string{"run", "--only", "advisory"})
	if res.code != 1 {
		t.Fatalf("want exit 1, got %s", res)
	}
	if !strings.Contains(res.stdout+res.stderr, "before T0") {
		t.Errorf("the refusal does not say why:\n%s", res)
	}
	if bl.tip() != bl.base {
		t.Error("the blog moved")
	}
	if n := len(bl.server.ReceivePacks()); n != 0 {
		t.Errorf("the server saw %d receive-pack requests", n)
	}
}

// A post with other content at the path stops the stage, naming the file;
// --force replaces it, and a later run leaves it alone.
func TestOtherPostAtThePathNeedsForce(t *testing.T) {
	t.Parallel()
	bl := newServedBlogRelease(t, time.Now().Add(-time.Second).Truncate(time.Second))
	draft, err := world.CommitFile(bl.repo, blogBranch, bl.post, "---\ntitle: Draft\n---\n\nSomeone's draft.\n", "Draft of the advisory")
	if err != nil {
		t.Fatal(err)
	}
	res := bl.run([]string{"run"})
	if res.code != 1 {
		t.Fatalf("want exit 1 over a post with other content, got %s", res)
	}
	out := res.stdout + res.stderr
	for _, want := range []string{bl.post, "--force"} {
		if !strings.Contains(out, want) {
			t.Errorf("the error does not name %q:\n%s", want, out)
		}
	}
	if bl.tip().String() != draft {
		t.Fatal("the blog moved")
	}
	if n := bl.blogPushes(); n != 0 {
		t.Errorf("the blog received %d pushes", n)
	}

	// Preflight already names the conflict; the operator re-runs with
	// --force once they have compared the two.
	forced := bl.run([]string{"run", "--force"})
	if forced.code != 0 {
		t.Fatalf("--force: %s", forced)
	}
	c := bl.assertPublishedOnce(plumbing.NewHash(draft))
	if c.ParentHashes[0].String() != draft {
		t.Errorf("the replacement is not on top of the draft")
	}
	if post, _ := bl.file(c.Hash, bl.post); post != bl.rendered() {
		t.Errorf("the post was not replaced by the rendered one:\n%s", post)
	}

	tip := bl.tip()
	if again := bl.run([]string{"run"}); again.code != 0 || bl.tip() != tip {
		t.Fatalf("run after --force: tip %s (was %s): %s", bl.tip(), tip, again)
	}
}

// Someone pushes to the blog after the checks and before the advisory
// stage (while the run waits for T0, say): the post goes on top and their
// commit stays.
func TestBlogMovedBeforeTheAdvisoryIsKept(t *testing.T) {
	t.Parallel()
	bl := newServedBlogRelease(t, time.Now().Add(-time.Second).Truncate(time.Second))
	if res := bl.run([]string{"run", "--only", "preflight"}); res.code != 0 {
		t.Fatalf("preflight: %s", res)
	}
	if _, err := world.CommitFile(bl.repo, blogBranch, blogFeed, olderFeed, "Security feed"); err != nil {
		t.Fatal(err)
	}
	theirs, err := world.CommitFile(bl.repo, blogBranch, "source/blog/2026-11-30-news.html.md", "---\ntitle: News\n---\n\nNews.\n", "News")
	if err != nil {
		t.Fatal(err)
	}
	if res := bl.run([]string{"run", "--from", "gate"}); res.code != 0 {
		t.Fatalf("run --from gate: %s", res)
	}
	c := bl.assertPublishedOnce(bl.base)
	if c.ParentHashes[0].String() != theirs {
		t.Errorf("the advisory commit's parent is %s, want their commit %s", c.ParentHashes[0], theirs)
	}
	if _, ok := bl.file(c.Hash, "source/blog/2026-11-30-news.html.md"); !ok {
		t.Error("their post is gone")
	}
	entries := bl.feedEntries(c.Hash)
	if len(entries) != 2 || entries[0].ID != bl.postURL() || entries[1].ID != olderEntry {
		t.Errorf("feed entries %+v: want the advisory's, then the older one kept", entries)
	}
}

// An Atom feed the blog already has, with an earlier advisory.
const (
	olderEntry = "https://blog.example.org/blog/an-older-advisory/"
	olderFeed  = `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>demo-core security advisories</title>
  <id>https://blog.example.org/</id>
  <updated>2026-03-01T10:00:00Z</updated>
  <entry>
    <title>An older advisory</title>
    <id>` + olderEntry + `</id>
    <updated>2026-03-01T10:00:00Z</updated>
    <author><name>Jane Doe</name></author>
    <link href="` + olderEntry + `" rel="alternate"></link>
  </entry>
</feed>
`
)

// The description edited after the checks: the post published is the one
// rendered now, and the operator is told it is not the one checked.
func TestAdvisoryEditedAfterPreflightIsPublishedWithAWarning(t *testing.T) {
	t.Parallel()
	bl := newServedBlogRelease(t, time.Now().Add(-time.Second).Truncate(time.Second))
	if res := bl.run([]string{"run", "--only", "preflight"}); res.code != 0 {
		t.Fatalf("preflight: %s", res)
	}
	desc := filepath.Join(bl.dir, "advisory.md")
	b, err := os.ReadFile(desc)
	if err != nil {
		t.Fatal(err)
	}
	const late = "A late correction to the advisory."
	if err := os.WriteFile(desc, append(b, "\n"+late+"\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	res := bl.run([]string{"run", "--from", "gate"})
	if res.code != 0 {
		t.Fatalf("run --from gate: %s", res)
	}
	if !strings.Contains(res.stdout, "renders differently than at preflight") {
		t.Errorf("no warning that the post changed since preflight:\n%s", res.stdout)
	}
	c := bl.assertPublishedOnce(bl.base)
	if post, _ := bl.file(c.Hash, bl.post); !strings.Contains(post, late) {
		t.Errorf("the post is not the one rendered now:\n%s", post)
	}
}

// Someone's push lands while the advisory's is in flight (a server hook
// moves the branch between the ref advertisement and the update): the
// push is refused, and the stage fetches, commits again on top and pushes.
func TestBlogPushRacingAnotherPushLandsOnTop(t *testing.T) {
	bl := newServedBlogRelease(t, time.Now().Add(-time.Second).Truncate(time.Second))
	theirs, err := world.CommitFile(bl.repo, blogBranch, "source/blog/2026-11-30-news.html.md", "---\ntitle: News\n---\n\nNews.\n", "News")
	if err != nil {
		t.Fatal(err)
	}
	gitCmd(t, bl.repo, "update-ref", "refs/heads/"+blogBranch, bl.base.String())
	hook := filepath.Join(bl.repo, "hooks", "pre-receive")
	script := "#!/bin/sh\ncat >/dev/null\nrm -f \"$0\"\nenv -u GIT_QUARANTINE_PATH git update-ref refs/heads/" + blogBranch + " " + theirs + "\n"
	if err := os.MkdirAll(filepath.Dir(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	res := bl.run([]string{"run"})
	if res.code != 0 {
		t.Fatalf("run: %s", res)
	}
	if !strings.Contains(res.stdout+res.stderr, "moved since it was fetched") {
		t.Errorf("the output does not say the blog moved:\n%s", res)
	}
	c := bl.assertPublishedOnce(bl.base)
	if c.ParentHashes[0].String() != theirs {
		t.Errorf("the advisory commit's parent is %s, want their commit %s", c.ParentHashes[0], theirs)
	}
	if n := bl.blogPushes(); n != 2 {
		t.Errorf("the blog received %d pushes, want the refused one and the one on top", n)
	}
}

// A blog that moves under every push: the stage gives up after a bounded
// number of rounds, says so, and has written nothing.
func TestBlogThatKeepsMovingGivesUpWithAClearError(t *testing.T) {
	bl := newServedBlogRelease(t, time.Now().Add(-time.Second).Truncate(time.Second))
	// Every push is beaten by another one landing first.
	script := `#!/bin/sh
cat >/dev/null
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
export GIT_AUTHOR_NAME=busy GIT_AUTHOR_EMAIL=busy@example.org GIT_COMMITTER_NAME=busy GIT_COMMITTER_EMAIL=busy@example.org
tip=$(git rev-parse refs/heads/` + blogBranch + `)
c=$(echo "busy" | git commit-tree "$tip^{tree}" -p "$tip")
git update-ref refs/heads/` + blogBranch + ` "$c" "$tip"
`
	hook := filepath.Join(bl.repo, "hooks", "pre-receive")
	if err := os.MkdirAll(filepath.Dir(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	res := bl.run([]string{"run", "--only", "advisory"})
	if res.code != 1 {
		t.Fatalf("want exit 1, got %s", res)
	}
	if !strings.Contains(res.stdout+res.stderr, "after 5 attempts") {
		t.Errorf("the error does not say it gave up:\n%s", res)
	}
	if n := bl.blogPushes(); n != 5 {
		t.Errorf("the blog received %d pushes, want 5", n)
	}
	if n := len(bl.advisoryCommits(bl.base)); n != 0 {
		t.Errorf("%d advisory commits on the blog", n)
	}
}

// kill -9 at any point of the stage, then a re-run: exactly one advisory
// commit on the blog.
func TestKill9DuringTheAdvisoryThenRerunPublishesOnce(t *testing.T) {
	t.Parallel()
	points := []string{
		"advisory.clone.ran", "advisory.write.ran", "advisory.push.before",
		"advisory.push.after", "advisory.push.ran", "advisory.verify.started",
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			bl := newServedBlogRelease(t, time.Now().Add(-time.Second).Truncate(time.Second))
			crash := bl.run([]string{"run"}, "EMBARGO_TEST_KILL_AT="+point)
			if !crash.killed {
				t.Fatalf("expected a kill at %s: %s", point, crash)
			}
			res := bl.run([]string{"run"})
			if res.code != 0 {
				t.Fatalf("re-run after a kill at %s: %s", point, res)
			}
			bl.assertPublishedOnce(bl.base)
			if n := bl.blogPushes(); n != 1 {
				t.Errorf("the blog received %d pushes, want 1", n)
			}
		})
	}
}
