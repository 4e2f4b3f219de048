package preflight

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/stages/blog"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/templates"
)

// checkAdvisory validates the model and renders every output, the post
// following the blog's conventions conv, so template and data errors
// surface before T0.
func checkAdvisory(ctx context.Context, r *release.Run, openIndex release.IndexOpener, conv templates.Conventions, res *release.AdvisoryChecked, add func(subject, fix, format string, args ...any)) (*templates.Model, *templates.Outputs, error) {
	cfg := r.Config
	m, err := release.AdvisoryModel(cfg)
	if err != nil {
		add("advisory", "", "%v", err)
		return nil, nil, nil
	}
	for _, f := range m.Validate() {
		add(f.Subject, f.Fix, "%s", f.Msg)
	}
	for _, w := range m.RustSecWarnings() {
		r.Warnf("%s", w)
	}
	if m.Date.After(cfg.T0()) {
		add("advisory.date", "the post must not be dated after T0", "advisory.date %s is after T0", m.Date.Format("2006-01-02"))
	}
	idx, err := openIndex(r.Targets.Registry, release.Clock(r.Gate))
	if err != nil {
		return nil, nil, err
	}
	versions, err := release.PackageVersions(ctx, idx, cfg.Advisory.Package)
	if err != nil {
		return nil, nil, fmt.Errorf("read the versions of %s on the registry: %w", cfg.Advisory.Package, err)
	}
	if noFix := m.NoFixSeries(versions); len(noFix) > 0 {
		res.NoFix = noFix
		r.Warnf("series %s of %s get no fix: the advisory tells their users what to upgrade to; check no maintained line is missing", strings.Join(noFix, ", "), cfg.Advisory.Package)
	}
	out, err := release.RenderAdvisory(cfg, m, conv, versions)
	if err != nil {
		add("advisory", "fix the template or the data it names", "%v", err)
		return nil, nil, nil
	}
	for _, f := range out.Files() {
		sum := sha256.Sum256(f.Content)
		if res.Outputs == nil {
			res.Outputs = map[string]string{}
		}
		res.Outputs[f.Path] = hex.EncodeToString(sum[:])
	}
	res.Text = fmt.Sprintf("%s rendered (%d outputs), %d registry versions classified", m.ID, len(out.Files()), len(versions))
	return m, out, nil
}

// checkBlog reads the blog before T0 (and warms the private clone the
// advisory stage pushes from): the branch exists, the post is not public yet
// (that would be a leak), and the post and feed can be written. c is the
// clone as the conventions step fetched it at tip, or nil when it could
// not: then it is fetched here, and the reason it fails is a finding.
func checkBlog(ctx context.Context, r *release.Run, c *blog.Clone, tip plumbing.Hash, m *templates.Model, out *templates.Outputs, afterT0 bool, res *BlogChecked, add func(subject, fix, format string, args ...any)) error {
	cfg := r.Config
	if c == nil {
		var err error
		if c, err = blog.Open(filepath.Join(r.StateDir, "blog"), r.Targets.Blog.URL, cfg.Blog.Branch, r.Targets.Blog.Auth); err != nil {
			return err
		}
		tip, err = c.Fetch(ctx)
		if errors.Is(err, blog.ErrNoBranch) {
			add("blog.branch", fmt.Sprintf("check blog.branch in %s: a branch of blog.repo (`git ls-remote %s`)", cfg.Path, r.Targets.Blog.URL),
				"%s has no branch %s", r.Targets.Blog.URL, cfg.Blog.Branch)
			return nil
		}
		if err != nil {
			g := blogRemote(r)
			if r.Targets.Blog.Auth == nil {
				g = g.anonymous()
			}
			f := remoteFinding(r, g, false, err)
			add(f.Subject, f.Fix, "%s", f.Msg)
			return errUnread
		}
	}
	res.Branch, res.Tip = cfg.Blog.Branch, tip.String()
	if _, exists, err := c.File(tip, out.Post.Path); err != nil {
		return err
	} else if exists && !afterT0 {
		add("blog", "the advisory is public: treat the embargo as broken and follow the policy", "LEAK: %s is already on the blog's %s before T0", out.Post.Path, cfg.Blog.Branch)
		return nil
	}
	change, err := release.BlogWants(r, c, tip, m, out.Post)
	if err != nil {
		add("blog", "", "%v", err)
		return nil
	}
	if err := checkConventions(r, c, tip, m, out.Post, res, add); err != nil {
		return err
	}
	if err := checkSiteBuild(ctx, r, c, tip, m, out.Post, change, res, add); err != nil {
		return err
	}
	return nil
}
