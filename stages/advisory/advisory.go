// Package advisory is the stage that commits the rendered post, and its
// entry in the blog's feed, to the blog repository and pushes it, after
// publish: the advisory tells users to upgrade to versions that exist.
package advisory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/blog"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/retry"
	"github.com/async-rs/embargo/templates"
)

// Stage commits the rendered post, and its entry in the blog's feed, to
// the blog repository and pushes it.
type Stage struct {
	Blog  release.BlogOpener
	Index release.IndexOpener
}

func (Stage) Name() string { return release.Advisory }

// Needs: the advisory tells users to upgrade to versions that must exist,
// and follows the mail to the announcement list (the Rust Security
// Response WG's order; a skipped announce counts as done).
func (Stage) Needs() []string { return []string{release.Publish, release.Announce} }
func (Stage) Summary() string {
	return "the advisory post and its feed entry committed to the blog and pushed; remote branch verified"
}

func (Stage) Skip(cfg *config.Config) string {
	if cfg.Blog == nil {
		return "no [blog] configured: publish the advisory by hand within the window"
	}
	return ""
}

// Plan names where the post and the feed entry go. The repository is left
// out: a URL may carry credentials.
func (Stage) Plan(cfg *config.Config) []string {
	if cfg.Blog == nil {
		return nil
	}
	var out []string
	if m, err := release.AdvisoryModel(cfg); err == nil {
		out = append(out, fmt.Sprintf("post %s on the blog's %s", m.PostPath, cfg.Blog.Branch))
	}
	if cfg.Blog.Feed != "" {
		out = append(out, "feed entry in "+cfg.Blog.Feed)
	}
	return out
}

// blogRetry is how the rounds of fetch, commit and push are tried again
// when the network fails; each round looks at the blog's branch first.
// blogAttempts bounds the rounds, also when others push meanwhile.
var blogRetry = retry.Policy{Attempts: blogAttempts, First: time.Second}

const blogAttempts = 5

func (s Stage) Run(ctx context.Context, r *release.Run) error {
	if !r.Selected(release.Gate) {
		// Run without the gate (--from, --only): the late-start rule is
		// this stage's to apply.
		if err := release.CheckLateStart(r); err != nil {
			return err
		}
	}
	p := &posting{Stage: s, r: r, cfg: r.Config}
	return release.RunSteps(ctx,
		release.Step(r, release.PostRenderedKey, p.render), // the post and the feed entry, as preflight checked them
		release.Step(r, blogFetchedKey, p.clone),           // the blog's branch, fetched into the private clone
		release.Step(r, postCommittedKey, p.write),         // the commit, made privately: nothing public yet
		release.Step(r, postPushedKey, p.push),             // the one public write, behind the gate
		release.Step(r, postOnBlogKey, p.verify),           // the remote branch holds the post
	)
}

// posting is the advisory stage's work, a step a method: what each step
// learns (the rendered post, the clone and its tip, the change and its
// commit, what was pushed) the next one uses.
type posting struct {
	Stage  // the clients
	r      *release.Run
	cfg    *config.Config
	model  *templates.Model
	post   templates.File
	c      release.BlogClone
	tip    plumbing.Hash       // the blog's branch when fetched
	change *release.BlogChange // what the blog still needs; nil when it has it all
	commit plumbing.Hash
	pushed plumbing.Hash // the commit the branch must contain
}

// want is what the blog at tip still needs of the rendered post and feed.
func (p *posting) want(tip plumbing.Hash) (*release.BlogChange, error) {
	return release.BlogWants(p.r, p.c, tip, p.model, p.post)
}

func (p *posting) render(ctx context.Context, res *release.PostRendered) error {
	r := p.r
	m, out, err := release.AdvisoryOutputs(ctx, r, p.Index, p.Blog)
	if err != nil {
		return err
	}
	p.model, p.post = m, out.Post
	sum := sha256.Sum256(p.post.Content)
	digest := hex.EncodeToString(sum[:])
	if checked, ok := pipeline.Load(r.Journal, release.AdvisoryCheckedKey); ok && checked.Outputs[p.post.Path] != "" && checked.Outputs[p.post.Path] != digest {
		r.Warnf("the post renders differently than at preflight (the registry's versions or the templates changed since): publishing it as rendered now; `embargo render` shows it")
	}
	*res = release.PostRendered{ID: m.ID, Post: p.post.Path, Sha256: digest, URL: m.URL, Bytes: len(p.post.Content)}
	return nil
}

func (p *posting) clone(ctx context.Context, res *BlogFetched) error {
	r := p.r
	var err error
	if p.c, err = p.Blog(filepath.Join(r.StateDir, "blog"), r.Targets.Blog.URL, p.cfg.Blog.Branch, r.Targets.Blog.Auth); err != nil {
		return err
	}
	if p.tip, err = p.c.Fetch(ctx); err != nil {
		return release.BlogFetchError(r.Config.Blog, err)
	}
	p.pushed = p.tip
	res.Branch, res.Tip = p.cfg.Blog.Branch, p.tip.String()
	return nil
}

// write commits the change in the private clone, where nothing is public:
// only the push writes publicly, and the gate guards that.
func (p *posting) write(_ context.Context, res *PostCommitted) error {
	var err error
	if p.change, err = p.want(p.tip); err != nil {
		return err
	}
	if p.change == nil {
		res.Text = fmt.Sprintf("already published: %s is on %s at %s with the rendered content", p.post.Path, p.cfg.Blog.Branch, release.Short(p.tip))
		return nil
	}
	if p.commit, err = blogCommit(p.r, p.c, p.change, p.model); err != nil {
		return err
	}
	res.Commit, res.Files = p.commit.String(), slices.Sorted(maps.Keys(p.change.Files))
	res.Text = fmt.Sprintf("commit %s on %s writes %s", release.Short(p.commit), release.Short(p.tip), p.change.Paths())
	return nil
}

// push makes the commit public, looking at the branch again before each
// further try: someone may have pushed meanwhile, or an earlier try landed
// without its answer.
func (p *posting) push(ctx context.Context, res *PostPushed) error {
	r, cfg, c := p.r, p.cfg, p.c
	if p.change == nil {
		res.Text = "nothing to push: the blog already has the post"
		return nil
	}
	pipeline.Checkpoint("advisory.push.before")
	var lastErr error
	for attempt := 1; attempt <= blogAttempts; attempt++ {
		if attempt > 1 {
			// Look again: the branch moved or the last try failed.
			t, err := c.Fetch(ctx)
			if err != nil {
				if !release.Transient(err) {
					return release.BlogFetchError(r.Config.Blog, err)
				}
				lastErr = err
				if err := blogBackoff(ctx, r, attempt, err); err != nil {
					return err
				}
				continue
			}
			if p.change, err = p.want(t); err != nil {
				return err
			}
			if p.change == nil {
				p.pushed = t
				// An earlier attempt whose answer was lost, or
				// someone else, published it.
				res.Text = fmt.Sprintf("already on the blog: %s is on %s at %s with the rendered content", p.post.Path, cfg.Blog.Branch, release.Short(t))
				return nil
			}
			if p.commit, err = blogCommit(r, c, p.change, p.model); err != nil {
				return err
			}
		}
		// The gate is asked by the step that writes, right before it
		// writes.
		if err := r.Gate.Allow("push the advisory to the blog"); err != nil {
			return err
		}
		start := r.Now()
		err := c.Push(ctx, p.commit)
		if err == nil {
			pipeline.Checkpoint("advisory.push.after")
			p.pushed = p.commit
			res.Commit, res.Parent, res.PushedAt, res.Attempts = p.commit.String(), p.change.Tip.String(), start.UTC(), attempt
			res.Text = fmt.Sprintf("pushed %s to %s at %s", release.Short(p.commit), cfg.Blog.Branch, start.UTC().Format("15:04:05.000"))
			if p.change.Replaced {
				res.Replaced = p.post.Path
				res.Text += "; replaced the post that had other content (--force)"
			}
			return nil
		}
		switch {
		case errors.Is(err, blog.ErrNonFastForward):
			if attempt < blogAttempts {
				r.Warnf("the blog's %s moved since it was fetched (someone pushed meanwhile): fetching it and committing the advisory again on top", cfg.Blog.Branch)
			}
		case release.Transient(err):
			if err := blogBackoff(ctx, r, attempt, err); err != nil {
				return err
			}
		default:
			return fmt.Errorf("push to the blog refused: %w", err)
		}
		lastErr = err
	}
	return fmt.Errorf("the advisory could not be pushed to the blog's %s after %d attempts: %w", cfg.Blog.Branch, blogAttempts, lastErr)
}

// verify reads the remote branch: it holds what was pushed, or a later
// commit that still has the rendered post and feed.
func (p *posting) verify(ctx context.Context, res *PostOnBlog) error {
	r, cfg, c := p.r, p.cfg, p.c
	remote, ok, err := c.RemoteTip(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("the blog's %s is gone from %s", cfg.Blog.Branch, cfg.Blog.Repo)
	}
	if remote != p.pushed {
		// Someone may have pushed on top since: fine, as long as
		// our commit and the post are still there.
		if remote, err = c.Fetch(ctx); err != nil {
			return release.BlogFetchError(r.Config.Blog, err)
		}
		if in, err := c.IsAncestor(p.pushed, remote); err != nil {
			return err
		} else if !in {
			return fmt.Errorf("the blog's %s is at %s, which does not contain %s: someone rewrote the branch", cfg.Blog.Branch, release.Short(remote), release.Short(p.pushed))
		}
		if ch, err := p.want(remote); err != nil {
			return err
		} else if ch != nil {
			return fmt.Errorf("the blog's %s at %s no longer holds the rendered %s", cfg.Blog.Branch, release.Short(remote), ch.Paths())
		}
	}
	res.Post, res.Branch, res.Tip, res.URL = p.post.Path, cfg.Blog.Branch, remote.String(), p.model.URL
	return nil
}

func blogBackoff(ctx context.Context, r *release.Run, attempt int, err error) error {
	wait, exhausted := blogRetry.Next(r.Now(), attempt, err)
	if exhausted != nil {
		return nil // the loop ends with the last error
	}
	r.Warnf("blog attempt %d failed (%v); trying again in %s", attempt, err, wait)
	return retry.Sleep(ctx, r.Gate.Clock, wait)
}

// blogCommit commits a change as the handler, now.
func blogCommit(r *release.Run, c release.BlogClone, ch *release.BlogChange, m *templates.Model) (plumbing.Hash, error) {
	sig := release.Tagger(r.Config)
	sig.When = r.Now()
	msg := fmt.Sprintf("%s: %s\n\nSecurity advisory for %s.\n", m.ID, m.Title, m.Package)
	return c.Commit(ch.Tip, ch.Files, sig, msg)
}
