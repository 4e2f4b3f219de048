package preflight

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/stages/blog"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/templates"
)

// BlogBuildTimeout bounds the site's own build in preflight.
const BlogBuildTimeout = 10 * time.Minute

// buildTail is how much of a failed build's output a finding shows.
const buildTail = 25

// buildOutput is where each generator writes the built site by default.
var buildOutput = map[string]string{"hugo": "public", "middleman": "build", "jekyll": "_site", "zola": "public"}

// checkConventions checks the rendered post against what the blog
// repository's own files say a post is, each problem naming its file.
func checkConventions(r *release.Run, c *blog.Clone, tip plumbing.Hash, m *templates.Model, post templates.File, res *BlogChecked, add func(subject, fix, format string, args ...any)) error {
	site, err := c.Site(tip)
	if err != nil {
		return err
	}
	conv, probs, err := blog.Check(site, r.Config.Blog.Style, blog.Post{Path: post.Path, Content: post.Content, URL: m.URL, T0: r.Gate.T0})
	if err != nil {
		return err
	}
	for _, p := range probs {
		if p.Warning {
			r.Warnf("blog %s: %s", p.File, p.Msg)
			continue
		}
		add("blog "+p.File, p.Fix, "%s", p.Msg)
	}
	if conv != nil {
		if conv.AuthorsFile != "" {
			res.Authors = conv.AuthorsFile
		}
		res.Neighbours = conv.Neighbours
	}
	return nil
}

// checkSiteBuild runs blog.build in a scratch copy of the blog at tip with
// the post and the feed written over it, and looks for the post's page in
// what it built. Nothing is pushed; the copy is removed afterwards.
func checkSiteBuild(ctx context.Context, r *release.Run, c *blog.Clone, tip plumbing.Hash, m *templates.Model, post templates.File, change *release.BlogChange, res *BlogChecked,
	add func(subject, fix, format string, args ...any)) error {
	cfg := r.Config
	if cfg.Blog.Build == "" {
		res.Build = "not checked"
		r.Infof("the site build was not checked: set blog.build to the site's build command (e.g. %q) to build the blog with the post before T0", exampleBuild(cfg.Blog.Style))
		return nil
	}
	if !r.Now().Before(r.Gate.T0) && !r.Mode.Rehearsal() {
		// At T0 a build only delays the release: it is a check for
		// before T0 (a rehearsal's T0 is now, and it checks).
		res.Build = "not checked after T0"
		return nil
	}
	dir, err := os.MkdirTemp("", "embargo-blog-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files := map[string][]byte{}
	if change != nil {
		files = change.Files
	}
	if err := c.Checkout(tip, dir, files); err != nil {
		return err
	}
	start := time.Now()
	out, err := runBuild(ctx, r, dir)
	took := time.Since(start).Round(100 * time.Millisecond)
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 127 {
		// The shell found no such command: this machine (a CI runner,
		// say) lacks the generator, which says nothing of the post.
		res.Build = "not checked: " + cfg.Blog.Build + " is not installed here"
		r.Warnf("the site build was not checked: the shell cannot find %s here (exit status 127):\n%s", cfg.Blog.Build, tail(r.Secrets.Scrub(out), 5))
		return nil
	}
	if err != nil {
		res.Build = cfg.Blog.Build + " failed"
		add("blog.build", "fix the site or the post so that the site's own build passes; the output above is its tail",
			"%s failed in a copy of the blog with the post (%v, after %s):\n%s", cfg.Blog.Build, err, took, tail(r.Secrets.Scrub(out), buildTail))
		return nil
	}
	page, found := builtPage(dir, cfg.Blog.Style, m)
	switch {
	case found == "":
		fix := "check blog.url against where the site puts the post"
		if !r.Now().After(m.PostTime()) && cfg.Blog.Style != "hugo" {
			fix = fmt.Sprintf("the post is dated %s, still in the future for this build: have blog.build include future posts (jekyll build --future; middleman-blog: publish_future_dated), or check blog.url", m.PostTime().Format(time.RFC3339))
		}
		add("blog.build", fix, "%s built no page for the post: none of %s exists under its %s/", cfg.Blog.Build, strings.Join(page, ", "), buildOutput[cfg.Blog.Style])
	default:
		res.BuiltPage = found
	}
	res.Build = fmt.Sprintf("%s passed in %s", cfg.Blog.Build, took)
	return nil
}

// runBuild runs blog.build through the shell in dir, bounded by
// BlogBuildTimeout, without the release's tokens in its environment. A
// build that outlives its time is killed with its children.
func runBuild(ctx context.Context, r *release.Run, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, BlogBuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", r.Config.Blog.Build)
	cmd.Dir = dir
	cmd.Env = buildEnv(r)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("timed out after %s", BlogBuildTimeout)
	}
	return out.String(), err
}

// buildEnv is this process's environment without any variable the config
// names as holding a secret, and with what makes the build before T0 see
// the site as it will be at T0: the post, dated T0, is not yet in the
// future then, so hugo is told to build future posts, and
// EMBARGO_BLOG_BUILD=1 lets a site's config tell this build apart.
func buildEnv(r *release.Run) []string {
	secret := release.SecretVariables(r.Config)
	for _, name := range secret {
		r.Secrets.Present(name) // remembered, so Scrub removes it from the output
	}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(secret, name) {
			env = append(env, kv)
		}
	}
	return append(env, "HUGO_BUILDFUTURE=true", "EMBARGO_BLOG_BUILD=1")
}

// builtPage looks for the post's page under the build output: at the
// path of blog.url, or, for a site served under a prefix of its host, at
// that path less its leading folders. found is the page holding the
// post's ID or title.
func builtPage(dir, style string, m *templates.Model) (candidates []string, found string) {
	u, err := url.Parse(m.URL)
	if err != nil {
		return nil, ""
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i := range segs {
		p := path.Join(segs[i:]...)
		if !strings.HasSuffix(p, ".html") {
			p = path.Join(p, "index.html")
		}
		rel := path.Join(buildOutput[style], p)
		candidates = append(candidates, rel)
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			continue
		}
		// The post's ID or title, as verify looks for it live: a site
		// whose posts have no layout shows the body alone.
		for _, mark := range release.PostMarkers(m) {
			if bytes.Contains(b, []byte(mark)) {
				return candidates, rel
			}
		}
	}
	return candidates, ""
}

func exampleBuild(style string) string {
	switch style {
	case "hugo":
		return "hugo --quiet"
	case "jekyll":
		return "bundle exec jekyll build --future"
	case "zola":
		return "zola build"
	}
	return "bundle exec middleman build"
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[... %d lines before]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return "      | " + strings.Join(lines, "\n      | ")
}
