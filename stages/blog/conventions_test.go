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

func check(t *testing.T, files map[string]string, style string, post Post) (*Conventions, []Problem) {
	t.Helper()
	conv, probs, err := Check(mapSite(files), style, post)
	if err != nil {
		t.Fatal(err)
	}
	return conv, probs
}

// expectOne checks that the problems are exactly one, about file, saying
// every piece of says (in the message or the fix).
func expectOne(t *testing.T, probs []Problem, file string, says ...string) {
	t.Helper()
	var errs []Problem
	for _, p := range probs {
		if !p.Warning {
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
		style, file, content string
	}{
		{"jekyll", "_data/authors.yml", "- Ann\n- Bob\n"},
		{"hugo", "data/authors.toml", "[Ann]\nurl = \"x\"\n[Bob]\nurl = \"y\"\n"},
		{"middleman", "data/authors.json", `{"Ann": {}, "Bob": {}}`},
	} {
		files := map[string]string{c.file: c.content}
		post := advisoryPost("title: x\nauthor: Carol\n")
		post.Path = map[string]string{"jekyll": "_posts/2026-12-01-use-after-free.md", "hugo": "content/posts/use-after-free.md", "middleman": "source/blog/2026-12-01-use-after-free.html.md"}[c.style]
		_, probs := check(t, files, c.style, post)
		expectOne(t, probs, c.file, `"Carol"`, `"Ann", "Bob"`)
		post.Content = []byte("---\ntitle: x\nauthor: Bob\n---\n")
		if _, probs := check(t, files, c.style, post); len(probs) != 0 {
			t.Errorf("%s: a known author: %+v", c.style, probs)
		}
	}
}

func TestFrontMatterUnlikeTheNewestPostsIsFound(t *testing.T) {
	// A key the newest posts all carry.
	_, probs := check(t, asyncRS(), "middleman", advisoryPost("title: x\ndate: 2026-12-01\nauthor: Florian Gilcher\n"))
	expectOne(t, probs, "source/blog/2026-12-01-use-after-free.html.md", `no "tags"`, "the 3 newest posts")

	// Tags written as a string where the site writes a list.
	_, probs = check(t, asyncRS(), "middleman", advisoryPost("title: x\ndate: 2026-12-01\ntags: release\nauthor: Florian Gilcher\n"))
	expectOne(t, probs, "source/blog/2026-12-01-use-after-free.html.md", `writes "tags" as a string`, "as a list")

	// A tag spelled otherwise than the site spells it.
	_, probs = check(t, asyncRS(), "middleman", advisoryPost("title: x\ndate: 2026-12-01\ntags: [security]\nauthor: Florian Gilcher\n"))
	expectOne(t, probs, "source/blog/2026-12-01-use-after-free.html.md", `"security" is written "Security"`)

	// A key no post uses is only a warning: it hides nothing.
	_, probs = check(t, asyncRS(), "middleman", advisoryPost(goodFront+"summary: s\n"))
	if len(probs) != 1 || !probs[0].Warning || !strings.Contains(probs[0].Msg, `"summary"`) {
		t.Errorf("problems %+v, want one warning about summary", probs)
	}
}

func TestWhatHidesAPostIsFound(t *testing.T) {
	post := "source/blog/2026-12-01-use-after-free.html.md"
	cases := []struct {
		name string
		edit func(p *Post)
		says []string
	}{
		{"a draft", func(p *Post) { p.Content = advisoryPost(goodFront + "draft: true\n").Content }, []string{"draft"}},
		{"unpublished", func(p *Post) { p.Content = advisoryPost(goodFront + "published: false\n").Content }, []string{"unpublished"}},
		{"dated after T0", func(p *Post) {
			p.Content = advisoryPost(strings.Replace(goodFront, "2026-12-01", "2026-12-02", 1)).Content
			p.Path = "source/blog/2026-12-02-use-after-free.html.md"
		}, []string{"after T0", "middleman-blog leaves articles dated in the future out"}},
		{"file name date unlike the front matter's", func(p *Post) {
			p.Content = advisoryPost(strings.Replace(goodFront, "2026-12-01", "2026-11-30", 1)).Content
		}, []string{"file name says 2026-12-01", "2026-11-30"}},
		{"outside the blog prefix", func(p *Post) { p.Path = "source/posts/2026-12-01-use-after-free.html.md" }, []string{"outside source/blog/", "blog.prefix in config.rb"}},
		{"a slug the URL lacks", func(p *Post) { p.URL = "https://async.rs/blog/advisory/" }, []string{`slug "use-after-free"`, "blog.url"}},
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
	expectOne(t, probs, post.Path, `taxonomies.tags entry "security" is written "Security"`)

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
