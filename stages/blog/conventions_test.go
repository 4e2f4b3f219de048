package blog

import (
	"sort"
	"strings"
	"testing"
	"time"
)

// mapSite is a site from its files.
func mapSite(files map[string]string) *Site {
	s := &Site{Read: func(name string) ([]byte, bool, error) {
		c, ok := files[name]
		return []byte(c), ok, nil
	}}
	for p := range files {
		s.Paths = append(s.Paths, p)
	}
	sort.Strings(s.Paths)
	return s
}

// asyncRS is shaped like async.rs: middleman-blog under source/blog, an
// author registry its article layout looks authors up in, and posts with
// title, date, tags and author.
func asyncRS() map[string]string {
	return map[string]string{
		"config.rb":                  "activate :blog do |blog|\n  blog.prefix = \"blog\"\n  blog.permalink = \"{title}/index.html\"\nend\n",
		"data/authors.yaml":          "Stjepan Glavina:\n  url: https://github.com/stjepang\nFlorian Gilcher:\n  url: https://github.com/skade\nThe async-std developers:\n  url: https://github.com/async-rs\n",
		"source/layouts/article.erb": "<%= link_to current_article.data.author, data.authors[current_article.data.author].url %>\n",
		"source/blog/2019-11-11-announcing-async-std-1-0.html.md": "---\ntitle: Announcing async-std 1.0\ndate: 2019-11-11\ntags: [announcement, release]\nauthor: Florian Gilcher\n---\n\nText.\n",
		"source/blog/2020-01-31-async-std-1-5.html.md":            "---\ntitle: async-std 1.5\ndate: 2020-01-31\ntags: [release]\nauthor: Stjepan Glavina\n---\n\nText.\n",
		"source/blog/2019-09-01-hello.html.md":                    "---\ntitle: Hello\ndate: 2019-09-01\ntags: [Security]\nauthor: The async-std developers\n---\n\nOld.\n",
		"source/index.html.erb":                                   "<h1>async.rs</h1>\n",
	}
}

var t0 = time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)

func advisoryPost(front string) Post {
	return Post{
		Path:    "source/blog/2026-12-01-use-after-free.html.md",
		Content: []byte("---\n" + front + "---\n\nThe advisory.\n"),
		URL:     "https://async.rs/blog/use-after-free/",
		T0:      t0,
	}
}

const goodFront = "title: \"Use-after-free\"\ndate: 2026-12-01\ntags: [release]\nauthor: \"The async-std developers\"\n"

func check(t *testing.T, files map[string]string, style string, post Post) (*Checked, []Problem) {
	t.Helper()
	conv, probs, err := Check(mapSite(files), style, post)
	if err != nil {
		t.Fatal(err)
	}
	return conv, probs
}

// expectOne checks that the problems that block are exactly one, about
// file, saying every piece of says (in the message or the fix).
func expectOne(t *testing.T, probs []Problem, file string, says ...string) {
	t.Helper()
	expectOf(t, probs, false, file, says...)
}

// expectWarning checks that nothing blocks and that the warnings are
// exactly one, about file, saying every piece of says.
func expectWarning(t *testing.T, probs []Problem, file string, says ...string) {
	t.Helper()
	for _, p := range probs {
		if !p.Warning {
			t.Errorf("a problem blocks: %+v", p)
		}
	}
	expectOf(t, probs, true, file, says...)
}

func expectOf(t *testing.T, probs []Problem, warning bool, file string, says ...string) {
	t.Helper()
	var errs []Problem
	for _, p := range probs {
		if p.Warning == warning {
			errs = append(errs, p)
		}
	}
	if len(errs) != 1 {
		t.Fatalf("problems %+v, want one about %s", errs, file)
	}
	p := errs[0]
	if p.File != file {
		t.Errorf("problem names %s, want %s: %+v", p.File, file, p)
	}
	for _, s := range says {
		if !strings.Contains(p.Msg+"\n"+p.Fix, s) {
			t.Errorf("problem %+v does not say %q", p, s)
		}
	}
}

func TestAPostLikeItsNeighboursPasses(t *testing.T) {
	conv, probs := check(t, asyncRS(), "middleman", advisoryPost(goodFront))
	if len(probs) != 0 {
		t.Errorf("problems %+v", probs)
	}
	if conv.AuthorsFile != "data/authors.yaml" || len(conv.Authors) != 3 {
		t.Errorf("registry %s %q", conv.AuthorsFile, conv.Authors)
	}
	if len(conv.Neighbours) != 3 || conv.Neighbours[0] != "source/blog/2020-01-31-async-std-1-5.html.md" {
		t.Errorf("neighbours %q, want the newest first", conv.Neighbours)
	}
}

func TestAnAuthorTheRegistryLacksIsFoundNamingTheRegistry(t *testing.T) {
	_, probs := check(t, asyncRS(), "middleman", advisoryPost(strings.Replace(goodFront, "The async-std developers", "Jane Doe", 1)))
	expectOne(t, probs, "data/authors.yaml", `"Jane Doe" is not in the site's author registry`,
		`blog.author to one of "Stjepan Glavina", "Florian Gilcher", "The async-std developers"`)
}

func TestAuthorRegistriesOfEachGenerator(t *testing.T) {
	for _, c := range []struct {
		style, file, content, layout, lookup string
	}{
		{"jekyll", "_data/authors.yml", "- Ann\n- Bob\n", "_layouts/post.html", "{{ site.data.authors[page.author].url }}"},
		{"hugo", "data/authors.toml", "[Ann]\nurl = \"x\"\n[Bob]\nurl = \"y\"\n", "layouts/_default/single.html", "{{ (index .Site.Data.authors .Params.author).url }}"},
		{"middleman", "data/authors.json", `{"Ann": {}, "Bob": {}}`, "source/layouts/article.erb", "<%= data.authors[current_article.data.author].url %>"},
	} {
		files := map[string]string{c.file: c.content, c.layout: c.lookup}
		post := advisoryPost("title: x\nauthor: Carol\n")
		post.Path = map[string]string{"jekyll": "_posts/2026-12-01-use-after-free.md", "hugo": "content/posts/use-after-free.md", "middleman": "source/2026-12-01-use-after-free.html.md"}[c.style]
		if c.style == "middleman" {
			post.URL = "https://async.rs/2026/12/01/use-after-free.html" // middleman-blog's default permalink
		}
		_, probs := check(t, files, c.style, post)
		if c.style == "jekyll" {
			// Liquid renders a lookup that finds nothing as nothing: the
			// site builds, so it only warns.
			expectWarning(t, probs, c.file, `"Carol"`, `"Ann", "Bob"`, "without the author's details")
		} else {
			expectOne(t, probs, c.file, `"Carol"`, `"Ann", "Bob"`, c.layout, "the site's build fails")
		}
		post.Content = []byte("---\ntitle: x\nauthor: Bob\n---\n")
		if _, probs := check(t, files, c.style, post); len(probs) != 0 {
			t.Errorf("%s: a known author: %+v", c.style, probs)
		}
		// No layout looks the registry up: the post builds all the same.
		delete(files, c.layout)
		post.Content = []byte("---\ntitle: x\nauthor: Carol\n---\n")
		_, probs = check(t, files, c.style, post)
		expectWarning(t, probs, c.file, `"Carol"`, "no layout in the repository looks authors up")
	}
}

// Front matter unlike the newest posts' neither breaks the build nor
// hides the post: it is a warning, never a problem that blocks.
func TestFrontMatterUnlikeTheNewestPostsOnlyWarns(t *testing.T) {
	post := "source/blog/2026-12-01-use-after-free.html.md"
	// A key the newest posts all carry.
	_, probs := check(t, asyncRS(), "middleman", advisoryPost("title: x\ndate: 2026-12-01\nauthor: Florian Gilcher\n"))
	expectWarning(t, probs, post, `no "tags"`, "the 3 newest posts")

	// Tags written as a string where the site writes a list.
	_, probs = check(t, asyncRS(), "middleman", advisoryPost("title: x\ndate: 2026-12-01\ntags: release\nauthor: Florian Gilcher\n"))
	expectWarning(t, probs, post, `writes "tags" as a string`, "as a list")

	// A tag spelled otherwise than the site spells it.
	_, probs = check(t, asyncRS(), "middleman", advisoryPost("title: x\ndate: 2026-12-01\ntags: [security]\nauthor: Florian Gilcher\n"))
	expectWarning(t, probs, post, `"security" is written "Security"`)

	// A key no post uses.
	_, probs = check(t, asyncRS(), "middleman", advisoryPost(goodFront+"summary: s\n"))
	expectWarning(t, probs, post, `"summary"`)
}

func TestWhatHidesAPostIsFound(t *testing.T) {
	post := "source/blog/2026-12-01-use-after-free.html.md"
	cases := []struct {
		name string
		edit func(p *Post)
		says []string
	}{
		{"unpublished", func(p *Post) { p.Content = advisoryPost(goodFront + "published: false\n").Content }, []string{"unpublished"}},
		{"dated after T0", func(p *Post) {
			p.Content = advisoryPost(strings.Replace(goodFront, "2026-12-01", "2026-12-02", 1)).Content
			p.Path = "source/blog/2026-12-02-use-after-free.html.md"
		}, []string{"after T0", "middleman-blog leaves articles dated in the future out"}},
		{"file name date unlike the front matter's", func(p *Post) {
			p.Content = advisoryPost(strings.Replace(goodFront, "2026-12-01", "2026-11-30", 1)).Content
		}, []string{"file name says 2026-12-01", "2026-11-30"}},
		{"outside the blog prefix", func(p *Post) { p.Path = "source/posts/2026-12-01-use-after-free.html.md" }, []string{"not where middleman-blog reads articles", "source/blog/{year}-{month}-{day}-{title}.html", "prefix and sources in config.rb"}},
		{"a URL the permalink does not give", func(p *Post) { p.URL = "https://async.rs/blog/advisory/" }, []string{"writes the post to /blog/use-after-free/", "blog.url https://async.rs/blog/advisory/"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := advisoryPost(goodFront)
			c.edit(&p)
			_, probs := check(t, asyncRS(), "middleman", p)
			file := post
			if p.Path != post {
				file = p.Path
			}
			expectOne(t, probs, file, c.says...)
		})
	}
}

// A draft is left out by hugo and zola; middleman-blog and jekyll have no
// such key and publish the post all the same.
func TestADraftBlocksWhereTheGeneratorLeavesDraftsOut(t *testing.T) {
	for _, c := range []struct {
		style, path, front string
		blocks             bool
	}{
		{"hugo", "content/posts/use-after-free.md", "---\ntitle: x\ndraft: true\n---\n", true},
		{"zola", "content/blog/use-after-free.md", "+++\ntitle = \"x\"\ndraft = true\n+++\n", true},
		{"middleman", "source/2026-12-01-use-after-free.html.md", "---\ntitle: x\ndraft: true\n---\n", false},
		{"jekyll", "_posts/2026-12-01-use-after-free.md", "---\ntitle: x\ndraft: true\n---\n", false},
	} {
		post := Post{Path: c.path, Content: []byte(c.front + "\nText.\n"), T0: t0}
		_, probs := check(t, map[string]string{}, c.style, post)
		if c.blocks {
			expectOne(t, probs, c.path, "draft", c.style+" leaves it out")
		} else {
			expectWarning(t, probs, c.path, "draft: true", "published all the same")
		}
	}
	// hugo told to build drafts builds it.
	post := Post{Path: "content/posts/use-after-free.md", Content: []byte("---\ntitle: x\ndraft: true\n---\n"), T0: t0}
	if _, probs := check(t, map[string]string{"hugo.toml": "buildDrafts = true\n"}, "hugo", post); len(probs) != 0 {
		t.Errorf("problems %+v", probs)
	}
}

func TestHugoConventions(t *testing.T) {
	files := map[string]string{
		"hugo.toml":              "baseURL = \"https://example.org/\"\n",
		"content/posts/hello.md": "---\ntitle: Hello\ndate: 2026-01-10T09:00:00Z\ntags: [news]\nauthor: Jane Doe\n---\n\nHi.\n",
	}
	post := Post{Path: "content/posts/use-after-free.md", URL: "https://example.org/posts/use-after-free/", T0: t0,
		Content: []byte("---\ntitle: \"Use-after-free\"\ndate: 2026-12-01T14:00:00Z\ntags: [security]\nauthor: \"Jane Doe\"\nsummary: \"s\"\n---\n\nText.\n")}
	_, probs := check(t, files, "hugo", post)
	for _, p := range probs {
		if !p.Warning {
			t.Errorf("problem %+v", p)
		}
	}
	// A second past T0 is in hugo's future.
	post.Content = []byte(strings.Replace(string(post.Content), "14:00:00Z", "14:00:01Z", 1))
	_, probs = check(t, files, "hugo", post)
	expectOne(t, probs, post.Path, "after T0", "hugo leaves posts dated in the future out")
	// A front matter slug wins over the file name.
	post.Content = []byte("---\ntitle: x\ndate: 2026-12-01T14:00:00Z\ntags: [x]\nauthor: J\nslug: other\n---\n")
	_, probs = check(t, files, "hugo", post)
	expectOne(t, probs, post.Path, `slug "other"`)
}

func TestUndatedPagesBesideThePostSetNoExample(t *testing.T) {
	files := asyncRS()
	files["source/blog/index.html.erb"] = "---\npageable: true\nper_page: 10\n---\n<%= page_articles %>\n"
	if _, probs := check(t, files, "middleman", advisoryPost(goodFront)); len(probs) != 0 {
		t.Errorf("problems %+v", probs)
	}
}

func TestZolaConventions(t *testing.T) {
	files := map[string]string{
		"config.toml":            "base_url = \"https://example.org\"\n",
		"content/blog/hello.md":  "+++\ntitle = \"Hello\"\ndate = 2026-01-10\n[taxonomies]\ntags = [\"Security\"]\n[extra]\nauthor = \"Ann\"\n+++\n\nHi.\n",
		"content/blog/_index.md": "+++\nsort_by = \"date\"\n+++\n",
	}
	front := "+++\ntitle = \"x\"\ndate = 2026-12-01T14:00:00Z\n\n[taxonomies]\ntags = [\"security\"]\n\n[extra]\nauthor = \"Ann\"\n+++\n\nText.\n"
	post := Post{Path: "content/blog/2026-12-01-use-after-free.md", URL: "https://example.org/blog/use-after-free/", T0: t0, Content: []byte(front)}
	_, probs := check(t, files, "zola", post)
	expectWarning(t, probs, post.Path, `taxonomies.tags entry "security" is written "Security"`)

	post.Content = []byte(strings.Replace(front, "security", "Security", 1))
	if _, probs := check(t, files, "zola", post); len(probs) != 0 {
		t.Errorf("problems %+v", probs)
	}
	// A post in YAML among TOML ones.
	post.Content = []byte("---\ntitle: x\n---\n")
	_, probs = check(t, files, "zola", post)
	if len(probs) == 0 || !strings.Contains(probs[0].Msg, "front matter is YAML") {
		t.Errorf("problems %+v, want the front matter format named first", probs)
	}
}

// A post dated after T0 blocks only where the generator leaves such posts
// out and the site's config does not build them all the same.
func TestAFutureDateBlocksWhereTheSiteHidesIt(t *testing.T) {
	after := "2026-12-02T00:00:00Z"
	for _, c := range []struct {
		style, path, front string
		files              map[string]string
		blocks             string // what the problem says, or "" for none
	}{
		{"jekyll", "_posts/2026-12-02-x.md", "---\ntitle: x\ndate: " + after + "\n---\n", nil, "jekyll leaves posts dated in the future out"},
		{"jekyll", "_posts/2026-12-02-x.md", "---\ntitle: x\ndate: " + after + "\n---\n", map[string]string{"_config.yml": "future: true\n"}, ""},
		{"hugo", "content/posts/x.md", "---\ntitle: x\ndate: " + after + "\n---\n", nil, "buildFuture is not set"},
		{"hugo", "content/posts/x.md", "---\ntitle: x\ndate: " + after + "\n---\n", map[string]string{"config.toml": "BuildFuture = true\n"}, ""},
		{"middleman", "source/2026-12-02-x.html.md", "---\ntitle: x\ndate: " + after + "\n---\n", map[string]string{"config.rb": "activate :blog, publish_future_dated: true\n"}, ""},
		{"middleman", "source/2026-12-02-x.html.md", "---\ntitle: x\ndate: " + after + "\n---\n", nil, "publish_future_dated is not set"},
		// zola builds every post whatever its date.
		{"zola", "content/blog/x.md", "+++\ntitle = \"x\"\ndate = " + after + "\n+++\n", nil, ""},
		// Without a date, jekyll dates a post by its file name.
		{"jekyll", "_posts/2026-12-02-x.md", "---\ntitle: x\n---\n", nil, "dated 2026-12-02T00:00:00Z, after T0"},
	} {
		post := Post{Path: c.path, Content: []byte(c.front + "\nText.\n"), T0: t0}
		files := c.files
		if files == nil {
			files = map[string]string{}
		}
		_, probs := check(t, files, c.style, post)
		if c.blocks == "" {
			for _, p := range probs {
				if !p.Warning {
					t.Errorf("%s %v: %+v", c.style, c.files, p)
				}
			}
			continue
		}
		expectOne(t, probs, c.path, "after T0", c.blocks)
	}
}

// A hugo site's time zone dates a post written by day: midnight in Tokyo
// is before T0 on the same day in UTC, midnight in Los Angeles after a T0
// early in the UTC day.
func TestTheSitesTimeZoneDatesThePost(t *testing.T) {
	early := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	post := Post{Path: "content/posts/x.md", Content: []byte("---\ntitle: x\ndate: 2026-12-01\n---\n"), T0: early}
	if _, probs := check(t, map[string]string{"hugo.toml": "timeZone = \"Asia/Tokyo\"\n"}, "hugo", post); len(probs) != 0 {
		t.Errorf("Tokyo: %+v", probs)
	}
	_, probs := check(t, map[string]string{"hugo.toml": "timeZone = \"America/Los_Angeles\"\n"}, "hugo", post)
	expectOne(t, probs, post.Path, "dated 2026-12-01T00:00:00-08:00, after T0")
}

// Values the generator fails the build on block: hugo reads published as
// a date, zola a taxonomy as a list; jekyll reads YAML front matter only.
func TestValuesTheGeneratorFailsOnBlock(t *testing.T) {
	post := Post{Path: "content/posts/x.md", Content: []byte("---\ntitle: x\npublished: true\n---\n"), T0: t0}
	_, probs := check(t, map[string]string{}, "hugo", post)
	expectOne(t, probs, post.Path, `"published"`, "hugo reads published as a date")

	post = Post{Path: "content/blog/x.md", Content: []byte("+++\ntitle = \"x\"\n[taxonomies]\ntags = \"security\"\n+++\n"), T0: t0}
	_, probs = check(t, map[string]string{}, "zola", post)
	expectOne(t, probs, post.Path, `"taxonomies.tags" as a string`, "list of strings")

	files := map[string]string{"_posts/2026-01-10-hello.md": "---\ntitle: Hello\n---\n\nHi.\n"}
	post = Post{Path: "_posts/2026-12-01-x.md", Content: []byte("+++\ntitle = \"x\"\n+++\n"), T0: t0}
	_, probs = check(t, files, "jekyll", post)
	expectOne(t, probs, post.Path, "jekyll reads only YAML front matter")
}
