package blog

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/async-rs/embargo/sandbox/world"
)

// The scratch copy a site build runs in is the blog's tip with the post
// written over it, and the blog is left as it was.
func TestCheckoutWritesTheTipWithThePostOverIt(t *testing.T) {
	dir := t.TempDir()
	b, err := world.BuildBlog(dir, "middleman", "https://blog.example.org", "Jane Doe <jane@example.org>")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(filepath.Join(dir, "clone"), b.Repo, b.Branch, nil)
	if err != nil {
		t.Fatal(err)
	}
	tip, err := c.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	post := "source/blog/2026-12-01-advisory.html.md"
	if err := c.Checkout(tip, work, map[string][]byte{post: []byte("the post\n"), "config.rb": []byte("replaced\n")}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{post: "the post\n", "config.rb": "replaced\n", "source/index.html.erb": "<h1>Blog</h1>\n"} {
		got, err := os.ReadFile(filepath.Join(work, filepath.FromSlash(name)))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q (%v), want %q", name, got, err, want)
		}
	}
	if _, ok, _ := c.File(tip, post); ok {
		t.Error("the post reached the clone's tip")
	}
	if again, err := c.Fetch(context.Background()); err != nil || again != tip {
		t.Errorf("the blog moved: %s (%v), was %s", again, err, tip)
	}
	if err := c.Checkout(tip, filepath.Join(dir, "work2"), map[string][]byte{"../escape": []byte("x")}); err == nil {
		t.Error("a path leaving the copy was written")
	}
}

// The scratch copy is a git work tree at the blog's tip, as the site's own
// deploy is: a generator that reads the history (hugo's enableGitInfo
// runs git log) finds the tip's commit there.
func TestCheckoutIsARepositoryAtTheTip(t *testing.T) {
	dir := t.TempDir()
	b, err := world.BuildBlog(dir, "hugo", "https://blog.example.org", "Jane Doe <jane@example.org>")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(filepath.Join(dir, "clone"), b.Repo, b.Branch, nil)
	if err != nil {
		t.Fatal(err)
	}
	tip, err := c.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := c.Checkout(tip, work, map[string][]byte{"content/posts/advisory.md": []byte("the post\n")}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", work, "log", "-1", "--format=%H", "--", "content/posts/hello.md").Output()
	if err != nil {
		t.Fatalf("git log in the copy: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != tip.String() {
		t.Errorf("git log in the copy says %q, want the tip %s", got, tip)
	}
}
