package preflight

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// conventionsStep is preflight's conventions step on the blog open gives,
// and nothing else.
func conventionsStep(open release.BlogOpener) releasetest.Stage {
	return releasetest.Stage{Fn: func(r *release.Run) error {
		c, err := open("", r.Targets.Blog.URL, r.Config.Blog.Branch, nil)
		if err != nil {
			return err
		}
		_, _, err = recordConventions(context.Background(), r, c, !r.Now().Before(r.Gate.T0))
		return err
	}}
}

// Preflight reads the blog's conventions before T0; run again after T0,
// it keeps what it read before T0 however the blog's posts are written
// now, so that the post published is the post checked.
func TestPreflightAfterT0KeepsTheConventionsReadBeforeT0(t *testing.T) {
	t.Parallel()
	r, clock, _ := releasetest.Run(t, releasetest.BlogConfig(), releasetest.T0.Add(-time.Hour), nil)
	blog := releasetest.NewBlog(clock, map[string][]byte{"content/_index.md": []byte("# demo\n")})
	blog.PushOther(t, map[string][]byte{"content/hello.md": []byte("---\ntitle: Hello\ndate: 2026-01-10\ntags: news\nauthor: Ann\n---\n\nHi.\n")})
	step := conventionsStep(blog.Opener(t))
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: release.Preflight}, step); err != nil {
		t.Fatal(err)
	}
	before, _ := pipeline.Load(r.Journal, release.ConventionsKey)
	if before.Conventions.Tags != "string" {
		t.Fatalf("preflight before T0 read %+v, want the tags the blog's post writes as a string", before)
	}

	// Someone posts with tags as a list and a full timestamp, and T0
	// passes.
	blog.PushOther(t, map[string][]byte{"content/later.md": []byte("---\ntitle: Later\ndate: 2026-12-01T13:00:00Z\ntags: [news, release]\nauthor: Ann\nsummary: s\n---\n\nHi.\n")})
	clock.Set(releasetest.T0.Add(2 * time.Second))
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: release.Preflight}, step); err != nil {
		t.Fatal(err)
	}
	if pc, _ := pipeline.Load(r.Journal, release.ConventionsKey); !strings.HasPrefix(pc.Kept, "as read at ") || pc.Conventions.Tags != "string" {
		t.Errorf("preflight after T0 recorded %+v, want what it read before T0", pc)
	}
}
