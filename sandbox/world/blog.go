package world

import (
	"fmt"
	"io/fs"
	"net/mail"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Blog is a generated blog repository: a bare repository whose branch holds
// a small static site with one earlier post.
type Blog struct {
	Repo   string // bare repository
	Branch string
	Style  string
	// Path and URL are the blog.path and blog.url templates that fit it.
	Path string
	URL  string
	Feed string
	// Author and Build are the blog.author and blog.build that fit it,
	// or "" to leave them out.
	Author string
	Build  string
}

// BuildBlog creates dir/blog.git for a generator style ("middleman" or
// "hugo"); siteURL is where the built site is served (the hugo baseURL).
func BuildBlog(dir, style, siteURL, author string) (*Blog, error) {
	return BuildBlogWith(dir, style, siteURL, author, nil)
}

// BuildBlogWith is BuildBlog with extra files (path → content) written
// over the fixture's, in its first commit.
func BuildBlogWith(dir, style, siteURL, author string, extra map[string]string) (*Blog, error) {
	a, err := mail.ParseAddress(author)
	if err != nil {
		return nil, fmt.Errorf("world: blog author: %w", err)
	}
	b := &Blog{Repo: filepath.Join(dir, "blog.git"), Branch: "master", Style: style, Feed: "security.xml"}
	var files map[string]string
	switch style {
	case "middleman":
		b.Path = "source/blog/{{.Date}}-{{.Slug}}.html.md"
		b.URL = siteURL + "/blog/{{.Slug}}/"
		b.Feed = "source/security.xml"
		files = map[string]string{
			// Served as Site serves it: /blog/<slug>/, like async.rs.
			"config.rb":                            "activate :blog do |blog|\n  blog.prefix = \"blog\"\n  blog.permalink = \"{title}.html\"\nend\n\nactivate :directory_indexes\n",
			"Gemfile":                              "source \"https://rubygems.org\"\ngem \"middleman\"\ngem \"middleman-blog\"\n",
			"source/index.html.erb":                "<h1>Blog</h1>\n",
			"source/blog/2026-01-10-hello.html.md": "---\ntitle: Hello\ndate: 2026-01-10\ntags: [news]\nauthor: " + a.Name + "\n---\n\nThe blog is open.\n",
		}
	case "hugo":
		b.Path = "content/posts/{{.Slug}}.md"
		b.URL = siteURL + "/posts/{{.Slug}}/"
		b.Feed = "static/security.xml"
		files = map[string]string{
			"hugo.toml":                    fmt.Sprintf("baseURL = %q\nlanguageCode = \"en-us\"\ntitle = \"Demo blog\"\ndisableKinds = [\"taxonomy\", \"term\"]\n", siteURL+"/"),
			"layouts/_default/single.html": "<!DOCTYPE html>\n<html><head><title>{{ .Title }}</title></head>\n<body><h1>{{ .Title }}</h1>\n{{ .Content }}\n</body></html>\n",
			"layouts/_default/list.html":   "<!DOCTYPE html>\n<html><head><title>{{ .Title }}</title></head>\n<body><ul>{{ range .Pages }}<li><a href=\"{{ .RelPermalink }}\">{{ .Title }}</a></li>{{ end }}</ul></body></html>\n",
			"layouts/index.html":           "<!DOCTYPE html>\n<html><head><title>{{ .Site.Title }}</title></head>\n<body><ul>{{ range .Site.RegularPages }}<li><a href=\"{{ .RelPermalink }}\">{{ .Title }}</a></li>{{ end }}</ul></body></html>\n",
			"content/posts/hello.md":       "---\ntitle: Hello\ndate: 2026-01-10T09:00:00Z\ntags: [news]\nauthor: " + a.Name + "\n---\n\nThe blog is open.\n",
		}
	default:
		return nil, fmt.Errorf("world: no blog fixture for style %q", style)
	}
	for p, content := range extra {
		files[p] = content
	}
	if err := writeBlog(b, a, files); err != nil {
		return nil, err
	}
	return b, nil
}

// BuildSiteBlog creates dir/blog.git holding a site of its own, files
// (path → content): a copy of a real blog, say (ReadSite). postPath,
// postURL and feed are the blog.path, blog.url and blog.feed that fit it.
func BuildSiteBlog(dir, style, author string, files map[string]string, postPath, postURL, feed string) (*Blog, error) {
	a, err := mail.ParseAddress(author)
	if err != nil {
		return nil, fmt.Errorf("world: blog author: %w", err)
	}
	b := &Blog{Repo: filepath.Join(dir, "blog.git"), Branch: "master", Style: style, Path: postPath, URL: postURL, Feed: feed}
	if err := writeBlog(b, a, files); err != nil {
		return nil, err
	}
	return b, nil
}

// ReadSite reads every file under root, by its slash-separated path.
func ReadSite(root string) (map[string]string, error) {
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	return files, err
}

// writeBlog writes b.Repo, a bare repository whose branch holds files in
// one commit by a.
func writeBlog(b *Blog, a *mail.Address, files map[string]string) error {
	if _, err := os.Stat(b.Repo); err == nil {
		return fmt.Errorf("world: %s already exists", b.Repo)
	}
	repo, err := git.PlainInit(b.Repo, true)
	if err != nil {
		return err
	}
	bld := &builder{author: object.Signature{Name: a.Name, Email: a.Address}, when: baseTime}
	to := []storer.Storer{repo.Storer}
	c, err := bld.commit(to, files, plumbing.ZeroHash, "Open the blog\n")
	if err != nil {
		return err
	}
	branch := plumbing.NewBranchReferenceName(b.Branch)
	if err := repo.Storer.SetReference(plumbing.NewHashReference(branch, c)); err != nil {
		return err
	}
	if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, branch)); err != nil {
		return err
	}
	return nil
}
