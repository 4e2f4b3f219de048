package stages

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"golang.org/x/mod/semver"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/index"
	"github.com/async-rs/embargo/stages/trustpub"
	"github.com/async-rs/embargo/stages/vault"
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
	cfg := r.Config
	var findings []pipeline.Finding
	add := func(subject, fix, format string, args ...any) {
		findings = append(findings, pipeline.Finding{Subject: subject, Msg: fmt.Sprintf(format, args...), Fix: fix})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clocks := startClocks(ctx, r) // the targets' clocks, while the rest runs

	if now := r.Now(); !now.Before(r.Gate.T0) && !r.Gate.Sandbox {
		r.Warnf("T0 %s is in the past (%s ago): a run releases at once only if this release was prepared before T0 or is already partly public; check embargo.at in %s",
			r.Gate.T0.UTC().Format(time.RFC3339), now.Sub(r.Gate.T0).Round(time.Second), cfg.Path)
	}
	if !r.Gate.Sandbox { // a rehearsal's T0 is now, not the calendar's
		for _, w := range CalendarWarnings(cfg) {
			r.Warnf("%s", w)
		}
	}
	v, err := openVault(r)
	if err != nil {
		return err
	}
	missingBranch := map[string]bool{}
	if _, err := pipeline.Step(r, "fetch", func(res *Fetched) error {
		present, tags, missing, err := fetchHeld(ctx, r, v)
		if err != nil {
			return err
		}
		for _, i := range missing {
			rel := cfg.Releases[i]
			missingBranch[rel.Line] = true
			add("release "+rel.Line, fmt.Sprintf("create the held branch in %s, or correct release[%d].branch in %s", cfg.Source.Repo, i+1, cfg.Path),
				"held branch %s does not exist in %s", rel.Branch, cfg.Source.Repo)
		}
		res.SourceTags, res.Branches, res.Public = tags, len(present), r.Config.Source.Public
		// Read only: nothing is ever written to the public remote here.
		return v.FetchPublic(ctx, publicURL(r), nil)
	}); err != nil {
		return err
	}

	afterT0 := !r.Now().Before(r.Gate.T0)
	leak := leakReporter(r, add)
	problemLines := map[string]bool{}
	for i, rel := range cfg.Releases {
		held, ok := v.Held(rel.Branch)
		if !ok {
			problemLines[rel.Line] = true
			if !missingBranch[rel.Line] {
				// Never let a line pass unchecked because its branch did
				// not reach the vault.
				add("release "+rel.Line, "", "held branch %s could not be read into %s", rel.Branch, v.Path)
			}
			continue
		}
		subject := "release " + rel.Line
		if _, err := pipeline.Step(r, lineStep(rel), func(res *LineChecked) error {
			before := len(findings)
			res.Held = held.String()
			checkLine(v, cfg, i, rel, held, afterT0, res, add, leak)
			if n := len(findings) - before; n > 0 {
				return fmt.Errorf("%w: %d", errLineProblems, n)
			}
			return nil
		}); err != nil {
			problemLines[rel.Line] = true
			if !errors.Is(err, errLineProblems) {
				add(subject, "", "%v", err)
			}
		}
	}

	if err := packageLines(ctx, r, v, problemLines, add); err != nil {
		return err
	}

	var (
		model   *templates.Model
		outputs *templates.Outputs
	)
	// A failure here (the registry or the blog unreachable) is one more
	// problem in the list, not the end of it.
	if _, err := pipeline.Step(r, "advisory", func(res *AdvisoryChecked) (err error) {
		model, outputs, err = checkAdvisory(ctx, r, res, add)
		return err
	}); err != nil {
		add("advisory", "", "%v", err)
	}
	if cfg.Blog != nil && outputs != nil {
		if _, err := pipeline.Step(r, "blog", func(res *BlogChecked) error {
			before := len(findings)
			if err := checkBlog(ctx, r, model, outputs, afterT0, res, add); err != nil {
				return err
			}
			if n := len(findings) - before; n > 0 {
				return fmt.Errorf("%w: %d", errLineProblems, n)
			}
			return nil
		}); err != nil && !errors.Is(err, errLineProblems) {
			add("blog", "", "%v", err)
		}
	}

	if cfg.GHSA != nil && model != nil {
		if _, err := pipeline.Step(r, "ghsa", func(res *GHSAChecked) error {
			return checkGHSA(ctx, r, model, afterT0, res, add)
		}); err != nil {
			add("ghsa", "", "%v", err)
		}
	}

	if _, err := pipeline.Step(r, "credentials", func(res *pipeline.Said) error {
		var have []string
		for _, c := range credentials(cfg) {
			if r.Targets != nil {
				continue // a rehearsal never reads the real tokens
			}
			if !r.Secrets.Present(c.env) {
				add(c.key, fmt.Sprintf("export %s in the environment of the run (the value is never printed)", c.env),
					"environment variable %s is not set: %s", c.env, c.use)
				continue
			}
			if !slices.Contains(have, c.env) {
				have = append(have, c.env)
			}
		}
		if len(have) > 0 {
			*res = pipeline.Said("set: " + strings.Join(have, ", "))
		}
		if cfg.Registry.TrustedPublishing {
			checkTrustedPublishing(ctx, r, res, add)
		}
		return nil
	}); err != nil {
		return err
	}

	if err := checkSeal(ctx, r, v, add); err != nil {
		return err
	}
	if err := recordClocks(r, clocks, add); err != nil {
		return err
	}

	if len(findings) > 0 {
		return &pipeline.FindingsError{Findings: findings}
	}
	return nil
}

// fetchHeld copies the held branches and any release tags already made from
// the source clone into the vault; missing lists the lines whose branch is
// absent.
func fetchHeld(ctx context.Context, r *pipeline.Run, v *vault.Vault) (branches, tags []string, missing []int, err error) {
	if fromBundle(r) {
		return heldFromVault(r, v) // restored from a sealed bundle: no source clone here
	}
	var names []plumbing.ReferenceName
	for _, rel := range r.Config.Releases {
		names = append(names, plumbing.NewBranchReferenceName(rel.Branch), plumbing.NewTagReferenceName(rel.Tag))
	}
	found, err := vault.SourceRefs(sourcePath(r), names)
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
func packageLines(ctx context.Context, r *pipeline.Run, v *vault.Vault, skip map[string]bool, add func(subject, fix, format string, args ...any)) error {
	var cargoVersion string
	idx, err := indexClient(r)
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
				if cargoVersion, err = cargoFor(r, rel).Version(ctx); err != nil {
					return err
				}
			}
			pkgs, lock, err := linePackages(ctx, r, v, rel, held)
			if err != nil {
				return err
			}
			*res = sealedOf(pkgs, cargoVersion, lock.sum()).packaged()
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
func registryLeak(ctx context.Context, idx *index.Client, subject string, released []string, leak leakFunc) {
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

// checkLine runs the per-line checks, reporting problems through add and
// recording what later stages need in res.
func checkLine(v *vault.Vault, cfg *pipeline.Config, idx int, rel pipeline.Release, held plumbing.Hash, afterT0 bool, res *LineChecked,
	add func(subject, fix, format string, args ...any), leak leakFunc) {
	subject := "release " + rel.Line
	key := func(k string) string { return fmt.Sprintf("release[%d].%s in %s", idx+1, k, cfg.Path) }

	public, hasPublic := v.PublicBranch(rel.PublicBranch)
	pushed := hasPublic && public == held
	switch {
	case !hasPublic:
		add(subject, "check "+key("public_branch"), "public branch %s does not exist in %s", rel.PublicBranch, cfg.Source.Public)
		return
	case pushed:
		if !afterT0 {
			leak(subject, "%s is already at the held tip %s before T0", rel.PublicBranch, short(held))
		}
		res.PublicTip = public.String()
		res.Text = fmt.Sprintf("%s already at %s (pushed)", rel.PublicBranch, short(held))
	default:
		ff, err := v.IsAncestor(public, held)
		if err != nil {
			add(subject, "", "cannot compare %s with %s: %v", rel.Branch, rel.PublicBranch, err)
			return
		}
		if !ff {
			add(subject, fmt.Sprintf("rebase %s onto the public %s (now %s), then re-run", rel.Branch, rel.PublicBranch, short(public)),
				"held branch %s does not fast-forward public %s", rel.Branch, rel.PublicBranch)
			return
		}
		res.PublicTip = public.String()
		ahead, err := v.Ahead(held, public)
		if err != nil {
			add(subject, "", "%v", err)
			return
		}
		leaks, err := v.Leaks(ahead)
		if err != nil {
			add(subject, "", "leak check: %v", err)
			return
		}
		for _, c := range ahead {
			if ref, ok := leaks[c]; ok && !afterT0 {
				leak(subject, "held commit %s is reachable from public %s", short(c), ref)
			}
		}
		res.Text = fmt.Sprintf("%s at %s fast-forwards %s (%d commit(s) ahead), none public", rel.Branch, short(held), rel.PublicBranch, len(ahead))
	}

	if tagAt, ok, err := v.SourceTag(rel.Tag); err == nil && ok && tagAt != held {
		add(subject, fmt.Sprintf("delete or move the local tag %s in %s", rel.Tag, cfg.Source.Repo), "tag %s in the source repository points to %s, not the held tip %s", rel.Tag, short(tagAt), short(held))
	}
	if tagAt, ok, err := v.PublicTag(rel.Tag); err != nil {
		add(subject, "", "read public tag %s: %v", rel.Tag, err)
	} else if ok && tagAt != held {
		add(subject, fmt.Sprintf("pick another tag in %s, or move the held branch", key("tag")), "tag %s already exists publicly at %s, not at the held tip %s", rel.Tag, short(tagAt), short(held))
	} else if ok && !afterT0 {
		leak(subject, "tag %s is already public at the held tip", rel.Tag)
	}

	ws, err := workspaceAt(v, held)
	if err != nil {
		add(subject, "", "read the workspace at %s: %v", short(held), err)
		return
	}
	crates, err := ws.Select(rel.Crates)
	if err != nil {
		add(subject, "check "+key("crates"), "%v", err)
		return
	}
	want := pipeline.TagVersion(rel.Tag)
	var oldWS = ws
	if !pushed {
		if oldWS, err = workspaceAt(v, public); err != nil {
			oldWS = nil // the public tip may predate the workspace layout
		}
	}
	var list []string
	for _, c := range crates {
		list = append(list, c.Name+"@"+c.Version)
		if c.Version != want {
			add(subject, fmt.Sprintf("set version = %q in %s/Cargo.toml on %s, or fix %s", want, c.Dir, rel.Branch, key("tag")),
				"crate %s is %s at the held tip but the tag %s says %s", c.Name, c.Version, rel.Tag, want)
			continue
		}
		if pushed || oldWS == nil {
			continue
		}
		if old, ok := oldWS.Crates[c.Name]; ok && !semverGreater(c.Version, old.Version) {
			add(subject, fmt.Sprintf("bump %s above %s on %s", c.Name, old.Version, rel.Branch),
				"crate %s is not bumped: %s at the held tip, %s on public %s", c.Name, c.Version, old.Version, rel.PublicBranch)
		}
	}
	res.Crates = list
}

// semverGreater reports a > b by semver precedence.
func semverGreater(a, b string) bool {
	va, vb := "v"+a, "v"+b
	if !semver.IsValid(va) || !semver.IsValid(vb) {
		return a != b && a > b
	}
	return semver.Compare(va, vb) > 0
}
