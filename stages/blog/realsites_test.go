package blog

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/async-rs/embargo/sandbox/world"
	"github.com/async-rs/embargo/templates"
)

// These tests check the default post against copies of real blogs (see
// testdata/blogs/README.md): async.rs (middleman), the GCC Rust front-end's
// (jekyll) and TiKV's (hugo).

// realSite is the copy of a real blog under testdata/blogs.
func realSite(t *testing.T, name string) *Site {
	t.Helper()
	files, err := world.ReadSite(filepath.Join("..", "..", "testdata", "blogs", name))
	if err != nil {
		t.Fatal(err)
	}
	return mapSite(files)
}

// defaultPost renders the embedded template's post for style, following
// conv, as the advisory of a release at t0.
func defaultPost(t *testing.T, style string, conv templates.Conventions, author, postPath, postURL string) Post {
	t.Helper()
	m, err := templates.NewModel(templates.Input{
		ID: "ASYNC-STD-SA-2026-001", Handler: "Jane Doe <jane@example.org>", Published: t0,
		Title: "Use-after-free in async_std::task", Package: "async-std", Description: "A use-after-free.",
		Fixes: []templates.Fix{{Line: "1.13", Version: "1.13.1"}}, BlogAuthor: author, BlogPath: postPath, BlogURL: postURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := templates.Render(m, style, conv, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return Post{Path: out.Post.Path, Content: out.Post.Content, URL: m.URL, T0: t0}
}

// learn reads the conventions of site for a post at postPath.
func learn(t *testing.T, site *Site, style, postPath string) templates.Conventions {
	t.Helper()
	conv, err := Learn(site, style, postPath)
	if err != nil {
		t.Fatal(err)
	}
	return conv
}

// frontOf is the front matter block of a post, fences included.
func frontOf(p Post) string {
	s := string(p.Content)
	end := strings.Index(s[4:], "\n---\n")
	return s[:4+end+5]
}

const (
	asyncRSPath = "source/blog/{{.Date}}-{{.Slug}}.html.md"
	asyncRSURL  = "https://async.rs/blog/{{.Slug}}/"
)

// With the author async.rs lists, the default post takes async.rs's own
// shape (tags as a comma string, quoted title and author, published: true
// as one of its posts writes it) and nothing in it blocks the release.
func TestTheDefaultPostFollowsAsyncRS(t *testing.T) {
	site := realSite(t, "async.rs")
	path := "source/blog/2026-12-01-use-after-free-in-async-std-task.html.md"
	conv := learn(t, site, "middleman", path)
	post := defaultPost(t, "middleman", conv, "The async-std developers", asyncRSPath, asyncRSURL)
	if post.Path != path {
		t.Fatalf("post path %s", post.Path)
	}
	want := "---\ntitle: \"Use-after-free in async_std::task\"\ndate: 2026-12-01\ntags: security\nauthor: \"The async-std developers\"\npublished: true\n---\n"
	if got := frontOf(post); got != want {
		t.Errorf("front matter:\n%s\nwant:\n%s", got, want)
	}
	checked, probs, err := Check(site, "middleman", post)
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != 0 {
		t.Errorf("problems %+v", probs)
	}
	if checked.AuthorsFile != "data/authors.yaml" {
		t.Errorf("author registry %q", checked.AuthorsFile)
	}

	// The templates' own front matter (tags as a list) builds on async.rs
	// too: it looks unlike its neighbours, which is only a warning.
	own := defaultPost(t, "middleman", templates.Conventions{}, "The async-std developers", asyncRSPath, asyncRSURL)
	_, probs, err = Check(site, "middleman", own)
	if err != nil {
		t.Fatal(err)
	}
	expectWarning(t, probs, path, `writes "tags" as a list`, "as a string")
}

// An author async.rs's data/authors.yaml lacks breaks its article partial
// (data.authors[article.data.author].url): that blocks, naming both.
func TestAnAuthorAsyncRSLacksBlocks(t *testing.T) {
	site := realSite(t, "async.rs")
	post := defaultPost(t, "middleman", learn(t, site, "middleman", "source/blog/2026-12-01-x.html.md"), "", asyncRSPath, asyncRSURL)
	_, probs, err := Check(site, "middleman", post)
	if err != nil {
		t.Fatal(err)
	}
	expectOne(t, probs, "data/authors.yaml", `"Jane Doe" is not in the site's author registry`, "source/blog/_article.slim", "the site's build fails",
		`set blog.author to one of "Stjepan Glavina", "Florian Gilcher", "The async-std developers"`)
}

// async.rs activates middleman-blog with options (prefix: 'blog',
// permalink: '{title}.html') and directory_indexes: a post outside
// source/blog/ is no article, and one served elsewhere than blog.url says
// is not where readers are sent.
func TestAsyncRSBlogSettingsPlaceThePost(t *testing.T) {
	site := realSite(t, "async.rs")
	conv := learn(t, site, "middleman", "source/blog/2026-12-01-x.html.md")

	post := defaultPost(t, "middleman", conv, "The async-std developers", "source/posts/{{.Date}}-{{.Slug}}.html.md", asyncRSURL)
	_, probs, _ := Check(site, "middleman", post)
	expectOne(t, probs, post.Path, "not where middleman-blog reads articles", "source/blog/{year}-{month}-{day}-{title}.html", "config.rb",
		`"source/blog/{{.Date}}-{{.Slug}}.html.md"`)

	post = defaultPost(t, "middleman", conv, "The async-std developers", asyncRSPath, "https://async.rs/blog/2026/12/01/{{.Slug}}.html")
	_, probs, _ = Check(site, "middleman", post)
	expectOne(t, probs, post.Path, "writes the post to /blog/use-after-free-in-async-std-task/", "directory_indexes")
}

// The GCC Rust front-end's jekyll blog writes layout: post, a quoted
// title, tags one per line and no date (its posts are dated by their
// file names): the default post does the same, and builds.
func TestTheDefaultPostFollowsAJekyllSite(t *testing.T) {
	site := realSite(t, "gccrs")
	path := "_posts/2026-12-01-use-after-free-in-async-std-task.md"
	conv := learn(t, site, "jekyll", path)
	post := defaultPost(t, "jekyll", conv, "The async-std developers", "_posts/{{.Date}}-{{.Slug}}.md", "https://rust-gcc.github.io/2026/12/01/{{.Slug}}.html")
	want := "---\nlayout: post\ntitle: \"Use-after-free in async_std::task\"\ntags:\n  - security\nauthor: The async-std developers\n---\n"
	if got := frontOf(post); got != want {
		t.Errorf("front matter:\n%s\nwant:\n%s", got, want)
	}
	if _, probs, _ := Check(site, "jekyll", post); len(probs) != 0 {
		t.Errorf("problems %+v", probs)
	}
}

// TiKV's hugo blog dates posts by day and quotes tags in single quotes,
// and writes no summary: so does the default post.
func TestTheDefaultPostFollowsAHugoSite(t *testing.T) {
	site := realSite(t, "tikv")
	conv := learn(t, site, "hugo", "content/blog/use-after-free-in-async-std-task.md")
	post := defaultPost(t, "hugo", conv, "The async-std developers", "content/blog/{{.Slug}}.md", "https://tikv.org/blog/{{.Slug}}/")
	want := "---\ntitle: \"Use-after-free in async_std::task\"\ndate: 2026-12-01\ntags: ['security']\nauthor: The async-std developers\n---\n"
	if got := frontOf(post); got != want {
		t.Errorf("front matter:\n%s\nwant:\n%s", got, want)
	}
	if _, probs, _ := Check(site, "hugo", post); len(probs) != 0 {
		t.Errorf("problems %+v", probs)
	}
}
