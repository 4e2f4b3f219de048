package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/sandbox/world"
)

// blogTip is the blog branch's commit.
func blogTip(t *testing.T, b *world.Blog) plumbing.Hash {
	t.Helper()
	return refHash(t, b.Repo, plumbing.NewBranchReferenceName(b.Branch))
}

// appendConfig adds lines at the end of the config, which is inside its
// last table, [blog].
func (rl *release) appendConfig(t *testing.T, lines string) {
	t.Helper()
	f, err := os.OpenFile(rl.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "\n%s\n", lines); err != nil {
		t.Fatal(err)
	}
}

// expectOutput checks that out says every piece of want.
func expectOutput(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// An async.rs-shaped middleman blog, whose article layout looks every
// author up in data/authors.yaml: the handler as author is found by check
// before T0, both from the registry and from the site's own build, with
// nothing written to the blog; with an author the site knows, the site
// builds with the post and the post's page is there.
func TestCheckFindsTheAuthorTheMiddlemanSiteWouldReject(t *testing.T) {
	t.Parallel()
	blog, err := world.BuildAsyncRSBlog(t.TempDir(), "https://async.rs", hugoAuthor)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(time.Hour).Truncate(time.Second)
	rl := buildRelease(t, t0, &registry.Options{}, blog)
	// linux-distros heard of it only now: under the policy's 72 hours.
	rl.editConfig(t, `handler = "Jane Doe <jane@example.org>"`, fmt.Sprintf("handler = \"Jane Doe <jane@example.org>\"\ndistros = %s", time.Now().UTC().Format(time.RFC3339)))
	before := blogTip(t, blog)

	res := rl.run([]string{"check"})
	if res.code != 1 {
		t.Fatalf("check with an author the site lacks: want exit 1, got %s", res)
	}
	out := res.stdout + res.stderr
	expectOutput(t, out,
		`blog data/authors.yaml: the post's author "Jane Doe" is not in the site's author registry`,
		`set blog.author to one of "Stjepan Glavina", "Florian Gilcher", "The async-std developers"`,
		"blog.build: sh build.sh failed in a copy of the blog with the post",
		"NoMethodError: undefined method 'url' for nil:NilClass",
		"under the 72 hours",
	)
	if got := blogTip(t, blog); got != before {
		t.Errorf("check moved the blog from %s to %s", before, got)
	}
	rl.assertUnreleased()
	rl.assertNoSecret(res.stdout, res.stderr)

	rl.appendConfig(t, `author = "The async-std developers"`)
	res = rl.run([]string{"check"})
	if res.code != 0 {
		t.Fatalf("check with an author the site knows: %s", res)
	}
	expectOutput(t, res.stdout+res.stderr, "site build: sh build.sh passed")
	if got := blogTip(t, blog); got != before {
		t.Errorf("check moved the blog from %s to %s", before, got)
	}
}

// newBuiltHugoBlog is the hugo fixture with blog.build set to Debian's
// hugo, with extra files over it.
func newBuiltHugoBlog(t *testing.T, extra map[string]string) *world.Blog {
	t.Helper()
	requireTool(t, "hugo")
	blog, err := world.BuildBlogWith(t.TempDir(), "hugo", "https://blog.example.org", hugoAuthor, extra)
	if err != nil {
		t.Fatal(err)
	}
	blog.Build = "hugo --quiet"
	return blog
}

// A hugo site built by hugo itself before T0, with the post: it builds,
// and the post's page is in public/ (though the post, dated T0, is in the
// future until then); an advisory dated after T0, which hugo would leave
// out of the site, is found naming the post.
func TestCheckBuildsTheHugoSiteWithThePost(t *testing.T) {
	t.Parallel()
	blog := newBuiltHugoBlog(t, nil)
	t0 := time.Now().Add(time.Hour).Truncate(time.Second)
	rl := buildRelease(t, t0, &registry.Options{}, blog)
	before := blogTip(t, blog)

	res := rl.run([]string{"check"})
	if res.code != 0 {
		t.Fatalf("check: %s", res)
	}
	expectOutput(t, res.stdout+res.stderr, "site build: hugo --quiet passed")

	future := t0.UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	rl.editConfig(t, `description = "advisory.md"`, "description = \"advisory.md\"\ndate        = "+future)
	res = rl.run([]string{"check"})
	if res.code != 1 {
		t.Fatalf("check of a post dated after T0: want exit 1, got %s", res)
	}
	expectOutput(t, res.stdout+res.stderr,
		"blog content/posts/"+advisorySlug+".md: the post is dated "+future+"T00:00:00Z, after T0",
		"hugo leaves posts dated in the future out of the build")
	if got := blogTip(t, blog); got != before {
		t.Errorf("check moved the blog from %s to %s", before, got)
	}
	rl.assertUnreleased()
}

// A site whose own build refuses the post, for a reason no convention
// shows: check fails with the tail of hugo's output, before T0, with
// nothing written to the blog.
func TestCheckReportsTheHugoBuildThatFailsWithThePost(t *testing.T) {
	t.Parallel()
	blog := newBuiltHugoBlog(t, map[string]string{
		"layouts/_default/single.html": "{{ if gt (len .Title) 30 }}{{ errorf \"title longer than the theme allows: %q\" .Title }}{{ end }}\n" +
			"<!DOCTYPE html>\n<html><head><title>{{ .Title }}</title></head><body><h1>{{ .Title }}</h1>{{ .Content }}</body></html>\n",
	})
	// Without --quiet, hugo says why it failed.
	blog.Build = "hugo"
	rl := buildRelease(t, time.Now().Add(time.Hour).Truncate(time.Second), &registry.Options{}, blog)
	before := blogTip(t, blog)

	res := rl.run([]string{"check"})
	if res.code != 1 {
		t.Fatalf("check with a build that fails: want exit 1, got %s", res)
	}
	expectOutput(t, res.stdout+res.stderr,
		"blog.build: hugo failed in a copy of the blog with the post",
		"title longer than the theme allows: "+fmt.Sprintf("%q", advisoryTitle))
	if got := blogTip(t, blog); got != before {
		t.Errorf("check moved the blog from %s to %s", before, got)
	}
	rl.assertUnreleased()
	rl.assertNoSecret(res.stdout, res.stderr)
}

// The site's build never sees the release's tokens, and what it prints is
// scrubbed of them; its scratch copy of the blog is removed.
func TestTheSiteBuildNeverLeaksATokenAndLeavesNoScratchCopy(t *testing.T) {
	t.Parallel()
	bl := newServedBlogRelease(t, time.Now().Add(time.Hour).Truncate(time.Second))
	bl.appendConfig(t, `build  = "echo blog token: [$EMBARGO_BLOG_TOKEN] git token: [$`+tokenEnv+`] copy: [$COPY]; ls; exit 3"`)
	scratch := t.TempDir()
	res := bl.run([]string{"check"}, "COPY="+token, "TMPDIR="+scratch)
	if res.code != 1 {
		t.Fatalf("check with a failing build: want exit 1, got %s", res)
	}
	expectOutput(t, res.stdout+res.stderr, "blog token: [] git token: [] copy: [***]", "exit status 3", "source")
	bl.assertNoSecret(res.stdout, res.stderr)
	if left, _ := filepath.Glob(filepath.Join(scratch, "*")); len(left) != 0 {
		t.Errorf("the build's scratch copy is left behind: %v", left)
	}
	if bl.blogPushes() != 0 {
		t.Errorf("check pushed to the blog %d time(s)", bl.blogPushes())
	}
}

// A rehearsal runs the site's build too, against the sandbox copy of the
// blog, and stops in preflight on an author the site would reject.
func TestRehearsalBuildsTheSiteWithThePost(t *testing.T) {
	t.Parallel()
	blog, err := world.BuildAsyncRSBlog(t.TempDir(), "https://async.rs", hugoAuthor)
	if err != nil {
		t.Fatal(err)
	}
	rl := buildRelease(t, time.Now().Add(time.Hour).Truncate(time.Second), &registry.Options{}, blog)
	before := blogTip(t, blog)
	res := rl.run([]string{"rehearse"})
	if res.code != 1 {
		t.Fatalf("rehearse with an author the site lacks: want exit 1, got %s", res)
	}
	expectOutput(t, res.stdout+res.stderr, "blog data/authors.yaml", "NoMethodError")
	if got := blogTip(t, blog); got != before {
		t.Errorf("the rehearsal moved the real blog from %s to %s", before, got)
	}
	rl.assertUnreleased()
}

// A hugo site whose layout looks the author up in data/authors.yaml and
// refuses one it lacks: hugo itself fails on the handler's name, and check
// says so before T0 from the registry and from hugo's own words.
func TestCheckFindsTheAuthorTheHugoSiteWouldReject(t *testing.T) {
	t.Parallel()
	blog := newBuiltHugoBlog(t, map[string]string{
		"data/authors.yaml":            "jane:\n  name: Jane Doe\n  url: https://example.org/jane\n",
		"content/posts/hello.md":       "---\ntitle: Hello\ndate: 2026-01-10T09:00:00Z\ntags: [news]\nauthor: jane\n---\n\nThe blog is open.\n",
		"layouts/_default/single.html": "<!DOCTYPE html>\n<html><head><title>{{ .Title }}</title></head>\n<body><h1>{{ .Title }}</h1>\n<p>by {{ with index .Site.Data.authors .Params.author }}<a href=\"{{ .url }}\">{{ .name }}</a>{{ else }}{{ errorf \"%s: author %q is not in data/authors.yaml\" .File.Path .Params.author }}{{ end }}</p>\n{{ .Content }}\n</body></html>\n",
	})
	blog.Build = "hugo"
	rl := buildRelease(t, time.Now().Add(time.Hour).Truncate(time.Second), &registry.Options{}, blog)
	before := blogTip(t, blog)

	res := rl.run([]string{"check"})
	if res.code != 1 {
		t.Fatalf("check with an author the site lacks: want exit 1, got %s", res)
	}
	expectOutput(t, res.stdout+res.stderr,
		`blog data/authors.yaml: the post's author "Jane Doe" is not in the site's author registry`,
		`set blog.author to one of "jane"`,
		"blog.build: hugo failed in a copy of the blog with the post",
		`author "Jane Doe" is not in data/authors.yaml`)
	if got := blogTip(t, blog); got != before {
		t.Errorf("check moved the blog from %s to %s", before, got)
	}
	rl.assertUnreleased()

	rl.appendConfig(t, `author = "jane"`)
	if res = rl.run([]string{"check"}); res.code != 0 {
		t.Fatalf("check with the site's author: %s", res)
	}
	expectOutput(t, res.stdout+res.stderr, "site build: hugo passed")
}

// A machine without the site's generator (a CI runner, say) cannot check
// the build: check says so and is not stopped by it.
func TestCheckWithoutTheGeneratorSaysTheBuildWasNotChecked(t *testing.T) {
	t.Parallel()
	rl := newRelease(t, time.Now().Add(time.Hour).Truncate(time.Second))
	rl.appendConfig(t, `build  = "no-such-site-generator build"`)
	res := rl.run([]string{"check"})
	if res.code != 0 {
		t.Fatalf("check: %s", res)
	}
	expectOutput(t, res.stdout+res.stderr, "the site build was not checked: the shell cannot find no-such-site-generator build here")
}
