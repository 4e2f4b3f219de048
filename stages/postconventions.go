package stages

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/blog"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/templates"
)

// The post follows the blog's own conventions (the shape of its posts'
// front matter), read by preflight before T0 and kept: preflight's step
// records them, the seal freezes them, and everything that renders the
// post afterwards (render, seal, the advisory stage at T0, verify) renders
// it with the record. So the post published at T0 is, byte for byte, the
// post that was checked and sealed: the advisory stage never reads the
// live site to decide what the post looks like.

// RecordedConventions are the conventions the post is rendered with: the
// seal's when the release was sealed with them, else the ones preflight
// recorded; from names which.
func RecordedConventions(r *release.Run) (conv templates.Conventions, from string, ok bool) {
	if r.StateDir != "" && !r.Mode.Reseal() {
		if m, sealed, err := ReadSeal(r); err == nil && sealed && m.Blog != nil {
			return *m.Blog, "the seal", true
		}
	}
	if r.Journal == nil {
		return templates.Conventions{}, "", false
	}
	if pc, ok := pipeline.Load(r.Journal, ConventionsKey); ok && pc.Tip != "" {
		return pc.Conventions, release.Preflight, true
	}
	return templates.Conventions{}, "", false
}

// RenderConventions are the conventions `embargo render` renders the post
// with, reading no network: the seal's or a run's record, else those of
// the blog's posts as the private clone last fetched them (`check`
// records nothing, but fetches the blog there). from says which; "" when
// nothing was read yet and the post keeps the template's own front matter.
func RenderConventions(r *release.Run) (conv templates.Conventions, from string, err error) {
	if r.Config.Blog == nil {
		return conv, "no blog", nil
	}
	if conv, from, ok := RecordedConventions(r); ok {
		return conv, from, nil
	}
	dir := filepath.Join(r.StateDir, "blog")
	if _, err := os.Stat(dir); err != nil {
		return conv, "", nil
	}
	c, err := blog.Open(dir, r.Targets.Blog.URL, r.Config.Blog.Branch, nil)
	if err != nil {
		return conv, "", err
	}
	tip, ok := c.Tip()
	if !ok {
		return conv, "", nil
	}
	m, err := AdvisoryModel(r.Config)
	if err != nil {
		return conv, "", err
	}
	if conv, err = LearnConventions(r, c, tip, m); err != nil {
		return conv, "", err
	}
	return conv, "the blog as last fetched, at " + Short(tip), nil
}

// SealedConventions are the conventions a seal made now freezes: what
// preflight recorded, or nil without a blog.
func SealedConventions(r *release.Run) *templates.Conventions {
	if r.Config.Blog == nil {
		return nil
	}
	pc, ok := pipeline.Load(r.Journal, ConventionsKey)
	if !ok || pc.Tip == "" {
		return nil
	}
	return &pc.Conventions
}

// ConventionsToPublish are the conventions the advisory and verify stages
// render the post with: the record, or, in a state directory without one
// (a fresh machine's `run --only advisory`), the conventions of the blog
// as it is, read from its branch: the post a run before it published was
// rendered from the same posts.
func ConventionsToPublish(ctx context.Context, r *release.Run, m *templates.Model, openBlog release.BlogOpener) (templates.Conventions, error) {
	if r.Config.Blog == nil {
		return templates.Conventions{}, nil
	}
	if conv, _, ok := RecordedConventions(r); ok {
		return conv, nil
	}
	c, err := openBlog(filepath.Join(r.StateDir, "blog"), r.Targets.Blog.URL, r.Config.Blog.Branch, r.Targets.Blog.Auth)
	if err != nil {
		return templates.Conventions{}, err
	}
	tip, err := c.Fetch(ctx)
	if err != nil {
		return templates.Conventions{}, fmt.Errorf("read the blog's conventions: %w", BlogFetchError(r, err))
	}
	conv, err := LearnConventions(r, c, tip, m)
	if err != nil {
		return templates.Conventions{}, err
	}
	r.Infof("no preflight recorded the blog's conventions here: the post follows the blog's posts at %s (%s)", Short(tip), conv.Summary())
	return conv, nil
}

// LearnConventions reads the conventions of the blog's posts at tip.
func LearnConventions(r *release.Run, c release.BlogSite, tip plumbing.Hash, m *templates.Model) (templates.Conventions, error) {
	site, err := c.Site(tip)
	if err != nil {
		return templates.Conventions{}, err
	}
	return blog.Learn(site, r.Config.Blog.Style, m.PostPath)
}

// conventions is preflight's step that reads how the blog's posts write
// their front matter, before the advisory is rendered to follow them. It
// fetches the blog's branch into the private clone, which the blog's own
// check then reads.
func (c *checking) conventions(ctx context.Context) {
	r, cfg := c.r, c.cfg
	if cfg.Blog == nil {
		return
	}
	bc, err := blog.Open(filepath.Join(r.StateDir, "blog"), r.Targets.Blog.URL, cfg.Blog.Branch, r.Targets.Blog.Auth)
	if err == nil {
		var tip plumbing.Hash
		var fetched bool
		if tip, fetched, err = recordConventions(ctx, r, bc, c.afterT0); fetched {
			c.blog, c.blogTip = bc, tip
		}
	}
	if err != nil {
		c.add("blog", "", "read the blog's conventions: %v", err)
	}
}

// conventionsClone is what reading the conventions needs of the blog's
// clone: its branch's tip, and the site there.
type conventionsClone interface {
	Fetch(ctx context.Context) (plumbing.Hash, error)
	release.BlogSite
}

// recordConventions is the conventions step: before T0 it reads the blog
// as it is; a release sealed with conventions keeps the sealed ones (and
// says when the blog has changed since), and after T0 what an earlier
// preflight recorded is kept, so that the post published is the post
// that was checked. A blog that cannot be fetched leaves the record as it
// was (the blog's check says why); fetched says whether it could.
func recordConventions(ctx context.Context, r *release.Run, bc conventionsClone, afterT0 bool) (tip plumbing.Hash, fetched bool, err error) {
	cfg := r.Config
	m, err := AdvisoryModel(cfg)
	if err != nil {
		return tip, false, nil // the advisory step reports it
	}
	prior, priorOK := pipeline.Load(r.Journal, ConventionsKey)
	_, err = pipeline.Step(r.Run, ConventionsKey, func(res *PostConventions) error {
		var err error
		if tip, err = bc.Fetch(ctx); err != nil {
			if priorOK {
				*res = prior
			}
			return nil
		}
		fetched = true
		learnt, err := LearnConventions(r, bc, tip, m)
		if err != nil {
			return err
		}
		*res = PostConventions{Branch: cfg.Blog.Branch, Tip: tip.String(), Read: r.Now().UTC(), Conventions: learnt}
		switch sealed, from, ok := RecordedConventions(r); {
		case ok && from == "the seal":
			res.Conventions, res.Kept = sealed, "as sealed"
			if !learnt.Equal(sealed) && !afterT0 {
				r.Warnf("the blog's posts are written otherwise now than when the release was sealed (now: %s): the post follows them as sealed; seal again (`embargo seal`) to follow the blog as it is", learnt.Summary())
			}
		case afterT0 && !r.Mode.Rehearsal() && priorOK && prior.Tip != "" && prior.Branch == cfg.Blog.Branch:
			*res = prior
			res.Kept = "as read at " + prior.Read.Format("2006-01-02 15:04:05Z")
		}
		return nil
	})
	return tip, fetched, err
}
