package world

import (
	"fmt"
	"html"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Site serves the middleman blog at repoPath as its deploy would once it
// has built branch's tip: each post source/blog/<date>-<slug>.html.md at
// /blog/<slug>/, and at / the list of posts. The repository is read at
// every request, so a post is live the moment it is pushed.
func Site(repoPath, branch string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts, err := sitePosts(repoPath, branch)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/" {
			slugs := make([]string, 0, len(posts))
			for slug := range posts {
				slugs = append(slugs, slug)
			}
			sort.Strings(slugs)
			fmt.Fprint(w, "<html><body><h1>Blog</h1><ul>\n")
			for _, slug := range slugs {
				u := "/blog/" + slug + "/"
				fmt.Fprintf(w, "<li><a href=\"%s\">%s</a></li>\n", html.EscapeString(u), html.EscapeString(slug))
			}
			fmt.Fprint(w, "</ul></body></html>\n")
			return
		}
		slug := strings.Trim(strings.TrimPrefix(r.URL.Path, "/blog/"), "/")
		page, ok := posts[slug]
		if !ok || !strings.HasPrefix(r.URL.Path, "/blog/") {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "<html><body><pre>%s</pre></body></html>\n", html.EscapeString(page))
	})
}

// sitePosts reads the posts of the blog's branch tip, by slug.
func sitePosts(repoPath, branch string) (map[string]string, error) {
	repo, err := git.PlainOpen(repoPath)
	if err != nil {
		return nil, fmt.Errorf("the blog repository %s: %w", repoPath, err)
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		return nil, fmt.Errorf("branch %s of %s: %w", branch, repoPath, err)
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, err
	}
	files, err := c.Files()
	if err != nil {
		return nil, err
	}
	posts := map[string]string{}
	err = files.ForEach(func(f *object.File) error {
		dir, name := path.Split(f.Name)
		if dir != "source/blog/" || !strings.HasSuffix(name, ".html.md") {
			return nil
		}
		// <yyyy-mm-dd>-<slug>.html.md
		base := strings.TrimSuffix(name, ".html.md")
		if len(base) <= len("2006-01-02-") {
			return nil
		}
		text, err := f.Contents()
		if err != nil {
			return err
		}
		posts[base[len("2006-01-02-"):]] = text
		return nil
	})
	return posts, err
}
