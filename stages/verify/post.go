package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/retry"
	"github.com/async-rs/embargo/templates"
)

// Stage's look at the blog: the post and the feed entry at the blog
// branch's tip, and the post live at its URL.

// blogTip is the blog repository's branch tip, cloned into memory on first
// use: read only, and shared by the feed and post checks.
type blogTip struct {
	r      *release.Run
	commit *object.Commit
	err    error
	done   bool
}

func (b *blogTip) tip(ctx context.Context) (*object.Commit, error) {
	if b.done {
		return b.commit, b.err
	}
	b.done = true
	cfg := b.r.Config.Blog
	branch := plumbing.NewBranchReferenceName(cfg.Branch)
	repo, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{
		URL:           b.r.Targets.Blog.URL,
		Auth:          b.r.Targets.Blog.Auth,
		ReferenceName: branch,
		SingleBranch:  true,
		Depth:         1,
		Tags:          git.NoTags,
	})
	if err != nil {
		b.err = fmt.Errorf("read the blog repository %s: %w", cfg.Repo, err)
		return nil, b.err
	}
	ref, err := repo.Reference(branch, true)
	if err == nil {
		b.commit, err = repo.CommitObject(ref.Hash())
	}
	if err != nil {
		b.err = fmt.Errorf("read branch %s of the blog repository %s: %w", cfg.Branch, cfg.Repo, err)
	}
	return b.commit, b.err
}

// file reads a file at the tip; ok is false when it is not there.
func (b *blogTip) file(ctx context.Context, path string) (content []byte, ok bool, err error) {
	c, err := b.tip(ctx)
	if err != nil {
		return nil, false, err
	}
	f, err := c.File(path)
	if errors.Is(err, object.ErrFileNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	s, err := f.Contents()
	return []byte(s), err == nil, err
}

// --- feed ---

func verifyFeed(ctx context.Context, r *release.Run, blog *blogTip, m *templates.Model, res *FeedVerified) error {
	feed := r.Config.Blog.Feed
	b, ok, err := blog.file(ctx, feed)
	if err != nil {
		return err
	}
	where := fmt.Sprintf("%s at %s of %s", r.Config.Blog.Branch, release.Short(blog.commit.Hash), r.Targets.Blog.URL)
	res.Commit = blog.commit.Hash.String()
	if !ok {
		return pipeline.RerunFrom(release.Advisory, fmt.Errorf("the feed %s is not in the blog repository (%s)", feed, where))
	}
	ids, kind, err := templates.FeedIDs(b)
	if err != nil {
		return fmt.Errorf("the feed %s (%s): %w", feed, where, err)
	}
	for _, id := range ids {
		if id == m.URL {
			res.Text = fmt.Sprintf("%s feed %s has the entry %s", kind, feed, m.URL)
			return nil
		}
	}
	return pipeline.RerunFrom(release.Advisory, fmt.Errorf("the feed %s (%s) has no entry with id %s", feed, where, m.URL))
}

// --- post ---

// verifyPost polls the post's URL until it is live, or, where no site can
// be asked, finds the post in the blog repository.
func verifyPost(ctx context.Context, r *release.Run, blog *blogTip, m *templates.Model, out *templates.Outputs, res *PostVerified) error {
	u, why := postURL(r.Targets, m)
	if why != "" {
		res.URLChecked, res.URLNote = false, why
		r.Warnf("the post's URL %s is not checked: %s; checking the post is in the blog repository instead", m.URL, why)
		return postInRepo(ctx, r, blog, m, out, res)
	}
	res.URL, res.URLChecked = u, true
	obs, err := pollPost(ctx, r, u, release.PostMarkers(m))
	res.Attempts = obs.attempts
	if err != nil {
		return err
	}
	at := r.Now()
	res.LiveAt = at.UTC()
	res.Text = fmt.Sprintf("live at %s, %s after T0", u, pipeline.HumanDuration(at.Sub(r.Gate.T0).Round(time.Second)))
	return nil
}

// postURL is the URL to poll: the model's, with its site replaced by the
// targets' PostSite when there is one. A reason instead of a URL means
// none can be asked.
func postURL(t release.Targets, m *templates.Model) (string, string) {
	u, err := url.Parse(m.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Sprintf("blog.url gives %q, not an http(s) URL", m.URL)
	}
	if t.PostSite == "" && t.NoPostSite != "" {
		return "", t.NoPostSite
	}
	if t.PostSite != "" {
		site, err := url.Parse(t.PostSite)
		if err != nil || site.Host == "" {
			return "", fmt.Sprintf("the rehearsal's blog URL %q is not a URL", t.PostSite)
		}
		u.Scheme, u.Host, u.User = site.Scheme, site.Host, site.User
		u.Path = strings.TrimSuffix(site.Path, "/") + u.Path
		u.RawPath = ""
		return u.String(), ""
	}
	return u.String(), ""
}

// observation is the last answer of the post's URL.
type observation struct {
	attempts int
	last     string
}

// errNotThePost is a 200 whose page is not the post (a catch-all page, an
// index): polling goes on.
var errNotThePost = errors.New("the page does not contain the advisory's ID or title")

// pollPost asks url until it answers 200 with one of markers in the body,
// backing off from postPollMin to postPollMax on the gate's clock, with a
// last look at the deadline. A deadline already passed still gets one try.
func pollPost(ctx context.Context, r *release.Run, rawURL string, markers []string) (observation, error) {
	var obs observation
	deadline := r.Gate.Deadline()
	remaining := deadline.Sub(r.Now())
	polling := remaining > 0
	// The gate's clock ends the polling; this deadline also cuts off a
	// try still under way at the end of the window.
	pctx, cancel := context.WithTimeout(ctx, remaining)
	if !polling {
		pctx, cancel = context.WithTimeout(ctx, postTryTimeout)
	}
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return obs, fmt.Errorf("the post's URL %s: %w", rawURL, err)
	}
	req.Header.Set("User-Agent", "embargo")
	// A cache in front of the site may still hold the 404 of before T0.
	req.Header.Set("Cache-Control", "no-cache")
	hc := &http.Client{Timeout: postTryTimeout}

	p := retry.Policy{First: postPollMin, Max: postPollMax, MaxAsked: postPollMax, Deadline: deadline, LastAtDeadline: true}
	lastReport, reported := r.Now(), ""
	err = retry.Do(pctx, r.Gate.Clock, p, func(int) error {
		obs.attempts++
		err := askPost(pctx, hc, req.Clone(pctx), markers, r.Now())
		if err == nil {
			return nil
		}
		obs.last = err.Error()
		if polling && (obs.last != reported || r.Now().Sub(lastReport) >= postReportEvery) {
			r.Infof("the post is not live yet at %s (%s); asking again, less and less often, until %s",
				rawURL, obs.last, deadline.UTC().Format(time.RFC3339))
			reported, lastReport = obs.last, r.Now()
		}
		return err
	})
	if err == nil {
		return obs, nil
	}
	if ctx.Err() != nil {
		return obs, fmt.Errorf("interrupted while waiting for the post at %s: %w", rawURL, ctx.Err())
	}
	last := obs.last
	if last == "" {
		last = unwrapURLError(err).Error()
	}
	tries := fmt.Sprintf("%d tries", obs.attempts)
	if obs.attempts == 1 {
		tries = "1 try"
	}
	var ended *retry.Exhausted
	if errors.As(err, &ended) || pctx.Err() != nil || !r.Now().Before(deadline) {
		next := "publish it now: `embargo run --from advisory`"
		if state, _ := r.Journal.StageState(release.Advisory); state == pipeline.StateDone {
			next = "the advisory is in the blog repository: check the blog's build and deploy"
		}
		return obs, fmt.Errorf("the post is NOT LIVE at %s and the deadline %s (T0 + %s) has passed; last answer: %s (%s). %s; `embargo run --only verify` checks again and can be repeated",
			rawURL, deadline.UTC().Format(time.RFC3339), r.Gate.Window, last, tries, next)
	}
	return obs, fmt.Errorf("the post's URL %s cannot be checked: %s; `embargo run --only verify` checks again and can be repeated", rawURL, last)
}

// askPost asks once: nil for the post, else what was answered, retryable
// or not. Any other answer than the post may change as the blog deploys;
// a request that got none is classified as the retry package does.
func askPost(ctx context.Context, hc *http.Client, req *http.Request, markers []string, now time.Time) error {
	resp, err := hc.Do(req)
	if err != nil {
		return retry.RequestError(ctx, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return retry.Transient(retry.Answer(resp, now))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPostBytes))
	if err != nil {
		return retry.RequestError(ctx, unwrapURLError(err))
	}
	for _, m := range markers {
		if bytes.Contains(body, []byte(m)) {
			return nil
		}
	}
	return retry.Transient(errNotThePost)
}

// postInRepo checks the post is at its path at the blog branch's tip.
func postInRepo(ctx context.Context, r *release.Run, blog *blogTip, m *templates.Model, out *templates.Outputs, res *PostVerified) error {
	b, ok, err := blog.file(ctx, m.PostPath)
	if err != nil {
		return err
	}
	where := fmt.Sprintf("%s at %s of %s", r.Config.Blog.Branch, release.Short(blog.commit.Hash), r.Targets.Blog.URL)
	res.Commit, res.Path = blog.commit.Hash.String(), m.PostPath
	if !ok {
		return pipeline.RerunFrom(release.Advisory, fmt.Errorf("the post %s is not in the blog repository (%s)", m.PostPath, where))
	}
	found := false
	for _, s := range release.PostMarkers(m) {
		found = found || bytes.Contains(b, []byte(s))
	}
	if !found {
		return fmt.Errorf("%s in the blog repository (%s) is not the advisory: it has neither its ID nor its title", m.PostPath, where)
	}
	if !bytes.Equal(b, out.Post.Content) {
		r.Warnf("%s in the blog repository differs from the rendered advisory (edited since?)", m.PostPath)
	}
	res.Text = fmt.Sprintf("the post is in the blog repository (%s); its URL %s was not checked", where, m.URL)
	return nil
}

// --- timeline ---
