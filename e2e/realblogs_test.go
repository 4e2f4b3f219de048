package e2e

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"

	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/sandbox/world"
)

// Releases whose blog is a copy of a real one (testdata/blogs, see its
// README): check follows each site's conventions, blocks only what breaks
// its build or hides the post, and builds it with its own generator where
// this machine has it.

// realBlog is the copy of a real blog under testdata/blogs/name as the
// blog repository dir/blog.git, its post at postPath and URL postURL.
func realBlog(t *testing.T, dir, name, style, postPath, postURL, feed string) *world.Blog {
	t.Helper()
	files, err := world.ReadSite(filepath.Join("..", "testdata", "blogs", name))
	if err != nil {
		t.Fatal(err)
	}
	b, err := world.BuildSiteBlog(dir, style, hugoAuthor, files, postPath, postURL, feed)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// blogFile is a file of the blog branch's tip.
func blogFile(t *testing.T, b *world.Blog, name string) (string, bool) {
	t.Helper()
	repo, err := git.PlainOpen(b.Repo)
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.CommitObject(blogTip(t, b))
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.File(name)
	if err != nil {
		return "", false
	}
	s, err := f.Contents()
	if err != nil {
		t.Fatal(err)
	}
	return s, true
}

// rendered is the post `embargo render` writes.
func (rl *release) rendered(post string) string {
	rl.t.Helper()
	dir := filepath.Join(rl.t.TempDir(), "rendered")
	if res := rl.run([]string{"render", "-o", dir}); res.code != 0 {
		rl.t.Fatalf("render: %s", res)
	}
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(post)))
	if err != nil {
		rl.t.Fatalf("render wrote no %s: %v", post, err)
	}
	return string(b)
}

// front is a post's front matter, fences included.
func front(post string) string {
	end := strings.Index(post[4:], "\n---\n")
	if !strings.HasPrefix(post, "---\n") || end < 0 {
		return post
	}
	return post[:4+end+5]
}

// async.rs writes tags as a comma string (tags: release,announcement):
// the default post takes that shape, and with the author async.rs lists
// check is ready, where it used to refuse every release over the tags'
// shape. The handler as author, whom its data/authors.yaml lacks, breaks
// its article partial: that, and only that, blocks. At T0 the post
// checked is the post published.
func TestCheckFollowsAsyncRSAndBlocksOnlyAnAuthorItLacks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// async.rs serves an article at /blog/<slug>/; so does world.Site.
	site := httptest.NewServer(world.Site(filepath.Join(dir, "blog.git"), "master"))
	t.Cleanup(site.Close)
	blog := realBlog(t, dir, "async.rs", "middleman", "source/blog/{{.Date}}-{{.Slug}}.html.md", site.URL+"/blog/{{.Slug}}/", "source/security.xml")
	t0 := time.Now().Add(-time.Second).Truncate(time.Second)
	rl := buildRelease(t, t0, &registry.Options{}, blog)
	post := "source/blog/" + t0.UTC().Format(time.DateOnly) + "-" + advisorySlug + ".html.md"
	before := blogTip(t, blog)

	res := rl.run([]string{"check"})
	if res.code != 1 {
		t.Fatalf("check with an author async.rs lacks: want exit 1, got %s", res)
	}
	expectOutput(t, res.stdout+res.stderr,
		"1 problem:",
		`blog data/authors.yaml: the post's author "Jane Doe" is not in the site's author registry, which source/blog/_article.slim look authors up in`,
		`set blog.author to one of "Stjepan Glavina", "Florian Gilcher", "The async-std developers"`)

	rl.appendConfig(t, `author = "The async-std developers"`)
	res = rl.run([]string{"check"})
	if res.code != 0 {
		t.Fatalf("check with an author async.rs lists: %s", res)
	}
	expectOutput(t, res.stdout+res.stderr, "conventions: master at", "tags as a string, dated by day, published: true")
	if strings.Contains(res.stdout+res.stderr, "!! preflight: blog") {
		t.Errorf("check warns of the post on async.rs:\n%s", res.stdout+res.stderr)
	}
	rendered := rl.rendered(post)
	want := "---\ntitle: \"" + advisoryTitle + "\"\ndate: " + t0.UTC().Format(time.DateOnly) + "\ntags: security\nauthor: \"The async-std developers\"\npublished: true\n---\n"
	if got := front(rendered); got != want {
		t.Errorf("the post's front matter:\n%s\nwant, as async.rs writes its posts:\n%s", got, want)
	}
	if got := blogTip(t, blog); got != before {
		t.Errorf("check moved the blog from %s to %s", before, got)
	}

	if res = rl.run([]string{"run"}); res.code != 0 {
		t.Fatalf("run: %s", res)
	}
	if got, ok := blogFile(t, blog, post); !ok || got != rendered {
		t.Errorf("the blog holds\n%s\nwant the post check rendered:\n%s", got, rendered)
	}
}

// TiKV's hugo site, built by hugo itself before T0 with the post: it
// builds (in a git work tree: the site reads its history), the post's page
// is in public/ at blog.url's path, and the post is dated by day with
// its tags quoted as TiKV's posts are.
func TestCheckBuildsARealHugoSiteWithThePost(t *testing.T) {
	t.Parallel()
	requireTool(t, "hugo")
	requireTool(t, "git")
	blog := realBlog(t, t.TempDir(), "tikv", "hugo", "content/blog/{{.Slug}}.md", "https://tikv.org/blog/{{.Slug}}/", "static/security.xml")
	blog.Build = "hugo --quiet"
	t0 := time.Now().Add(time.Hour).Truncate(time.Second)
	rl := buildRelease(t, t0, &registry.Options{}, blog)

	res := rl.run([]string{"check"})
	if res.code != 0 {
		t.Fatalf("check: %s", res)
	}
	expectOutput(t, res.stdout+res.stderr, "site build: hugo --quiet passed", "tags as a list, dated by day")
	want := "---\ntitle: \"" + advisoryTitle + "\"\ndate: " + t0.UTC().Format(time.DateOnly) + "\ntags: ['security']\nauthor: Jane Doe\n---\n"
	if got := front(rl.rendered("content/blog/" + advisorySlug + ".md")); got != want {
		t.Errorf("the post's front matter:\n%s\nwant, as TiKV writes its posts:\n%s", got, want)
	}
}

// The GCC Rust front-end's jekyll site, built by Debian's jekyll before T0
// with the post: it builds, the post's page is at blog.url's path under
// _site/, and the post is written as the site's posts are (layout: post,
// tags a line each, no date but where the file name's would be after T0).
func TestCheckBuildsARealJekyllSiteWithThePost(t *testing.T) {
	t.Parallel()
	requireTool(t, "jekyll")
	t0 := time.Now().Add(time.Hour).Truncate(time.Second)
	// jekyll's default permalink: /:year/:month/:day/:title.html
	url := "https://rust-gcc.github.io/" + t0.UTC().Format("2006/01/02") + "/{{.Slug}}.html"
	blog := realBlog(t, t.TempDir(), "gccrs", "jekyll", "_posts/{{.Date}}-{{.Slug}}.md", url, "feed-security.xml")
	// The post is dated T0, an hour ahead: --future builds it now.
	blog.Build = "jekyll build --future --quiet"
	rl := buildRelease(t, t0, &registry.Options{}, blog)

	res := rl.run([]string{"check"})
	if res.code != 0 {
		t.Fatalf("check: %s", res)
	}
	expectOutput(t, res.stdout+res.stderr, "site build: jekyll build --future --quiet passed", "tags as a list")
	got := front(rl.rendered("_posts/" + t0.UTC().Format(time.DateOnly) + "-" + advisorySlug + ".md"))
	if !strings.HasPrefix(got, "---\nlayout: post\ntitle: \""+advisoryTitle+"\"\n") || !strings.Contains(got, "\ntags:\n  - security\nauthor: Jane Doe\n") {
		t.Errorf("the post's front matter does not follow the site's posts:\n%s", got)
	}
}
