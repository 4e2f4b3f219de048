package stages

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/blog"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/retry"
	"github.com/async-rs/embargo/templates"
)

// Advisory commits the rendered post, and its entry in the blog's feed, to
// the blog repository and pushes it.
type Advisory struct {
	Blog  release.BlogOpener
	Index release.IndexOpener
}

func (Advisory) Name() string { return release.Advisory }

// Needs: the advisory tells users to upgrade to versions that must exist.
func (Advisory) Needs() []string { return []string{release.Publish} }
func (Advisory) Summary() string {
	return "the advisory post and its feed entry committed to the blog and pushed; remote branch verified"
}

func (Advisory) Skip(cfg *config.Config) string {
	if cfg.Blog == nil {
		return "no [blog] configured: publish the advisory by hand within the window"
	}
	return ""
}

// Plan names where the post and the feed entry go. The repository is left
// out: a URL may carry credentials.
func (Advisory) Plan(cfg *config.Config) []string {
	if cfg.Blog == nil {
		return nil
	}
	var out []string
	if m, err := AdvisoryModel(cfg); err == nil {
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

// BlogChange is what the blog still needs: the files to write on top of
// the tip it was computed against, or nothing.
type BlogChange struct {
	Tip   plumbing.Hash
	Files map[string][]byte
	// Replaced is set when --force replaces a post with other content.
	Replaced bool
}

func (ch *BlogChange) Paths() string {
	return strings.Join(slices.Sorted(maps.Keys(ch.Files)), ", ")
}

func (s Advisory) Run(ctx context.Context, r *release.Run) error {
	if !r.Selected(release.Gate) {
		// Run without the gate (--from, --only): the late-start rule is
		// this stage's to apply.
		if err := CheckLateStart(r); err != nil {
			return err
		}
	}
	p := &posting{Advisory: s, r: r, cfg: r.Config}
	return RunSteps(ctx,
		Step(r, PostRenderedKey, p.render), // the post and the feed entry, as preflight checked them
		Step(r, blogFetchedKey, p.clone),   // the blog's branch, fetched into the private clone
		Step(r, postCommittedKey, p.write), // the commit, made privately: nothing public yet
		Step(r, postPushedKey, p.push),     // the one public write, behind the gate
		Step(r, postOnBlogKey, p.verify),   // the remote branch holds the post
	)
}

// posting is the advisory stage's work, a step a method: what each step
// learns (the rendered post, the clone and its tip, the change and its
// commit, what was pushed) the next one uses.
type posting struct {
	Advisory // the clients
	r        *release.Run
	cfg      *config.Config
	model    *templates.Model
	post     templates.File
	c        release.BlogClone
	tip      plumbing.Hash // the blog's branch when fetched
	change   *BlogChange   // what the blog still needs; nil when it has it all
	commit   plumbing.Hash
	pushed   plumbing.Hash // the commit the branch must contain
}

// want is what the blog at tip still needs of the rendered post and feed.
func (p *posting) want(tip plumbing.Hash) (*BlogChange, error) {
	return BlogWants(p.r, p.c, tip, p.model, p.post)
}

func (p *posting) render(ctx context.Context, res *PostRendered) error {
	r := p.r
	m, out, err := AdvisoryOutputs(ctx, r, p.Index, p.Blog)
	if err != nil {
		return err
	}
	p.model, p.post = m, out.Post
	sum := sha256.Sum256(p.post.Content)
	digest := hex.EncodeToString(sum[:])
	if checked, ok := pipeline.Load(r.Journal, AdvisoryCheckedKey); ok && checked.Outputs[p.post.Path] != "" && checked.Outputs[p.post.Path] != digest {
		r.Warnf("the post renders differently than at preflight (the registry's versions or the templates changed since): publishing it as rendered now; `embargo render` shows it")
	}
	*res = PostRendered{ID: m.ID, Post: p.post.Path, Sha256: digest, URL: m.URL, Bytes: len(p.post.Content)}
	return nil
}

func (p *posting) clone(ctx context.Context, res *BlogFetched) error {
	r := p.r
	var err error
	if p.c, err = p.Blog(filepath.Join(r.StateDir, "blog"), r.Targets.Blog.URL, p.cfg.Blog.Branch, r.Targets.Blog.Auth); err != nil {
		return err
	}
	if p.tip, err = p.c.Fetch(ctx); err != nil {
		return BlogFetchError(r, err)
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
		res.Text = fmt.Sprintf("already published: %s is on %s at %s with the rendered content", p.post.Path, p.cfg.Blog.Branch, Short(p.tip))
		return nil
	}
	if p.commit, err = BlogCommit(p.r, p.c, p.change, p.model); err != nil {
		return err
	}
	res.Commit, res.Files = p.commit.String(), slices.Sorted(maps.Keys(p.change.Files))
	res.Text = fmt.Sprintf("commit %s on %s writes %s", Short(p.commit), Short(p.tip), p.change.Paths())
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
				if !Transient(err) {
					return BlogFetchError(r, err)
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
				res.Text = fmt.Sprintf("already on the blog: %s is on %s at %s with the rendered content", p.post.Path, cfg.Blog.Branch, Short(t))
				return nil
			}
			if p.commit, err = BlogCommit(r, c, p.change, p.model); err != nil {
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
			res.Text = fmt.Sprintf("pushed %s to %s at %s", Short(p.commit), cfg.Blog.Branch, start.UTC().Format("15:04:05.000"))
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
		case Transient(err):
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
			return BlogFetchError(r, err)
		}
		if in, err := c.IsAncestor(p.pushed, remote); err != nil {
			return err
		} else if !in {
			return fmt.Errorf("the blog's %s is at %s, which does not contain %s: someone rewrote the branch", cfg.Blog.Branch, Short(remote), Short(p.pushed))
		}
		if ch, err := p.want(remote); err != nil {
			return err
		} else if ch != nil {
			return fmt.Errorf("the blog's %s at %s no longer holds the rendered %s", cfg.Blog.Branch, Short(remote), ch.Paths())
		}
	}
	res.Post, res.Branch, res.Tip, res.URL = p.post.Path, cfg.Blog.Branch, remote.String(), p.model.URL
	return nil
}

// BlogWants compares the blog at tip with the rendered post and feed and
// returns what must still be written, or nil when the blog has it all. A
// post with other content is an error naming the file, unless --force.
func BlogWants(r *release.Run, c release.BlogFiles, tip plumbing.Hash, m *templates.Model, post templates.File) (*BlogChange, error) {
	ch := &BlogChange{Tip: tip, Files: map[string][]byte{}}
	have, exists, err := c.File(tip, post.Path)
	if err != nil {
		return nil, err
	}
	switch {
	case !exists:
		ch.Files[post.Path] = post.Content
	case !bytes.Equal(have, post.Content):
		if !r.Mode.Force {
			return nil, &pipeline.RerunError{From: release.Advisory, Force: true, Err: fmt.Errorf("%s already exists on the blog's %s (at %s) with other content: compare it with `embargo render`; a re-run with --force replaces it",
				post.Path, r.Config.Blog.Branch, Short(tip))}
		}
		r.Warnf("%s on the blog has other content: replacing it (--force)", post.Path)
		ch.Files[post.Path] = post.Content
		ch.Replaced = true
	}
	if feed := r.Config.Blog.Feed; feed != "" {
		existing, _, err := c.File(tip, feed)
		if err != nil {
			return nil, err
		}
		updated, err := templates.UpdateFeed(existing, templates.KindFor(feed), m, feedTitle(m), siteURL(m.URL))
		if err != nil {
			return nil, fmt.Errorf("feed %s on the blog: %w", feed, err)
		}
		// UpdateFeed changes nothing when the entry is there as rendered.
		if !bytes.Equal(updated, existing) {
			ch.Files[feed] = updated
		}
	}
	if len(ch.Files) == 0 {
		return nil, nil
	}
	return ch, nil
}

// BlogCommit commits a change as the handler, now.
func BlogCommit(r *release.Run, c release.BlogClone, ch *BlogChange, m *templates.Model) (plumbing.Hash, error) {
	sig := Tagger(r.Config)
	sig.When = r.Now()
	msg := fmt.Sprintf("%s: %s\n\nSecurity advisory for %s.\n", m.ID, m.Title, m.Package)
	return c.Commit(ch.Tip, ch.Files, sig, msg)
}

func feedTitle(m *templates.Model) string { return m.Package + " security advisories" }

// siteURL is the site the post is served from: its URL's scheme and host.
func siteURL(postURL string) string {
	u, err := url.Parse(postURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/"
}

func BlogFetchError(r *release.Run, err error) error {
	if errors.Is(err, blog.ErrNoBranch) {
		return fmt.Errorf("the blog repository %s has no branch %s: check blog.branch", r.Config.Blog.Repo, r.Config.Blog.Branch)
	}
	return err
}

func blogBackoff(ctx context.Context, r *release.Run, attempt int, err error) error {
	wait, exhausted := blogRetry.Next(r.Now(), attempt, err)
	if exhausted != nil {
		return nil // the loop ends with the last error
	}
	r.Warnf("blog attempt %d failed (%v); trying again in %s", attempt, err, wait)
	return retry.Sleep(ctx, r.Gate.Clock, wait)
}
