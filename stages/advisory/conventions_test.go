package advisory

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// readingPreflight is a preflight that records the blog's conventions as
// open reads them, as preflight's conventions step does before T0, and
// nothing else: what the advisory stage depends on of preflight here.
func readingPreflight(open release.BlogOpener) releasetest.Stage {
	return releasetest.Stage{Fn: func(r *release.Run) error {
		c, err := open("", r.Targets.Blog.URL, r.Config.Blog.Branch, nil)
		if err != nil {
			return err
		}
		tip, err := c.Fetch(context.Background())
		if err != nil {
			return err
		}
		m, err := release.AdvisoryModel(r.Config)
		if err != nil {
			return err
		}
		conv, err := release.LearnConventions(r, c, tip, m)
		if err != nil {
			return err
		}
		_, err = pipeline.Step(r.Run, release.ConventionsKey, func(res *release.PostConventions) error {
			*res = release.PostConventions{Branch: r.Config.Blog.Branch, Tip: tip.String(), Read: r.Now().UTC(), Conventions: conv}
			return nil
		})
		return err
	}}
}

// The blog's hugo posts write their one tag as a string and are dated by
// day; preflight reads that before T0, and the post follows it. A post of
// another shape pushed to the blog before T0 changes nothing: at T0 the
// advisory stage publishes the post preflight checked, byte for byte, and
// never the one the blog's posts would now suggest.
func TestTheAdvisoryPublishesThePostAsCheckedBeforeT0(t *testing.T) {
	t.Parallel()
	r, clock, b, advisory := fakeBlogRun(t, releasetest.T0.Add(-time.Hour))
	b.PushOther(t, map[string][]byte{"content/hello.md": []byte("---\ntitle: Hello\ndate: 2026-01-10\ntags: news\nauthor: Ann\n---\n\nHi.\n")})
	pushes := len(b.Landed())

	err := releasetest.Execute(t, r, pipeline.Selection{}, readingPreflight(advisory.Blog), advisory)
	var early *pipeline.EarlyError
	if !errors.As(err, &early) {
		t.Fatalf("run before T0: %v, want the gate's refusal", err)
	}
	_, checked, err := release.AdvisoryOutputs(t.Context(), r, advisory.Index, advisory.Blog)
	if err != nil {
		t.Fatal(err)
	}
	if front := string(checked.Post.Content); !strings.Contains(front, "\ntags: security\n") || !strings.Contains(front, "\ndate: 2026-12-01\n") || strings.Contains(front, "summary:") {
		t.Fatalf("the post does not follow the blog's posts:\n%s", front)
	}

	// Before T0, someone posts with tags as a list and a full timestamp.
	clock.Advance(30 * time.Minute)
	b.PushOther(t, map[string][]byte{"content/later.md": []byte("---\ntitle: Later\ndate: 2026-12-01T13:00:00Z\ntags: [news, release]\nauthor: Ann\nsummary: s\n---\n\nHi.\n")})
	pushes++

	clock.Set(releasetest.T0.Add(2 * time.Second))
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "advisory"}, advisory); err != nil {
		t.Fatalf("run at T0: %v", err)
	}
	if n := len(b.Landed()); n != pushes+1 {
		t.Fatalf("%d pushes at T0, want 1", n-pushes)
	}
	got, ok := b.OnBranch(blogPostPath)
	if !ok || !bytes.Equal(got, checked.Post.Content) {
		t.Errorf("the blog holds\n%s\nwant the post checked before T0:\n%s", got, checked.Post.Content)
	}
	if rendered, _ := pipeline.Load(r.Journal, release.PostRenderedKey); rendered.Sha256 != releasetest.Sum(checked.Post.Content) {
		t.Errorf("the advisory stage rendered %s, preflight %s", rendered.Sha256, releasetest.Sum(checked.Post.Content))
	}
}

// A state directory without a record (a fresh machine's `run --only
// advisory`): the post follows the blog's posts as they are.
func TestWithoutARecordThePostFollowsTheBlogAsItIs(t *testing.T) {
	t.Parallel()
	r, _, b, advisory := fakeBlogRun(t, releasetest.T0.Add(time.Second))
	r.Mode.Late = true
	b.PushOther(t, map[string][]byte{"content/hello.md": []byte("---\ntitle: Hello\ndate: 2026-01-10\ntags: news\nauthor: Ann\n---\n\nHi.\n")})
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "advisory"}, advisory); err != nil {
		t.Fatalf("run: %v", err)
	}
	if got, _ := b.OnBranch(blogPostPath); !bytes.Contains(got, []byte("\ntags: security\n")) {
		t.Errorf("the post does not follow the blog's posts:\n%s", got)
	}
}
