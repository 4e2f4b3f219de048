package preflight

import (
	"context"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/blog"
	"github.com/async-rs/embargo/stages/release"
)

// The post follows the blog's own conventions (the shape of its posts'
// front matter), read by preflight before T0 and kept: preflight's step
// records them, the seal freezes them, and everything that renders the
// post afterwards (render, seal, the advisory stage at T0, verify) renders
// it with the record. So the post published at T0 is, byte for byte, the
// post that was checked and sealed: the advisory stage never reads the
// live site to decide what the post looks like.

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
	m, err := release.AdvisoryModel(cfg)
	if err != nil {
		return tip, false, nil // the advisory step reports it
	}
	prior, priorOK := pipeline.Load(r.Journal, release.ConventionsKey)
	_, err = pipeline.Step(r.Run, release.ConventionsKey, func(res *release.PostConventions) error {
		var err error
		if tip, err = bc.Fetch(ctx); err != nil {
			if priorOK {
				*res = prior
			}
			return nil
		}
		fetched = true
		learnt, err := release.LearnConventions(r, bc, tip, m)
		if err != nil {
			return err
		}
		*res = release.PostConventions{Branch: cfg.Blog.Branch, Tip: tip.String(), Read: r.Now().UTC(), Conventions: learnt}
		switch sealed, from, ok := release.RecordedConventions(r); {
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
