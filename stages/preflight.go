package stages

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/blog"
	"github.com/async-rs/embargo/stages/trustpub"
	"github.com/async-rs/embargo/templates"
)

// Preflight checks everything that can be checked before T0, reading the
// public world and changing nothing in it. It lists every problem it finds.
type Preflight struct{}

func (Preflight) Name() string    { return "preflight" }
func (Preflight) Needs() []string { return nil }
func (Preflight) Summary() string {
	return "held branches, fast-forward, leak check, tags, versions, credentials, the targets' clocks"
}

func (Preflight) Run(ctx context.Context, r *pipeline.Run) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clocks := startClocks(ctx, r) // the targets' clocks, while the rest runs
	warnOfTheCalendar(r)
	v, err := openVault(r)
	if err != nil {
		return err
	}
	c := &checking{r: r, cfg: r.Config, v: v, missingBranch: map[string]bool{}, problemLines: map[string]bool{}, unread: map[string]bool{}}
	c.leak = leakReporter(r, c.add)
	if err := runSteps(ctx,
		c.fetch,       // the held branches and the public refs, read into the vault
		c.lines,       // each line: fast-forward, leaks, tags, versions
		c.packages,    // each sound line packaged and verified, and compared with the registry
		c.advisory,    // the advisory rendered, the blog and the GitHub draft checked
		c.credentials, // the tokens the run will need; the git pushes asked with theirs
		func(ctx context.Context) error { return checkSeal(ctx, r, v, c.add) },
		func(context.Context) error { return recordClocks(r, clocks, c.add) },
	); err != nil {
		return err
	}
	c.judgeLateStart()
	if len(c.findings) > 0 {
		return &pipeline.FindingsError{Findings: c.findings}
	}
	return nil
}

// checking is preflight's work, a step a method: every problem found is
// one more finding in the list, and a step ends the check only when what
// follows cannot run without it.
type checking struct {
	r        *pipeline.Run
	cfg      *pipeline.Config
	v        ReleaseVault
	findings []pipeline.Finding
	leak     leakFunc
	// missingBranch and problemLines are the lines whose held branch is
	// not in the source, and those not sound enough to package.
	missingBranch, problemLines map[string]bool
	// unread holds the URL keys of the remotes that could not be read
	// (source.public, blog.repo), each a finding already.
	unread map[string]bool
	// afterT0 is whether the checks after the fetch run after T0, when
	// what is public is released, not leaked.
	afterT0 bool
	model   *templates.Model
	outputs *templates.Outputs
	// blog is the blog's private clone as the conventions step fetched
	// it, at blogTip; nil when it could not.
	blog    *blog.Clone
	blogTip plumbing.Hash
}

func (c *checking) add(subject, fix, format string, args ...any) {
	c.findings = append(c.findings, pipeline.Finding{Subject: subject, Msg: fmt.Sprintf(format, args...), Fix: fix})
}

// warnOfTheCalendar warns of the calendar's departures from the policy
// (a rehearsal's T0 is now, not the calendar's). A T0 in the past is
// judgeLateStart's, once preflight has seen what of the release is public.
func warnOfTheCalendar(r *pipeline.Run) {
	if r.Gate.Sandbox {
		return
	}
	for _, w := range CalendarWarnings(r.Config) {
		r.Warnf("%s", w)
	}
}

// judgeLateStart says, in a preflight after T0, what a run does with this
// release, by the rule the gate applies (JudgeLateStart) to what this
// preflight found public: resume it, release it at once, release it under
// --late, or refuse. Under check a refusal is a finding naming embargo.at
// and --late, so that check is never ready for a T0 run refuses; under
// run the gate refuses, with its own words.
func (c *checking) judgeLateStart() {
	r := c.r
	now := r.Now()
	if r.Gate.Sandbox || now.Before(r.Gate.T0) {
		return
	}
	t0, ago := r.Gate.T0.UTC().Format(time.RFC3339), now.Sub(r.Gate.T0).Round(time.Second)
	switch l := JudgeLateStart(r); {
	case l.Proceeds():
		r.Infof("%s", l.Says(r.Gate.T0, ago))
	case r.Late:
		r.Warnf("T0 %s passed %s ago, and nothing shows this release was prepared before it or has begun; --late, the embargo is over: a run releases it at once", t0, pipeline.HumanDuration(ago))
	case r.Check && !r.Resealing: // a seal claims nothing about when a run may go
		c.add("embargo.at", fmt.Sprintf("check embargo.at in %s; if the embargo is really over, release with `embargo run --late` (`embargo check --late` checks the rest as that run would)", r.Config.Path),
			"T0 %s passed %s ago, and nothing shows this release was prepared before it (no preflight finished, no seal made before T0) or has begun (none of it is public): "+
				"`embargo run` refuses to release it, since a wrong date in embargo.at would make the embargoed fix public at once", t0, pipeline.HumanDuration(ago))
	}
}

func (c *checking) fetch(ctx context.Context) error {
	r, cfg, v := c.r, c.cfg, c.v
	_, err := pipeline.Step(r, "fetch", func(res *Fetched) error {
		present, tags, missing, err := fetchHeld(ctx, r, v)
		if err != nil {
			return err
		}
		for _, i := range missing {
			rel := cfg.Releases[i]
			c.missingBranch[rel.Line] = true
			c.add("release "+rel.Line, fmt.Sprintf("create the held branch in %s, or correct release[%d].branch in %s", cfg.Source.Repo, i+1, cfg.Path),
				"held branch %s does not exist in %s", rel.Branch, cfg.Source.Repo)
		}
		res.SourceTags, res.Branches, res.Public = tags, len(present), cfg.Source.Public
		// Read only, and without a credential (the public repository is
		// public): nothing is ever written to the public remote here.
		if err := v.FetchPublic(ctx, publicURL(r), nil); err != nil {
			c.unread["source.public"] = true
			f := remoteFinding(r, publicRemote(r).anonymous(), false, err)
			c.add(f.Subject, f.Fix, "%s", f.Msg)
			return errUnread
		}
		return nil
	})
	c.afterT0 = !r.Now().Before(r.Gate.T0)
	if isUnread(err) {
		return nil // the lines are not checked against a public repository not read
	}
	return err
}

// lines checks each line with a held tip; a line with problems is not
// packaged.
func (c *checking) lines(context.Context) error {
	for i, rel := range c.cfg.Releases {
		if c.unread["source.public"] {
			c.problemLines[rel.Line] = true
			continue
		}
		held, ok := c.v.Held(rel.Branch)
		if !ok {
			c.problemLines[rel.Line] = true
			if !c.missingBranch[rel.Line] {
				// Never let a line pass unchecked because its branch did
				// not reach the vault.
				c.add("release "+rel.Line, "", "held branch %s could not be read into %s", rel.Branch, c.v.Dir())
			}
			continue
		}
		if _, err := pipeline.Step(c.r, lineStep(rel), func(res *LineChecked) error {
			before := len(c.findings)
			res.Held = held.String()
			checkLine(c.v, c.cfg, i, rel, held, c.afterT0, res, c.add, c.leak)
			if n := len(c.findings) - before; n > 0 {
				return fmt.Errorf("%w: %d", errLineProblems, n)
			}
			return nil
		}); err != nil {
			c.problemLines[rel.Line] = true
			if !errors.Is(err, errLineProblems) {
				c.add("release "+rel.Line, "", "%v", err)
			}
		}
	}
	return nil
}

func (c *checking) packages(ctx context.Context) error {
	return packageLines(ctx, c.r, c.v, c.problemLines, c.add)
}

// advisory renders the advisory, then checks the blog and the GitHub
// draft against it. A failure here (the registry or the blog unreachable)
// is one more problem in the list, not the end of it.
func (c *checking) advisory(ctx context.Context) error {
	r, afterT0 := c.r, c.afterT0
	c.conventions(ctx)
	conv, _, _ := recordedConventions(r)
	if _, err := pipeline.Step(r, "advisory", func(res *AdvisoryChecked) (err error) {
		c.model, c.outputs, err = checkAdvisory(ctx, r, conv, res, c.add)
		return err
	}); err != nil {
		c.add("advisory", "", "%v", err)
	}
	if c.cfg.Blog != nil && c.outputs != nil {
		if _, err := pipeline.Step(r, "blog", func(res *BlogChecked) error {
			before := len(c.findings)
			if err := checkBlog(ctx, r, c.blog, c.blogTip, c.model, c.outputs, afterT0, res, c.add); err != nil {
				return err
			}
			if n := len(c.findings) - before; n > 0 {
				return fmt.Errorf("%w: %d", errLineProblems, n)
			}
			return nil
		}); isUnread(err) {
			c.unread["blog.repo"] = true
		} else if err != nil && !errors.Is(err, errLineProblems) {
			c.add("blog", "", "%v", err)
		}
	}
	if c.cfg.GHSA != nil && c.model != nil {
		if _, err := pipeline.Step(r, "ghsa", func(res *GHSAChecked) error {
			return checkGHSA(ctx, r, c.model, afterT0, res, c.add)
		}); err != nil {
			c.add("ghsa", "", "%v", err)
		}
	}
	return nil
}

func (c *checking) credentials(ctx context.Context) error {
	r, cfg := c.r, c.cfg
	_, err := pipeline.Step(r, "credentials", func(res *pipeline.Said) error {
		var have []string
		proven, judged := c.provePushes(ctx)
		for _, cr := range credentials(cfg) {
			if r.Targets != nil {
				continue // a rehearsal never reads the real tokens
			}
			if !r.Secrets.Present(cr.env) {
				c.add(cr.key, fmt.Sprintf("export %s in the environment of the run (the value is never printed)", cr.env),
					"environment variable %s is not set: %s", cr.env, cr.use)
				continue
			}
			if !judged[cr.key] && !slices.Contains(have, cr.env) {
				have = append(have, cr.env)
			}
		}
		said := proven
		if len(have) > 0 {
			said = append(said, "set: "+strings.Join(have, ", "))
		}
		*res = pipeline.Said(strings.Join(said, "; "))
		if cfg.Registry.TrustedPublishing {
			checkTrustedPublishing(ctx, r, res, c.add)
		}
		checkRegistryToken(ctx, r, res, c.add)
		return nil
	})
	return err
}

// fetchHeld copies the held branches and any release tags already made from
// the source clone into the vault; missing lists the lines whose branch is
// absent.
func fetchHeld(ctx context.Context, r *pipeline.Run, v HeldBranches) (branches, tags []string, missing []int, err error) {
	if fromBundle(r) {
		return heldFromVault(r, v) // restored from a sealed bundle: no source clone here
	}
	var names []plumbing.ReferenceName
	for _, rel := range r.Config.Releases {
		names = append(names, plumbing.NewBranchReferenceName(rel.Branch), plumbing.NewTagReferenceName(rel.Tag))
	}
	found, err := v.SourceRefs(sourcePath(r), names)
	if err != nil {
		return nil, nil, nil, err
	}
	for i, rel := range r.Config.Releases {
		if _, ok := found[plumbing.NewBranchReferenceName(rel.Branch)]; ok {
			branches = append(branches, rel.Branch)
		} else {
			missing = append(missing, i)
		}
		if _, ok := found[plumbing.NewTagReferenceName(rel.Tag)]; ok {
			tags = append(tags, rel.Tag)
		}
	}
	_, err = v.FetchHeld(ctx, sourcePath(r), branches, tags)
	return branches, tags, missing, err
}

// packageLines packages every sound line's crates in a worktree of its held
// tip, with verification, records the sha256 of each .crate (what publish
// must reproduce at T0) and compares them with the registry.
func packageLines(ctx context.Context, r *pipeline.Run, v ReleaseVault, skip map[string]bool, add func(subject, fix, format string, args ...any)) error {
	var cargoVersion string
	idx, err := clients.Index(r)
	if err != nil {
		return err
	}
	// A private registry wants the token to be read, by cargo too: without
	// it (or with a refused one) packaging fails with cargo's words, which
	// name none of embargo's. Embargo's own come first.
	if _, err := idx.Config(ctx); err != nil && idx.WantsToken() {
		add("registry", "", "%v", err)
	}
	for _, rel := range r.Config.Releases {
		if skip[rel.Line] {
			continue
		}
		held, _ := v.Held(rel.Branch)
		subject := "release " + rel.Line
		_, err := pipeline.Step(r, packageStep(rel), func(res *Packaged) error {
			if cargoVersion == "" {
				var err error
				if cargoVersion, err = clients.Cargo(r, rel).Version(ctx); err != nil {
					return err
				}
			}
			pkgs, lock, err := linePackages(ctx, r, v, rel, held)
			if err != nil {
				return err
			}
			*res = packagedOf(pkgs, cargoVersion, lock.sum())
			if !lock.committed {
				r.Infof("line %s: no Cargo.lock committed; the seal pins the one verified", rel.Line)
			}
			released, problems, err := checkRegistry(ctx, idx, pkgs)
			if err != nil {
				return fmt.Errorf("read the registry index: %w", err)
			}
			for _, p := range problems {
				add(subject, "a crates.io version is immutable: release a new version on this line", "%s", p)
			}
			if len(released) > 0 && r.Now().Before(r.Gate.T0) {
				registryLeak(ctx, idx, subject, released, leakReporter(r, add))
			}
			summary := fmt.Sprintf("%d crate(s) packaged and verified: %s", len(pkgs), strings.Join(res.Order, ","))
			if !lock.committed {
				summary += "; " + lock.summary()
			}
			if len(released) > 0 {
				summary += "; already released: " + strings.Join(released, ", ")
				res.Released = released
			}
			res.Text = summary
			if len(problems) > 0 {
				return fmt.Errorf("%w: %d", errLineProblems, len(problems))
			}
			return nil
		})
		if err != nil && !errors.Is(err, errLineProblems) {
			add(subject, "", "%v", err)
		}
	}
	return nil
}

// registryLeak reports versions of the release already on the registry
// before T0: the fix is public there, as loud as a leaked commit.
func registryLeak(ctx context.Context, idx RegistryIndex, subject string, released []string, leak leakFunc) {
	var when []string
	for _, nv := range released {
		name, version := splitNV(nv)
		if at, ok, err := idx.PublishedAt(ctx, name, version); err == nil && ok {
			when = append(when, fmt.Sprintf("%s (published %s)", nv, at.UTC().Format(time.RFC3339)))
		} else {
			when = append(when, nv)
		}
	}
	leak(subject, "already on the registry before T0: %s", strings.Join(when, ", "))
}

// leakFunc reports part of the fix found public before T0.
type leakFunc func(subject, format string, args ...any)

// leakReporter makes each leak a finding that stops the release, or, with
// --late (the operator's word that the embargo is over), a warning that
// opens the gate now so that the rest goes out at once.
func leakReporter(r *pipeline.Run, add func(subject, fix, format string, args ...any)) leakFunc {
	return func(subject, format string, args ...any) {
		what := fmt.Sprintf(format, args...)
		if r.Late {
			r.Warnf("%s: LEAK: %s; --late: the embargo is over, the rest is released now", subject, what)
			r.Gate.OpenNow(subject + ": " + what)
			return
		}
		add(subject, "the fix is public: treat the embargo as broken and follow the policy; to release the rest now, confirm with `embargo run --late`",
			"LEAK: %s", what)
	}
}

// errLineProblems marks a line step that failed with findings already listed.
var errLineProblems = errors.New("problems found")

type credential struct{ key, env, use string }

// credentials lists the token variables the run will need.
func credentials(cfg *pipeline.Config) []credential {
	var out []credential
	if cfg.Source.TokenEnv != "" {
		out = append(out, credential{"source.token_env", cfg.Source.TokenEnv, "needed to push to " + cfg.Source.Public})
	}
	if cfg.Registry.TokenEnv != "" { // none with Trusted Publishing
		out = append(out, credential{"registry.token_env", cfg.Registry.TokenEnv, "needed to publish to " + cfg.Registry.Name})
	}
	if cfg.Blog != nil && cfg.Blog.TokenEnv != "" {
		out = append(out, credential{"blog.token_env", cfg.Blog.TokenEnv, "needed to push the post to " + cfg.Blog.Repo})
	}
	if cfg.GHSA != nil {
		out = append(out, credential{"ghsa.token_env", cfg.GHSA.TokenEnv, "needed to publish the GitHub advisory " + cfg.GHSA.ID})
	}
	return out
}

// secretVariables names every variable of the environment that holds a
// secret of this release: the tokens, the bundle's identity, and with
// Trusted Publishing what mints a publish token (the runner's OIDC
// request token, the CI's ID token). The programs the release runs on its
// own code and the site's (cargo's verification builds, the blog's build)
// inherit none of them.
func secretVariables(cfg *pipeline.Config) []string {
	var out []string
	for _, c := range credentials(cfg) {
		out = append(out, c.env)
	}
	if s := cfg.Seal; s != nil && s.IdentityEnv != "" {
		out = append(out, s.IdentityEnv)
	}
	if cfg.Registry.TrustedPublishing {
		out = append(out, trustpub.GitHubRequestURL, trustpub.GitHubRequestToken)
		if cfg.Registry.IDTokenEnv != "" {
			out = append(out, cfg.Registry.IDTokenEnv)
		}
	}
	return out
}
