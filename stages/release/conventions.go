package release

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/blog"
	"github.com/async-rs/embargo/templates"
)

// RecordedConventions are the conventions the post is rendered with: the
// seal's when the release was sealed with them, else the ones preflight
// recorded; from names which.
func RecordedConventions(r *Run) (conv templates.Conventions, from string, ok bool) {
	if r.StateDir != "" && !r.Mode.Reseal() {
		if m, sealed, err := ReadSeal(r.StateDir); err == nil && sealed && m.Blog != nil {
			return *m.Blog, "the seal", true
		}
	}
	if r.Journal == nil {
		return templates.Conventions{}, "", false
	}
	if pc, ok := pipeline.Load(r.Journal, ConventionsKey); ok && pc.Tip != "" {
		return pc.Conventions, Preflight, true
	}
	return templates.Conventions{}, "", false
}

// RenderConventions are the conventions `embargo render` renders the post
// with, reading no network: the seal's or a run's record, else those of
// the blog's posts as the private clone last fetched them (`check`
// records nothing, but fetches the blog there). from says which; "" when
// nothing was read yet and the post keeps the template's own front matter.
func RenderConventions(r *Run) (conv templates.Conventions, from string, err error) {
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
func SealedConventions(r *Run) *templates.Conventions {
	if r.Config.Blog == nil {
		return nil
	}
	pc, ok := pipeline.Load(r.Journal, ConventionsKey)
	if !ok || pc.Tip == "" {
		return nil
	}
	return &pc.Conventions
}

// conventionsToPublish are the conventions the advisory and verify stages
// render the post with: the record, or, in a state directory without one
// (a fresh machine's `run --only advisory`), the conventions of the blog
// as it is, read from its branch: the post a run before it published was
// rendered from the same posts.
func conventionsToPublish(ctx context.Context, r *Run, m *templates.Model, openBlog BlogOpener) (templates.Conventions, error) {
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
		return templates.Conventions{}, fmt.Errorf("read the blog's conventions: %w", BlogFetchError(r.Config.Blog, err))
	}
	conv, err := LearnConventions(r, c, tip, m)
	if err != nil {
		return templates.Conventions{}, err
	}
	r.Infof("no preflight recorded the blog's conventions here: the post follows the blog's posts at %s (%s)", Short(tip), conv.Summary())
	return conv, nil
}

// LearnConventions reads the conventions of the blog's posts at tip.
func LearnConventions(r *Run, c BlogSite, tip plumbing.Hash, m *templates.Model) (templates.Conventions, error) {
	site, err := c.Site(tip)
	if err != nil {
		return templates.Conventions{}, err
	}
	return blog.Learn(site, r.Config.Blog.Style, m.PostPath)
}
