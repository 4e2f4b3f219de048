package world

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The example's blog site serves a post at its URL as soon as it is pushed
// to the blog repository, and nothing that was not.
func TestSiteServesPushedPosts(t *testing.T) {
	b, err := BuildBlog(t.TempDir(), "middleman", "http://127.0.0.1", "Jane Doe <jane@example.org>")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Site(b.Repo, b.Branch))
	defer srv.Close()
	get := func(p string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/blog/hello/"); code != 200 || !strings.Contains(body, "The blog is open.") {
		t.Errorf("the existing post: %d %q", code, body)
	}
	if code, _ := get("/blog/use-after-free/"); code != 404 {
		t.Errorf("a post not pushed yet answers %d, want 404", code)
	}
	if _, err := CommitFile(b.Repo, b.Branch, "source/blog/2026-12-01-use-after-free.html.md", "---\ntitle: Use-after-free & more\n---\n\nUpgrade.\n", "Post\n"); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/blog/use-after-free/"); code != 200 || !strings.Contains(body, "Use-after-free &amp; more") {
		t.Errorf("the pushed post: %d %q", code, body)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, `href="/blog/use-after-free/"`) {
		t.Errorf("the index: %d %q", code, body)
	}
	if code, _ := get("/source/blog/2026-12-01-use-after-free.html.md"); code != 404 {
		t.Errorf("a repository path answers %d, want 404", code)
	}
}
