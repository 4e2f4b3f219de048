package release

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/github"
	"github.com/async-rs/embargo/templates"
)

// VerifyGHSA reads the advisory back: published, with what the release
// says.
func VerifyGHSA(ctx context.Context, r *Run, c AdvisoryAPI, want github.Update, res *GHSAVerified) error {
	g := r.Config.GHSA
	a, err := c.Advisory(ctx, g.Repo, g.ID)
	if err != nil {
		return GHSAError(r, err)
	}
	res.State, res.HTMLURL = a.State, a.HTMLURL
	if a.State != "published" {
		return fmt.Errorf("the GitHub advisory %s is %s, not published", g.ID, a.State)
	}
	if diffs := GHSADiffs(a, want); len(diffs) > 0 {
		return &pipeline.RerunError{From: GHSA, Force: true, Err: fmt.Errorf("the GitHub advisory %s is published, but %s: a re-run with --force sets it as the release says", g.ID, strings.Join(diffs, "; "))}
	}
	res.Text = fmt.Sprintf("%s published with %d vulnerable range(s): %s", g.ID, len(a.Vulnerabilities), a.HTMLURL)
	return nil
}

// GHSAWant is what the release sets on the advisory: one vulnerability per
// vulnerable range, the CVSS vector or else the severity (GitHub refuses
// both; it has no "none"), the credits of [ghsa], and the state.
func GHSAWant(cfg *config.Config, m *templates.Model) github.Update {
	u := github.Update{State: "published"}
	for _, rg := range m.GHSARanges() {
		u.Vulnerabilities = append(u.Vulnerabilities, github.Vulnerability{
			Package:                github.Package{Ecosystem: "rust", Name: m.Package},
			VulnerableVersionRange: rg.Vulnerable,
			PatchedVersions:        rg.Patched,
			// The paths of [advisory] functions, as RustSec writes them
			// too: the same functions in every vulnerable range.
			VulnerableFunctions: slices.Clone(m.Functions),
		})
	}
	switch {
	case m.CVSS != "":
		u.CVSSVectorString = m.CVSS
	case m.Severity != "" && m.Severity != "none":
		u.Severity = m.Severity
	}
	for _, cr := range cfg.GHSA.GHSACredits() {
		u.Credits = append(u.Credits, github.Credit{Login: cr.Login, Type: cr.Type})
	}
	return u
}

// GHSADiffs says how the advisory differs from what the release sets.
func GHSADiffs(a *github.Advisory, want github.Update) []string {
	var out []string
	if a.State != "published" {
		out = append(out, "it is "+a.State)
	}
	key := func(v github.Vulnerability) string {
		return strings.Join([]string{v.Package.Ecosystem, v.Package.Name, v.VulnerableVersionRange, v.PatchedVersions, strings.Join(v.VulnerableFunctions, " ")}, "|")
	}
	have := map[string]bool{}
	for _, v := range a.Vulnerabilities {
		have[key(v)] = true
	}
	same := len(a.Vulnerabilities) == len(want.Vulnerabilities)
	for _, v := range want.Vulnerabilities {
		same = same && have[key(v)]
	}
	if !same {
		out = append(out, fmt.Sprintf("its vulnerabilities are %s, not %s", describeVulns(a.Vulnerabilities), describeVulns(want.Vulnerabilities)))
	}
	switch {
	case want.CVSSVectorString != "" && (a.CVSS == nil || a.CVSS.VectorString != want.CVSSVectorString):
		out = append(out, "its CVSS vector is not advisory.cvss")
	case want.Severity != "" && (a.Severity == nil || *a.Severity != want.Severity):
		out = append(out, fmt.Sprintf("its severity is not %s", want.Severity))
	}
	for _, w := range want.Credits {
		found := false
		for _, c := range a.Credits {
			found = found || (strings.EqualFold(c.Login, w.Login) && c.Type == w.Type)
		}
		if !found {
			out = append(out, fmt.Sprintf("it does not credit %s as %s", w.Login, w.Type))
		}
	}
	return out
}

func describeVulns(vs []github.Vulnerability) string {
	if len(vs) == 0 {
		return "none"
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%s %q patched %q", v.Package.Name, v.VulnerableVersionRange, v.PatchedVersions)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// AliasCVE is the CVE among the advisory's aliases, or "".
func AliasCVE(cfg *config.Config) string {
	for _, a := range cfg.Advisory.Aliases {
		if strings.HasPrefix(strings.ToUpper(a), "CVE-") {
			return a
		}
	}
	return ""
}

// GHSAClient is the GitHub client of the run's targets: [ghsa] api with
// the token of ghsa.token_env, or a rehearsal's sandbox GitHub with its
// own.
func GHSAClient(r *Run, open GitHubOpener) (AdvisoryAPI, error) {
	t := r.Targets.GitHub
	switch {
	case t.Unreachable != "":
		return nil, errors.New(t.Unreachable)
	case t.Token == "" && t.TokenEnv != "":
		g := r.Config.GHSA
		return nil, &pipeline.FindingsError{Findings: []pipeline.Finding{{Subject: "ghsa.token_env",
			Msg: fmt.Sprintf("environment variable %s is not set: needed to publish the GitHub advisory %s", t.TokenEnv, g.ID),
			Fix: fmt.Sprintf("export %s in the environment of the run (the value is never printed)", t.TokenEnv)}}}
	}
	return open(t.API, github.Options{Token: t.Token, Clock: Clock(r.Gate)}), nil
}

// GHSAError turns a refusal of GitHub's into a finding naming the config
// key to fix; other errors (the network, a 5xx) pass as they are.
func GHSAError(r *Run, err error) error {
	if f, ok := GHSAFinding(r, err); ok {
		return &pipeline.FindingsError{Findings: []pipeline.Finding{f}}
	}
	return err
}

func GHSAFinding(r *Run, err error) (pipeline.Finding, bool) {
	var e *github.Error
	if !errors.As(err, &e) {
		return pipeline.Finding{}, false
	}
	g, cfg := r.Config.GHSA, r.Config.Path
	token := r.Targets.GitHub.TokenSource
	said := e.Error()
	switch e.Status {
	case 401:
		return pipeline.Finding{Subject: "ghsa.token_env", Msg: fmt.Sprintf("GitHub does not accept %s: %s", token, said),
			Fix: fmt.Sprintf("put a valid GitHub token in %s (expired or revoked tokens are refused)", g.TokenEnv)}, true
	case 403:
		return pipeline.Finding{Subject: "ghsa.token_env", Msg: fmt.Sprintf("%s may not do this on %s: %s", token, g.Repo, said),
			Fix: fmt.Sprintf("give the token write access to the security advisories of %s (fine-grained: Repository security advisories: write; classic: repo)", g.Repo)}, true
	case 404:
		return pipeline.Finding{Subject: "ghsa.id", Msg: fmt.Sprintf("GitHub has no advisory %s in %s that %s can see (404)", g.ID, g.Repo, token),
			Fix: fmt.Sprintf("check ghsa.repo and ghsa.id in %s against the draft's URL (…/%s/security/advisories/GHSA-…), and that the token's account can see the draft", cfg, g.Repo)}, true
	case 422:
		keys := ghsaKeys(e.Fields)
		return pipeline.Finding{Subject: strings.Join(keys, ", "), Msg: "GitHub refused the advisory: " + said,
			Fix: fmt.Sprintf("correct %s in %s", strings.Join(keys, " and "), cfg)}, true
	}
	return pipeline.Finding{Subject: "ghsa.api", Msg: said, Fix: fmt.Sprintf("check ghsa.api in %s (GitHub Enterprise Server: https://HOST/api/v3); `embargo run --from ghsa` tries again", cfg)}, true
}

// ghsaKeys are the config keys behind the fields a 422 names.
func ghsaKeys(fields []string) []string {
	var keys []string
	add := func(k string) {
		for _, have := range keys {
			if have == k {
				return
			}
		}
		keys = append(keys, k)
	}
	for _, f := range fields {
		switch {
		case f == "severity":
			add("advisory.severity")
		case f == "cvss_vector_string":
			add("advisory.cvss")
		case strings.HasPrefix(f, "vulnerabilities"):
			add("advisory.package")
			add("release[].tag")
		case f == "credits":
			add("ghsa.credits")
		case f == "cve_id":
			add("advisory.aliases")
		case f == "summary":
			add("advisory.title")
		default:
			add("ghsa.id")
		}
	}
	if len(keys) == 0 {
		add("ghsa.id")
	}
	return keys
}

// GHSAStateFinding is a draft that cannot be published as it stands.
func GHSAStateFinding(g *config.GHSASection, a *github.Advisory) pipeline.Finding {
	f := pipeline.Finding{Subject: "ghsa.id", Msg: fmt.Sprintf("%s of %s is %s, not a draft", g.ID, g.Repo, a.State)}
	switch a.State {
	case "triage":
		f.Fix = "accept the private report on GitHub (" + a.HTMLURL + "): it becomes the draft"
	case "closed":
		f.Fix = "reopen it as a draft on GitHub (" + a.HTMLURL + ")"
	default:
		f.Fix = "point ghsa.id at the draft advisory of this release"
	}
	return f
}

// VerifyPublishedGHSA is verify's check of the GitHub advisory: published,
// with every line's ranges.
func VerifyPublishedGHSA(ctx context.Context, r *Run, open GitHubOpener, res *GHSAVerified) error {
	m, err := AdvisoryModel(r.Config)
	if err != nil {
		return err
	}
	c, err := GHSAClient(r, open)
	if err != nil {
		return err
	}
	return VerifyGHSA(ctx, r, c, GHSAWant(r.Config, m), res)
}
