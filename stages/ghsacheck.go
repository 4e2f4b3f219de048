package stages

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/github"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/templates"
)

// GHSAClient is the GitHub client of the run's targets: [ghsa] api with
// the token of ghsa.token_env, or a rehearsal's sandbox GitHub with its
// own.
func GHSAClient(r *release.Run, open release.GitHubOpener) (release.AdvisoryAPI, error) {
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
	return open(t.API, github.Options{Token: t.Token, Clock: release.Clock(r.Gate)}), nil
}

// GHSAError turns a refusal of GitHub's into a finding naming the config
// key to fix; other errors (the network, a 5xx) pass as they are.
func GHSAError(r *release.Run, err error) error {
	if f, ok := GHSAFinding(r, err); ok {
		return &pipeline.FindingsError{Findings: []pipeline.Finding{f}}
	}
	return err
}

func GHSAFinding(r *release.Run, err error) (pipeline.Finding, bool) {
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
func GHSAStateFinding(r *release.Run, a *github.Advisory) pipeline.Finding {
	g := r.Config.GHSA
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

// checkGHSA is preflight's look at the draft: that it exists, can be
// published, and says what the advisory says.
func checkGHSA(ctx context.Context, r *release.Run, open release.GitHubOpener, m *templates.Model, afterT0 bool, res *GHSAChecked, add func(subject, fix, format string, args ...any)) error {
	g := r.Config.GHSA
	c, err := GHSAClient(r, open)
	if err != nil {
		if fs := pipeline.AsFindings(err); fs != nil {
			add(fs[0].Subject, fs[0].Fix, "%s", fs[0].Msg)
			return nil
		}
		return err
	}
	a, err := c.Advisory(ctx, g.Repo, g.ID)
	if err != nil {
		f, ok := GHSAFinding(r, err)
		if !ok {
			return err
		}
		add(f.Subject, f.Fix, "%s", f.Msg)
		return nil
	}
	res.State, res.HTMLURL = a.State, a.HTMLURL
	res.Text = fmt.Sprintf("%s of %s is a %s", g.ID, g.Repo, a.State)
	switch a.State {
	case "draft":
	case "published":
		if !afterT0 && !r.Mode.Late {
			add("ghsa.id", "the advisory is public: treat the embargo as broken and follow the policy; to release the rest now, confirm with `embargo run --late`",
				"LEAK: the GitHub advisory %s is already published before T0 (%s)", g.ID, a.HTMLURL)
			return nil
		}
		if !afterT0 {
			// As for a version already on the registry: the embargo is
			// over, and the rest goes out now.
			r.Warnf("the GitHub advisory %s is already published before T0; --late: the embargo is over, the rest is released now", g.ID)
			r.Gate.OpenNow("the GitHub advisory is already published: " + g.ID)
		}
		if diffs := GHSADiffs(a, GHSAWant(r.Config, m)); len(diffs) > 0 {
			add("ghsa.id", "compare it on GitHub; `embargo run --from ghsa --force` sets it as the release says",
				"%s is published already, but %s", g.ID, strings.Join(diffs, "; "))
		} else {
			res.Text = fmt.Sprintf("%s is published already as the release says: nothing to do", g.ID)
		}
	default:
		f := GHSAStateFinding(r, a)
		add(f.Subject, f.Fix, "%s", f.Msg)
	}
	if strings.TrimSpace(a.Summary) != strings.TrimSpace(m.Title) {
		add("ghsa.id", fmt.Sprintf("make them the same: the draft's title on GitHub, or advisory.title in %s", r.Config.Path),
			"the draft's summary %q is not advisory.title %q", a.Summary, m.Title)
	}
	cve := AliasCVE(r.Config)
	switch {
	case a.CVEID != nil && *a.CVEID != "" && cve == "":
		add("advisory.aliases", fmt.Sprintf("add %q to advisory.aliases in %s", *a.CVEID, r.Config.Path),
			"the draft has the CVE %s, which advisory.aliases does not list", *a.CVEID)
	case a.CVEID != nil && *a.CVEID != "" && !strings.EqualFold(*a.CVEID, cve):
		add("advisory.aliases", fmt.Sprintf("correct advisory.aliases in %s, or the CVE of the draft on GitHub", r.Config.Path),
			"the draft's CVE is %s, advisory.aliases says %s", *a.CVEID, cve)
	case cve != "" && (a.CVEID == nil || *a.CVEID == ""):
		res.CVEID = cve
		r.Infof("the draft %s has no CVE: the release sets it to %s, from advisory.aliases", g.ID, cve)
	}
	return nil
}

// VerifyPublishedGHSA is verify's check of the GitHub advisory: published,
// with every line's ranges.
func VerifyPublishedGHSA(ctx context.Context, r *release.Run, open release.GitHubOpener, res *GHSAVerified) error {
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
