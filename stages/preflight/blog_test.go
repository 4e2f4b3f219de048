package preflight

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/async-rs/embargo/templates"
)

// The post's page is looked for at blog.url's path under the generator's
// output folder, and must hold the post's title.
func TestBuiltPageIsThePostsPageAtItsURL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := &templates.Model{Title: "Use-after-free in async_std::task <fixed>", URL: "https://example.org/blog/use-after-free/"}
	if cands, found := builtPage(dir, "hugo", m); found != "" || len(cands) != 2 || cands[0] != "public/blog/use-after-free/index.html" || cands[1] != "public/use-after-free/index.html" {
		t.Errorf("nothing built: candidates %q, found %q", cands, found)
	}
	// A page at the path that is not the post's.
	write("public/blog/use-after-free/index.html", "<h1>Page not found</h1>")
	if _, found := builtPage(dir, "hugo", m); found != "" {
		t.Errorf("a page without the title counts as the post: %s", found)
	}
	// The title as HTML escapes it.
	write("public/blog/use-after-free/index.html", "<h1>Use-after-free in async_std::task &lt;fixed&gt;</h1>")
	if _, found := builtPage(dir, "hugo", m); found != "public/blog/use-after-free/index.html" {
		t.Errorf("found %q", found)
	}
	// middleman builds into build/; a site served under /blog/ has it
	// at the path less that folder.
	write("build/use-after-free/index.html", m.Title)
	if _, found := builtPage(dir, "middleman", m); found != "build/use-after-free/index.html" {
		t.Errorf("found %q", found)
	}
	m.URL = "https://example.org/2026/12/01/use-after-free.html"
	write("_site/2026/12/01/use-after-free.html", m.Title)
	if _, found := builtPage(dir, "jekyll", m); !strings.HasSuffix(found, "use-after-free.html") {
		t.Errorf("found %q", found)
	}
}

func TestTailKeepsTheLastLines(t *testing.T) {
	t.Parallel()
	var lines []string
	for i := 1; i <= 30; i++ {
		lines = append(lines, strings.Repeat("x", i))
	}
	got := tail(strings.Join(lines, "\n")+"\n", 25)
	if !strings.HasPrefix(got, "      | [... 5 lines before]\n      | xxxxxx\n") || !strings.HasSuffix(got, strings.Repeat("x", 30)) {
		t.Errorf("tail:\n%s", got)
	}
}
