package stages

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/index"
	"github.com/async-rs/embargo/templates"
)

// Verify proves, at or after T0 and before T0 + window, that everything the
// release made public is live: every published .crate downloads with its
// sealed checksum, the post answers at its URL, the feed has its entry.
// It only reads, so `embargo run --only verify` can be repeated at will.
type Verify struct{}

func (Verify) Name() string { return "verify" }

// Needs: everything else is done.
func (Verify) Needs() []string { return []string{"push", "promote", "publish", "advisory", "ghsa"} }
func (Verify) Summary() string {
	return "everything live before T0 + window: sealed crates downloadable, the post at its URL, the feed entry; the timeline"
}

// Plan says what is checked, and by when.
func (Verify) Plan(cfg *pipeline.Config) []string {
	out := []string{"every published .crate downloaded and compared with its sealed sha256"}
	if cfg.Blog != nil {
		if m, err := AdvisoryModel(cfg); err == nil {
			out = append(out, "the post live at "+m.URL)
		}
		if cfg.Blog.Feed != "" {
			out = append(out, "the entry in "+cfg.Blog.Feed+" on the blog's "+cfg.Blog.Branch)
		}
	}
	if cfg.GHSA != nil {
		out = append(out, "the GitHub advisory "+cfg.GHSA.ID+" published with every line's ranges")
	}
	return append(out, fmt.Sprintf("all by %s (T0 + %s)", cfg.Deadline().Format(time.RFC3339), cfg.Window))
}

// Polling of the post's URL: the blog's own deploy takes from seconds to
// many minutes, so the wait starts short and grows to a minute between
// tries, until the deadline.
var (
	postPollMin    = time.Second
	postPollMax    = time.Minute
	postTryTimeout = 30 * time.Second
	// postReportEvery bounds how long polling goes on without a word.
	postReportEvery = 5 * time.Minute
)

// maxPostBytes bounds the page read at the post's URL.
const maxPostBytes = 16 << 20

// Results of the verify steps.
const (
	resURLChecked = "url_checked" // "true", or "false" with url_note saying why
	resURLNote    = "url_note"
	resLiveAt     = "live_at"
)

func (Verify) Run(ctx context.Context, r *pipeline.Run) error {
	now := r.Now()
	if early, _ := r.Gate.OpenedEarly(); now.Before(r.Gate.T0) && !early {
		return fmt.Errorf("verify checks what T0 made public, and T0 (%s) is %s away: run it at or after T0",
			r.Gate.T0.UTC().Format(time.RFC3339), r.Gate.T0.Sub(now).Round(time.Second))
	}
	// Every check runs even when one fails, so one run names every
	// problem. A failure before the post's check is also said at once:
	// the post may then be polled for hours.
	var errs []error
	fail := func(err error) {
		if err != nil {
			r.Warnf("%v", err)
			errs = append(errs, err)
		}
	}

	reg := openRegistry(ctx, r)
	for _, rel := range r.Config.Releases {
		fail(r.Step("crates "+rel.Line, func(res map[string]string) error {
			return verifyCrates(ctx, r, reg, rel, res)
		}))
	}

	if r.Config.Blog == nil {
		r.Infof("no [blog] in the config: there is no post or feed to check")
	} else {
		m, out, err := advisoryOutputs(ctx, r)
		if err != nil {
			fail(fmt.Errorf("render the advisory: %w", err))
		} else {
			blog := &blogTip{r: r}
			if r.Config.Blog.Feed != "" {
				fail(r.Step("feed", func(res map[string]string) error {
					return verifyFeed(ctx, r, blog, m, res)
				}))
			}
			if err := r.Step("post", func(res map[string]string) error {
				return verifyPost(ctx, r, blog, m, out, res)
			}); err != nil {
				errs = append(errs, err)
			}
		}
	}

	if r.Config.GHSA != nil {
		fail(r.Step("ghsa", func(res map[string]string) error { return verifyPublishedGHSA(ctx, r, res) }))
	}

	if err := r.Step("timeline", func(res map[string]string) error {
		if r.Config.Blog == nil {
			res["blog"] = "not configured: no post or feed checked"
		}
		return timeline(r, res)
	}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// --- crates ---

// registryReader reads the registry's index and downloads its crates, for
// every line; err, when set, is why it cannot, for each line to report.
type registryReader struct {
	idx *index.Client
	dl  string // config.json's dl
	err error
}

func openRegistry(ctx context.Context, r *pipeline.Run) *registryReader {
	idx, err := indexClient(r)
	if err != nil {
		return &registryReader{err: err}
	}
	icfg, err := idx.Config(ctx)
	if err != nil {
		return &registryReader{err: err}
	}
	if icfg.DL == "" {
		return &registryReader{err: fmt.Errorf("the registry's config.json at %s has no dl: there is nowhere to download crates from", idx.URL())}
	}
	// Downloads carry the token when the registry wants it to be read,
	// as the index reads do (index.Client.Download).
	return &registryReader{idx: idx, dl: icfg.DL}
}

// verifyCrates downloads every crate of a line from the registry and
// compares its sha256 with the sealed one, and with the index's.
func verifyCrates(ctx context.Context, r *pipeline.Run, reg *registryReader, rel pipeline.Release, res map[string]string) error {
	s, sealedOK, err := releaseSealed(r, rel)
	if err != nil {
		return err
	}
	order := s.order
	if !sealedOK {
		var err error
		if order, err = lineVersions(r, rel); err != nil {
			return err
		}
		r.Warnf("line %s: no sealed checksums in the journal; comparing the downloads with the checksums the index shows instead", rel.Line)
		res["compared_with"] = "index"
	} else {
		res["compared_with"] = "sealed"
	}
	if reg.err != nil {
		return reg.err
	}
	var problems []string
	missing := false
	for _, nv := range order {
		name, version := splitNV(nv)
		e, found, err := reg.idx.Lookup(ctx, name, version)
		if err != nil {
			return err
		}
		if !found {
			problems = append(problems, fmt.Sprintf("%s is not in the registry's index", nv))
			missing = true
			continue
		}
		want := e.Cksum
		if sealedOK {
			want = s.sha256[nv]
			if e.Cksum != want {
				problems = append(problems, fmt.Sprintf("%s: the index shows sha256 %s, not the sealed %s: stop and investigate", nv, e.Cksum, want))
				continue
			}
		}
		if e.Yanked {
			problems = append(problems, fmt.Sprintf("%s is yanked: users cannot get the fix", nv))
			continue
		}
		h := sha256.New()
		if err := reg.idx.Download(ctx, index.CrateURL(reg.dl, name, version, e.Cksum), h); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", nv, err))
			continue
		}
		got := hex.EncodeToString(h.Sum(nil))
		if got != want {
			problems = append(problems, fmt.Sprintf("%s: the registry serves a .crate with sha256 %s, not the %s %s: stop and investigate", nv, got, res["compared_with"], want))
			continue
		}
		res[nv] = got
	}
	if len(problems) > 0 {
		err := fmt.Errorf("line %s: %s", rel.Line, strings.Join(problems, "; "))
		if missing {
			return pipeline.RerunFrom("publish", err) // publish uploads what is missing
		}
		return err
	}
	how := "its sealed sha256"
	if !sealedOK {
		how = "the sha256 the index shows (no sealed checksums in the journal)"
	}
	res["summary"] = fmt.Sprintf("%d crate(s) downloaded from the registry, each with %s", len(order), how)
	return nil
}

// lineVersions lists a line's crates when the journal has no sealed
// checksums: from preflight's record of the line, else from the workspace
// at the held tip in the vault.
func lineVersions(r *pipeline.Run, rel pipeline.Release) ([]string, error) {
	if list := r.Journal.Result("preflight", lineStep(rel), resCrates); list != "" {
		return strings.Split(list, ","), nil
	}
	next := "run `embargo run --only preflight` first, so that the journal names them"
	v, err := openVault(r)
	if err != nil {
		return nil, fmt.Errorf("line %s: the journal does not name its crates, and the vault cannot be read (%v): %s", rel.Line, err, next)
	}
	held, ok := v.Held(rel.Branch)
	if !ok {
		return nil, fmt.Errorf("line %s: the journal does not name its crates, and the vault has no held branch %s: %s", rel.Line, rel.Branch, next)
	}
	crates, err := lineCrates(v, rel, held)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(crates))
	for i, c := range crates {
		out[i] = c.Name + "@" + c.Version
	}
	return out, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// --- the blog repository ---

// blogTip is the blog repository's branch tip, cloned into memory on first
// use: read only, and shared by the feed and post checks.
type blogTip struct {
	r      *pipeline.Run
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
		URL:           blogRepo(b.r),
		Auth:          blogAuth(b.r),
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

func verifyFeed(ctx context.Context, r *pipeline.Run, blog *blogTip, m *templates.Model, res map[string]string) error {
	feed := r.Config.Blog.Feed
	b, ok, err := blog.file(ctx, feed)
	if err != nil {
		return err
	}
	where := fmt.Sprintf("%s at %s of %s", r.Config.Blog.Branch, short(blog.commit.Hash), blogRepo(r))
	res["commit"] = blog.commit.Hash.String()
	if !ok {
		return pipeline.RerunFrom("advisory", fmt.Errorf("the feed %s is not in the blog repository (%s)", feed, where))
	}
	ids, kind, err := templates.FeedIDs(b)
	if err != nil {
		return fmt.Errorf("the feed %s (%s): %w", feed, where, err)
	}
	for _, id := range ids {
		if id == m.URL {
			res["summary"] = fmt.Sprintf("%s feed %s has the entry %s", kind, feed, m.URL)
			return nil
		}
	}
	return pipeline.RerunFrom("advisory", fmt.Errorf("the feed %s (%s) has no entry with id %s", feed, where, m.URL))
}

// --- post ---

// verifyPost polls the post's URL until it is live, or, where no site can
// be asked, finds the post in the blog repository.
func verifyPost(ctx context.Context, r *pipeline.Run, blog *blogTip, m *templates.Model, out *templates.Outputs, res map[string]string) error {
	u, why := postURL(r, m)
	if why != "" {
		res[resURLChecked], res[resURLNote] = "false", why
		r.Warnf("the post's URL %s is not checked: %s; checking the post is in the blog repository instead", m.URL, why)
		return postInRepo(ctx, r, blog, m, out, res)
	}
	res["url"] = u
	res[resURLChecked] = "true"
	obs, err := pollPost(ctx, r, u, postMarkers(m))
	res["attempts"] = strconv.Itoa(obs.attempts)
	if err != nil {
		return err
	}
	at := r.Now()
	res[resLiveAt] = at.UTC().Format(time.RFC3339Nano)
	res["summary"] = fmt.Sprintf("live at %s, %s after T0", u, at.Sub(r.Gate.T0).Round(time.Second))
	return nil
}

// postURL is the URL to poll: the model's, with its site replaced by the
// rehearsal's BlogURL when there is one. A reason instead of a URL means
// none can be asked.
func postURL(r *pipeline.Run, m *templates.Model) (string, string) {
	u, err := url.Parse(m.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Sprintf("blog.url gives %q, not an http(s) URL", m.URL)
	}
	if r.Targets != nil {
		if r.Targets.BlogURL == "" {
			return "", "a rehearsal publishes to a copy of the blog repository, which no site serves"
		}
		site, err := url.Parse(r.Targets.BlogURL)
		if err != nil || site.Host == "" {
			return "", fmt.Sprintf("the rehearsal's blog URL %q is not a URL", r.Targets.BlogURL)
		}
		u.Scheme, u.Host, u.User = site.Scheme, site.Host, site.User
		u.Path = strings.TrimSuffix(site.Path, "/") + u.Path
		u.RawPath = ""
		return u.String(), ""
	}
	return u.String(), ""
}

// postMarkers are the strings a page must contain to be the post: its ID
// or its title, as written or HTML-escaped.
func postMarkers(m *templates.Model) []string {
	set := []string{m.ID, m.Title, html.EscapeString(m.Title)}
	var out []string
	for _, s := range set {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
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
// backing off from postPollMin to postPollMax, until the deadline. A
// deadline already passed still gets one try.
func pollPost(ctx context.Context, r *pipeline.Run, rawURL string, markers []string) (observation, error) {
	var obs observation
	deadline := r.Gate.Deadline()
	remaining := deadline.Sub(r.Now())
	c := retryablehttp.NewClient()
	c.Logger = nil
	c.HTTPClient = &http.Client{Timeout: postTryTimeout}
	c.RetryWaitMin, c.RetryWaitMax = postPollMin, postPollMax
	c.RetryMax = math.MaxInt32
	pctx, cancel := context.WithTimeout(ctx, remaining)
	if remaining <= 0 {
		c.RetryMax = 0
		pctx, cancel = context.WithTimeout(ctx, postTryTimeout)
	}
	defer cancel()

	c.Backoff = func(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
		return min(retryablehttp.DefaultBackoff(lo, hi, attempt, resp), hi)
	}
	lastReport := time.Now()
	reported := ""
	c.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		switch {
		case err != nil:
			obs.last = unwrapURLError(err).Error()
		case resp.StatusCode != http.StatusOK:
			obs.last = resp.Status
		default:
			return false, nil
		}
		if c.RetryMax > 0 && (obs.last != reported || time.Since(lastReport) >= postReportEvery) {
			r.Infof("the post is not live yet at %s (%s); asking again, less and less often, until %s",
				rawURL, obs.last, deadline.UTC().Format(time.RFC3339))
			reported, lastReport = obs.last, time.Now()
		}
		if err != nil && !errors.Is(err, errNotThePost) {
			// Connection failures are retried; a certificate or
			// redirect-loop error is not, and is the answer.
			return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
		}
		return true, nil
	}
	c.ErrorHandler = func(resp *http.Response, err error, _ int) (*http.Response, error) {
		if resp != nil {
			resp.Body.Close()
		}
		if err == nil {
			err = errors.New(obs.last)
		}
		return nil, err
	}
	c.RequestLogHook = func(_ retryablehttp.Logger, _ *http.Request, _ int) { obs.attempts++ }

	req, err := retryablehttp.NewRequestWithContext(pctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return obs, fmt.Errorf("the post's URL %s: %w", rawURL, err)
	}
	req.Header.Set("User-Agent", "embargo")
	// A cache in front of the site may still hold the 404 of before T0.
	req.Header.Set("Cache-Control", "no-cache")
	req.SetResponseHandler(func(resp *http.Response) error {
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxPostBytes))
		if err != nil {
			return err
		}
		for _, m := range markers {
			if bytes.Contains(body, []byte(m)) {
				return nil
			}
		}
		return errNotThePost
	})
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
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
	if pctx.Err() != nil || !r.Now().Before(deadline) {
		next := "publish it now: `embargo run --from advisory`"
		if s := r.Journal.Stage("advisory"); s != nil && s.State == pipeline.StateDone {
			next = "the advisory is in the blog repository: check the blog's build and deploy"
		}
		return obs, fmt.Errorf("the post is NOT LIVE at %s and the deadline %s (T0 + %s) has passed; last answer: %s (%s). %s; `embargo run --only verify` checks again and can be repeated",
			rawURL, deadline.UTC().Format(time.RFC3339), r.Gate.Window, last, tries, next)
	}
	return obs, fmt.Errorf("the post's URL %s cannot be checked: %s; `embargo run --only verify` checks again and can be repeated", rawURL, last)
}

// postInRepo checks the post is at its path at the blog branch's tip.
func postInRepo(ctx context.Context, r *pipeline.Run, blog *blogTip, m *templates.Model, out *templates.Outputs, res map[string]string) error {
	b, ok, err := blog.file(ctx, m.PostPath)
	if err != nil {
		return err
	}
	where := fmt.Sprintf("%s at %s of %s", r.Config.Blog.Branch, short(blog.commit.Hash), blogRepo(r))
	res["commit"] = blog.commit.Hash.String()
	res["path"] = m.PostPath
	if !ok {
		return pipeline.RerunFrom("advisory", fmt.Errorf("the post %s is not in the blog repository (%s)", m.PostPath, where))
	}
	found := false
	for _, s := range postMarkers(m) {
		found = found || bytes.Contains(b, []byte(s))
	}
	if !found {
		return fmt.Errorf("%s in the blog repository (%s) is not the advisory: it has neither its ID nor its title", m.PostPath, where)
	}
	if !bytes.Equal(b, out.Post.Content) {
		r.Warnf("%s in the blog repository differs from the rendered advisory (edited since?)", m.PostPath)
	}
	res["summary"] = fmt.Sprintf("the post is in the blog repository (%s); its URL %s was not checked", where, m.URL)
	return nil
}

// --- timeline ---

// timeline prints and records when each thing became public, relative to
// T0, the deadline and the margin left. The times are the first ones the
// journal holds (a re-run that found the crates already on the registry
// did not publish them); a stage that recorded no such moment shows when
// it finished. An interrupted verify checked nothing to the end: it
// reports no margin to spare, and fails.
func timeline(r *pipeline.Run, res map[string]string) error {
	t0, deadline, now := r.Gate.T0, r.Gate.Deadline(), r.Now()
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	rel := func(t time.Time) string {
		d := t.Sub(t0).Round(time.Second)
		if d < 0 {
			return "T0 - " + (-d).String()
		}
		return "T0 + " + d.String()
	}
	r.Infof("timeline:")
	r.Infof("  %-10s %s", "T0", stamp(t0))
	res["t0"] = stamp(t0)
	for _, s := range r.Journal.Stages {
		if s.Name == r.Stage() {
			continue
		}
		state, ended := r.Journal.StageState(s.Name)
		switch {
		case state == pipeline.StateDone && ended != nil:
			res["stage "+s.Name] = ended.UTC().Format(time.RFC3339Nano)
			if public := firstMoments(r, s.Name); len(public) > 0 {
				for _, m := range public {
					r.Infof("  %-10s %s", s.Name, m.describe(stamp, rel))
					for i, k := range m.keys {
						res[s.Name+"/"+m.step+" "+k] = m.times[i].UTC().Format(time.RFC3339Nano)
					}
				}
				continue
			}
			r.Infof("  %-10s done %s  (%s)", s.Name, stamp(*ended), rel(*ended))
		case state == pipeline.StatePending:
			r.Infof("  %-10s not run", s.Name)
			res["stage "+s.Name] = state
		default:
			r.Infof("  %-10s %s", s.Name, state)
			res["stage "+s.Name] = state
		}
	}
	r.Infof("  %-10s %s  (%s)", r.Stage(), stamp(now), rel(now))
	r.Infof("  %-10s %s  (T0 + %s)", "deadline", stamp(deadline), r.Gate.Window)
	res["verified"] = now.UTC().Format(time.RFC3339Nano)
	res["deadline"] = stamp(deadline)
	margin := deadline.Sub(now).Round(time.Second)
	res["margin"] = margin.String()
	if r.Interrupted() {
		r.Warnf("INTERRUPTED at %s: not everything was verified; %s left before the deadline", rel(now), margin)
		res["summary"] = fmt.Sprintf("interrupted %s after T0, before everything was verified", now.Sub(t0).Round(time.Second))
		return fmt.Errorf("verify was interrupted %s after T0, before everything was verified: nothing is proven live", now.Sub(t0).Round(time.Second))
	}
	if margin >= 0 {
		res["within_window"] = "true"
		r.Infof("  %-10s %s to spare", "margin", margin)
		res["summary"] = fmt.Sprintf("checked %s after T0, %s before the deadline", now.Sub(t0).Round(time.Second), margin)
		return nil
	}
	res["within_window"] = "false"
	r.Warnf("WINDOW MISSED: checked %s after the deadline %s", -margin, stamp(deadline))
	res["summary"] = fmt.Sprintf("checked %s after T0: %s past the deadline", now.Sub(t0).Round(time.Second), -margin)
	return nil
}

// moment is when a step of a stage first made something public.
type moment struct {
	step  string
	what  string // the step's subject (a version, an image); "" for a push
	keys  []string
	times []time.Time
}

// momentOrder lists the moments the timeline shows, in the order they
// happen.
var momentOrder = []string{"pushed_at", "copied_at", "uploaded_at", "visible_at", "published_at"}

func (m moment) describe(stamp, rel func(time.Time) string) string {
	parts := make([]string, len(m.keys))
	for i, k := range m.keys {
		parts[i] = fmt.Sprintf("%s %s  (%s)", strings.TrimSuffix(k, "_at"), stamp(m.times[i]), rel(m.times[i]))
	}
	out := strings.Join(parts, ", ")
	if m.what != "" {
		out = m.what + " " + out
	}
	return out
}

// firstMoments are the first public moments of a stage's steps: those
// of the attempts that made things public, not of a re-run that found
// them so.
func firstMoments(r *pipeline.Run, stage string) []moment {
	var out []moment
	for _, st := range r.Journal.Steps(stage) {
		// "publish demo@1.0.1" is about demo@1.0.1; "push" about the stage.
		_, what, _ := strings.Cut(st.Name, " ")
		m := moment{step: st.Name, what: what}
		for _, k := range momentOrder {
			v := st.FirstAt(k)
			if v == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				continue
			}
			m.keys, m.times = append(m.keys, k), append(m.times, t)
		}
		if len(m.keys) > 0 {
			out = append(out, m)
		}
	}
	return out
}
