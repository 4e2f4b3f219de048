// Package preflight is the stage that checks, before T0, everything that
// can be checked: the held branches, the leak check, versions and
// packages, the advisory and the blog, the credentials and the targets'
// clocks. It reads the public world, changes nothing in it, and lists
// every problem it finds.
package preflight

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/blog"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/templates"
)

// Stage checks everything that can be checked before T0, reading the
// public world and changing nothing in it. It lists every problem it finds.
type Stage struct {
	Vault  release.VaultOpener
	Index  release.IndexOpener
	Cargo  release.CargoOpener
	GitHub release.GitHubOpener
	Mail   release.MailOpener
}

func (Stage) Name() string    { return release.Preflight }
func (Stage) Needs() []string { return nil }
func (Stage) Summary() string {
	return "held branches, fast-forward, leak check, tags, versions, credentials, the targets' clocks"
}

func (s Stage) Run(ctx context.Context, r *release.Run) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clocks := startClocks(ctx, r) // the targets' clocks, while the rest runs
	warnOfTheCalendar(r)
	v, err := s.Vault(release.VaultPath(r.StateDir))
	if err != nil {
		return err
	}
	c := &checking{Stage: s, r: r, cfg: r.Config, v: v, missingBranch: map[string]bool{}, problemLines: map[string]bool{}, unread: map[string]bool{}}
	c.leak = leakReporter(r, c.add)
	if err := release.RunSteps(ctx,
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

var credentialsKey = pipeline.Key[pipeline.Said]{Stage: release.Preflight, Step: "credentials"}

// checking is preflight's work, a step a method: every problem found is
// one more finding in the list, and a step ends the check only when what
// follows cannot run without it.
type checking struct {
	Stage    // the clients
	r        *release.Run
	cfg      *config.Config
	v        release.ReleaseVault
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
func warnOfTheCalendar(r *release.Run) {
	if r.Mode.Rehearsal() {
		return
	}
	for _, w := range release.CalendarWarnings(r.Config, r.Journal) {
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
	if r.Mode.Rehearsal() || now.Before(r.Gate.T0) {
		return
	}
	t0, ago := r.Gate.T0.UTC().Format(time.RFC3339), now.Sub(r.Gate.T0).Round(time.Second)
	switch l := release.JudgeLateStart(r); {
	case l.Proceeds():
		r.Infof("%s", l.Says(r.Gate.T0, ago))
	case r.Mode.Late:
		r.Warnf("T0 %s passed %s ago, and nothing shows this release was prepared before it or has begun; --late, the embargo is over: a run releases it at once", t0, pipeline.HumanDuration(ago))
	case r.Mode.Command == release.Checking: // a seal claims nothing about when a run may go
		c.add("embargo.at", fmt.Sprintf("check embargo.at in %s; if the embargo is really over, release with `embargo run --late` (`embargo check --late` checks the rest as that run would)", r.Config.Path),
			"T0 %s passed %s ago, and nothing shows this release was prepared before it (no preflight finished, no seal made before T0) or has begun (none of it is public): "+
				"`embargo run` refuses to release it, since a wrong date in embargo.at would make the embargoed fix public at once", t0, pipeline.HumanDuration(ago))
	}
}

func (c *checking) fetch(ctx context.Context) error {
	r, cfg, v := c.r, c.cfg, c.v
	_, err := pipeline.Step(r.Run, release.FetchedKey, func(res *release.Fetched) error {
		present, tags, missing, err := release.FetchHeld(ctx, r, v)
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
		if err := v.FetchPublic(ctx, r.Targets.Public.URL, nil); err != nil {
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
		if _, err := pipeline.Step(c.r.Run, release.LineCheckedKey(rel.Line), func(res *release.LineChecked) error {
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
	return packageLines(ctx, c.r, c.Stage, c.v, c.problemLines, c.add)
}

// advisory renders the advisory, then checks the blog and the GitHub
// draft against it. A failure here (the registry or the blog unreachable)
// is one more problem in the list, not the end of it.
func (c *checking) advisory(ctx context.Context) error {
	r, afterT0 := c.r, c.afterT0
	c.conventions(ctx)
	conv, _, _ := release.RecordedConventions(r)
	if _, err := pipeline.Step(r.Run, release.AdvisoryCheckedKey, func(res *release.AdvisoryChecked) (err error) {
		c.model, c.outputs, err = checkAdvisory(ctx, r, c.Index, conv, res, c.add)
		return err
	}); err != nil {
		c.add("advisory", "", "%v", err)
	}
	if c.cfg.Blog != nil && c.outputs != nil {
		if _, err := pipeline.Step(r.Run, blogCheckedKey, func(res *BlogChecked) error {
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
		if _, err := pipeline.Step(r.Run, ghsaCheckedKey, func(res *GHSAChecked) error {
			return checkGHSA(ctx, r, c.GitHub, c.model, afterT0, res, c.add)
		}); err != nil {
			c.add("ghsa", "", "%v", err)
		}
	}
	if c.cfg.Announce != nil && c.outputs != nil {
		if _, err := pipeline.Step(r.Run, announceCheckedKey, func(res *AnnounceChecked) error {
			return checkAnnounce(ctx, r, c.Mail, c.model, c.outputs.Mail.Content, res, c.add)
		}); err != nil {
			c.add("announce", "", "%v", err)
		}
	}
	return nil
}

func (c *checking) credentials(ctx context.Context) error {
	r, cfg := c.r, c.cfg
	_, err := pipeline.Step(r.Run, credentialsKey, func(res *pipeline.Said) error {
		var have []string
		proven, judged := c.provePushes(ctx)
		// A rehearsal's targets hold no credential of the config: it
		// never reads the real tokens.
		for _, cr := range r.Targets.Credentials {
			if !r.Secrets.Present(cr.Env) {
				c.add(cr.Key, fmt.Sprintf("export %s in the environment of the run (the value is never printed)", cr.Env),
					"environment variable %s is not set: %s", cr.Env, cr.Use)
				continue
			}
			if !judged[cr.Key] && !slices.Contains(have, cr.Env) {
				have = append(have, cr.Env)
			}
		}
		said := proven
		if len(have) > 0 {
			said = append(said, "set: "+strings.Join(have, ", "))
		}
		*res = pipeline.Said(strings.Join(said, "; "))
		if cfg.Registry.TrustedPublishing {
			checkTrustedPublishing(ctx, r, c.Index, res, c.add)
		}
		checkRegistryToken(ctx, r, c.Index, res, c.add)
		return nil
	})
	return err
}

// packageLines packages every sound line's crates in a worktree of its held
// tip, with verification, records the sha256 of each .crate (what publish
// must reproduce at T0) and compares them with the registry.
func packageLines(ctx context.Context, r *release.Run, s Stage, v release.ReleaseVault, skip map[string]bool, add func(subject, fix, format string, args ...any)) error {
	var cargoVersion string
	idx, err := s.Index(r.Targets.Registry, release.Clock(r.Gate))
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
		_, err := pipeline.Step(r.Run, release.PackagedKey(rel.Line), func(res *release.Packaged) error {
			if cargoVersion == "" {
				var err error
				if cargoVersion, err = s.Cargo(release.CargoFor(r, rel.Line)).Version(ctx); err != nil {
					return err
				}
			}
			pkgs, lock, err := release.LinePackages(ctx, r, v, s.Cargo(release.CargoFor(r, rel.Line)), rel, held)
			if err != nil {
				return err
			}
			*res = release.PackagedOf(pkgs, cargoVersion, lock.Sum())
			if !lock.Committed {
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
			if !lock.Committed {
				summary += "; " + lock.Summary()
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
func registryLeak(ctx context.Context, idx release.RegistryIndex, subject string, released []string, leak leakFunc) {
	var when []string
	for _, nv := range released {
		name, version := release.SplitNV(nv)
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
func leakReporter(r *release.Run, add func(subject, fix, format string, args ...any)) leakFunc {
	return func(subject, format string, args ...any) {
		what := fmt.Sprintf(format, args...)
		if r.Mode.Late {
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

// checkRegistry compares packages with the registry: a version already there
// with the same checksum is already released; with another, it is a hard
// error naming both.
func checkRegistry(ctx context.Context, idx release.RegistryIndex, pkgs []cargo.Package) (released []string, problems []string, err error) {
	for _, p := range pkgs {
		e, found, err := idx.Lookup(ctx, p.Name, p.Version)
		if err != nil {
			return nil, nil, err
		}
		if !found {
			continue
		}
		if e.Cksum == p.Sha256 {
			released = append(released, p.Name+"@"+p.Version)
		} else {
			problems = append(problems, fmt.Sprintf("%s@%s is already on the registry with sha256 %s, but the held tip packages to %s", p.Name, p.Version, e.Cksum, p.Sha256))
		}
	}
	sort.Strings(released)
	return released, problems, nil
}
