package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/sandbox/world"
)

const hugoAuthor = "Jane Doe <jane@example.org>"

// newHugoRelease is newRelease with the given blog as [blog].
func newHugoRelease(t *testing.T, t0 time.Time, blog *world.Blog) *release {
	t.Helper()
	return buildRelease(t, t0, &registry.Options{}, blog)
}

// hugoSite is a hugo blog and the web server its built pages are served
// from, started first (serving an empty folder) so that its URL is the
// blog's baseURL.
type hugoSite struct {
	blog   *world.Blog
	served string
	srv    *httptest.Server
}

func newHugoSite(t *testing.T) *hugoSite {
	t.Helper()
	requireTool(t, "hugo")
	requireTool(t, "git")
	s := &hugoSite{served: t.TempDir()}
	s.srv = httptest.NewServer(http.FileServer(http.Dir(s.served)))
	t.Cleanup(s.srv.Close)
	var err error
	if s.blog, err = world.BuildBlog(t.TempDir(), "hugo", s.srv.URL, hugoAuthor); err != nil {
		t.Fatal(err)
	}
	return s
}

// tip is the blog branch's commit, or "" before there is one.
func (s *hugoSite) tip() string {
	out, err := exec.Command("git", "--git-dir", s.blog.Repo, "rev-parse", "--verify", "-q", "refs/heads/"+s.blog.Branch).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// build checks the branch out and builds the site into the served folder,
// as the blog's deploy pipeline does.
func (s *hugoSite) build(work string) error {
	os.RemoveAll(work)
	steps := [][]string{
		{"git", "clone", "-q", "--branch", s.blog.Branch, s.blog.Repo, work},
		{"hugo", "--source", work, "--destination", s.served, "--cleanDestinationDir", "--quiet"},
	}
	for _, args := range steps {
		cmd := exec.Command(args[0], args[1:]...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// deploy plays the blog's deploy pipeline until the test ends: whenever
// the branch moves, it checks it out and rebuilds the site. It returns the
// tips it deployed, read once the test is done with it.
func (s *hugoSite) deploy(t *testing.T) func() []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg       sync.WaitGroup
		deployed []string
		errs     []error
	)
	work := filepath.Join(t.TempDir(), "checkout")
	seen := s.tip()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			tip := s.tip()
			if tip == "" || tip == seen {
				continue
			}
			seen = tip
			if err := s.build(work); err != nil {
				errs = append(errs, err)
				continue
			}
			deployed = append(deployed, tip)
		}
	}()
	var once sync.Once
	stop := func() []string {
		once.Do(func() {
			cancel()
			wg.Wait()
			for _, err := range errs {
				t.Errorf("blog deploy: %v", err)
			}
		})
		return deployed
	}
	t.Cleanup(func() { stop() })
	return stop
}

// verifyResult is a result of the journal's verify step.
func (rl *release) verifyResult(step, key string) string {
	rl.t.Helper()
	j, err := pipeline.ReadJournal(filepath.Join(rl.dir, ".embargo", "journal.json"))
	if err != nil {
		rl.t.Fatal(err)
	}
	for _, st := range j.Steps("verify") {
		if st.Name == step {
			return flatResult(st)[key]
		}
	}
	return ""
}

// hugoPostURL is where the demo's post is served on site.
func hugoPostURL(site string) string {
	return site + "/posts/" + advisorySlug + "/"
}

// The CI job, through to the end: the advisory goes to the blog's
// repository, the blog's own deploy builds it with hugo, and verify finds
// the post live at its URL, the feed entry and every crate downloadable
// with its sealed checksum, within the window.
func TestRunVerifiesThePostLiveOnTheBuiltBlog(t *testing.T) {
	t.Parallel()
	site := newHugoSite(t)
	rl := newHugoRelease(t, time.Now().Add(-time.Second).Truncate(time.Second), site.blog)
	stopDeploy := site.deploy(t)

	res := rl.run([]string{"run"})
	if res.code != 0 {
		t.Fatalf("run: %s", res)
	}
	deployed := stopDeploy()
	if len(deployed) == 0 {
		t.Fatalf("the blog was never deployed: the advisory did not move its branch\n%s", res)
	}
	url := hugoPostURL(site.srv.URL)
	if got := rl.verifyResult("post", "url"); got != url {
		t.Errorf("verify checked %q, want the post's URL %q", got, url)
	}
	if got := rl.verifyResult("post", "url_checked"); got != "true" {
		t.Errorf("url_checked = %q, want true", got)
	}
	if rl.verifyResult("post", "live_at") == "" {
		t.Error("no live_at recorded")
	}
	if got := rl.verifyResult("feed", "commit"); got != site.tip() {
		t.Errorf("the feed was checked at %s, want the branch tip %s", got, site.tip())
	}
	sealed := rl.sealedSums()
	for _, l := range rl.ex.World.Lines {
		for _, c := range rl.ex.World.Crates {
			nv := c + "@" + l.FixVersion
			if got := rl.verifyResult("crates "+l.Line, nv); got == "" || got != sealed[nv] {
				t.Errorf("verify downloaded %s with sha256 %q, sealed %q", nv, got, sealed[nv])
			}
		}
	}
	if got := rl.verifyResult("timeline", "within_window"); got != "true" {
		t.Errorf("within_window = %q", got)
	}
	for _, want := range []string{"live at " + url, "timeline:", "publish", "deadline", "to spare"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, res.stdout)
		}
	}
	// The page really is the post, as a reader gets it.
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", url, resp.Status)
	}
	rl.assertNoSecret(res.stdout, res.stderr)
}

// The window passed with the post not live: verify says so and fails, and
// can be repeated; once the site serves the post, it passes, saying the
// window was missed.
func TestVerifyFailsWhenTheDeadlinePassedWithThePostNotLive(t *testing.T) {
	site := newHugoSite(t)
	rl := newHugoRelease(t, time.Now().Add(-5*time.Second).Truncate(time.Second), site.blog)
	rl.editConfig(t, `window  = "6h"`, `window  = "2s"`)

	res := rl.run([]string{"run"})
	if res.code != 1 {
		t.Fatalf("want exit 1 for a post not live by the deadline, got %s", res)
	}
	out := res.stdout + res.stderr
	url := hugoPostURL(site.srv.URL)
	for _, want := range []string{"stage verify failed", "NOT LIVE at " + url, "deadline", "has passed", "404", "embargo run --only verify"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	rl.assertReleased()
	rl.assertPublishedOnce()

	again := rl.run([]string{"run", "--only", "verify"})
	if again.code != 1 || !strings.Contains(again.stdout+again.stderr, "NOT LIVE") {
		t.Fatalf("a repeated verify: want exit 1 again, got %s", again)
	}

	// The deploy catches up: the post is live, late.
	if err := site.build(filepath.Join(t.TempDir(), "checkout")); err != nil {
		t.Fatal(err)
	}
	late := rl.run([]string{"run", "--only", "verify"})
	if late.code != 0 {
		t.Fatalf("verify with the post live: %s", late)
	}
	if !strings.Contains(late.stdout+late.stderr, "WINDOW MISSED") {
		t.Errorf("a verify after the deadline does not say the window was missed:\n%s", late)
	}
	if got := rl.verifyResult("timeline", "within_window"); got != "false" {
		t.Errorf("within_window = %q, want false", got)
	}
}
