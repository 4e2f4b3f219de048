package advisory

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// The advisory stage against a fake blog repository: when the post is
// public and how many pushes made it so, without a repository or a git
// server (the registry the advisory reads its versions from is
// fakeRegistry's).

const blogPostPath = "content/out-of-bounds-read-in-demo-core-get.md" // blog.path of the title's slug

func blogReleaseConfig(t *testing.T) *config.Config {
	cfg := releasetest.BlogConfig()
	cfg.Registry.Index = "sparse+" + releasetest.Registry(t, releasetest.Sum([]byte("crate")), []byte("crate")).URL + "/index/"
	return cfg
}

// fakeBlogRun is a run of the two-line release at now, its blog holding
// only a home page, and the advisory stage given that blog.
func fakeBlogRun(t *testing.T, now time.Time) (*release.Run, *pipeline.FakeClock, *releasetest.Blog, Stage) {
	t.Helper()
	r, clock, _ := releasetest.Run(t, blogReleaseConfig(t), now, nil)
	b := releasetest.NewBlog(clock, map[string][]byte{"content/_index.md": []byte("# demo\n")})
	c := releasetest.ClientsWith(func(c *release.Clients) { c.Blog = b.Opener(t) })
	return r, clock, b, Stage{Blog: c.Blog, Index: c.Index}
}

// Prepared before T0, the advisory stage writes nothing public while T0
// is ahead; at T0 one push puts the post on the blog's branch, and a
// re-run pushes nothing.
func TestAdvisoryPostIsPushedOnceAtT0(t *testing.T) {
	t.Parallel()
	r, clock, b, advisory := fakeBlogRun(t, releasetest.T0.Add(-time.Hour))
	err := releasetest.Execute(t, r, pipeline.Selection{}, releasetest.Prepared, advisory)
	var early *pipeline.EarlyError
	if !errors.As(err, &early) {
		t.Fatalf("run before T0: %v, want the gate's refusal", err)
	}
	if p := b.Landed(); len(p) != 0 {
		t.Fatalf("pushes before T0: %+v", p)
	}
	if _, ok := b.OnBranch(blogPostPath); ok {
		t.Fatal("the post is on the blog before T0")
	}

	clock.Set(releasetest.T0.Add(2 * time.Second))
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "advisory"}, advisory); err != nil {
		t.Fatalf("run at T0: %v", err)
	}
	p := b.Landed()
	if len(p) != 1 {
		t.Fatalf("%d pushes at T0, want 1", len(p))
	}
	if p[0].At.Before(releasetest.T0) {
		t.Errorf("pushed at %s, before T0 %s", p[0].At, releasetest.T0)
	}
	_, out, err := release.AdvisoryOutputs(t.Context(), r, advisory.Index, advisory.Blog)
	if err != nil {
		t.Fatal(err)
	}
	if out.Post.Path != blogPostPath {
		t.Fatalf("the post renders to %s, the test expects %s", out.Post.Path, blogPostPath)
	}
	if got, ok := b.OnBranch(blogPostPath); !ok || !bytes.Equal(got, out.Post.Content) {
		t.Errorf("the blog's branch holds %q, want the rendered post", got)
	}
	if _, ok := b.OnBranch("content/_index.md"); !ok {
		t.Error("the push dropped the blog's other files")
	}

	clock.Advance(time.Minute)
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "advisory"}, advisory); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if n := len(b.Landed()); n != 1 {
		t.Errorf("%d pushes after a re-run, want the first run's 1", n)
	}
	if res, _ := pipeline.Load(r.Journal, postPushedKey); res.Text != "nothing to push: the blog already has the post" {
		t.Errorf("the re-run's push says %q", res.Text)
	}
}

// The push landed but its answer was lost: the next try fetches the
// branch, finds the post and pushes nothing again.
func TestAdvisoryWhosePushAnswerWasLostIsNotPushedTwice(t *testing.T) {
	t.Parallel()
	r, clock, b, advisory := fakeBlogRun(t, releasetest.T0.Add(time.Second))
	r.Mode.Late = true
	b.LoseAnswers = 1
	t.Cleanup(clock.Drive(time.Second)) // the retry's wait
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "advisory"}, advisory); err != nil {
		t.Fatalf("run whose answer was lost: %v", err)
	}
	if b.LoseAnswers != 0 {
		t.Fatal("the fake lost no answer: the test shows nothing")
	}
	if n := len(b.Landed()); n != 1 {
		t.Errorf("%d pushes, want one: the first landed", n)
	}
	if _, ok := b.OnBranch(blogPostPath); !ok {
		t.Error("the post is not on the blog")
	}
}
