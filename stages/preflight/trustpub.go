package preflight

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/trustpub"
)

// checkTrustedPublishing is preflight's look at Trusted Publishing: the CI
// offers an OIDC token; where another can be had for the release (GitHub
// Actions), one is exchanged and the token revoked at once, so that a
// trusted publisher on the registry that does not match this workflow is
// found before T0; and every crate of the release is on the registry
// already, since a Trusted Publishing token cannot create one.
func checkTrustedPublishing(ctx context.Context, r *release.Run, openIndex release.IndexOpener, res *pipeline.Said, add func(subject, fix, format string, args ...any)) {
	const subject = "registry.trusted_publishing"
	note := func(s string) {
		if *res != "" {
			s = string(*res) + "; " + s
		}
		*res = pipeline.Said(s)
	}
	idx, err := openIndex(r.Targets.Registry, release.Clock(r.Gate))
	if err != nil {
		add(subject, "", "%v", err)
		return
	}
	if names := newCrates(ctx, r, idx); len(names) > 0 {
		add(subject, "publish each once with an API token before T0 (a first version that reveals nothing of the fix), or release with registry.token_env instead",
			"Trusted Publishing cannot create a new crate (the registry refuses), and these crates of the release are not on the registry yet: %s", strings.Join(names, ", "))
	}
	ids, err := release.IDTokens(r)
	if err != nil && !inCI() {
		// The release manager's machine (check, seal): the token is
		// the CI job's, and that job's preflight checks it.
		r.Warnf("Trusted Publishing: %v; not a CI job, so the check is left to the release job's preflight", err)
		return
	}
	if err != nil {
		add(subject, "", "%v", err)
		return
	}
	client, err := release.ExchangeClient(ctx, r, idx)
	if err != nil {
		add(subject, "", "%v", err)
		return
	}
	aud := trustpub.Audience(client.API)
	if !ids.Fresh() {
		// One token for the job, which the registry takes once: it is
		// kept for the release, and only read here.
		jwt, err := ids.IDToken(ctx, aud)
		if err != nil {
			add(subject, "", "%v", err)
			return
		}
		c, err := trustpub.ReadClaims(jwt)
		switch {
		case err != nil:
			add(subject, "", "%s: %v", ids.Describe(), err)
		case c.Audience != aud:
			add(subject, fmt.Sprintf("set `aud: %s` on the job's `id_tokens:` entry", aud), "%s is an OIDC token for %q, not for the registry's %q", ids.Describe(), c.Audience, aud)
		case !c.Expires.IsZero() && c.Expires.Before(r.Gate.T0.Add(time.Minute)):
			add(subject, "start the job closer to T0, or give it a longer timeout (GitLab's ID tokens expire with the job)", "%s expires at %s, before T0", ids.Describe(), c.Expires.UTC().Format(time.RFC3339))
		default:
			note("Trusted Publishing: " + ids.Describe() + " holds an OIDC token for " + aud + " (exchanged at T0, not now: the registry takes it once)")
		}
		return
	}
	jwt, err := ids.IDToken(ctx, aud)
	if err != nil {
		add(subject, "", "%v", err)
		return
	}
	tok, err := client.Exchange(ctx, jwt)
	if err != nil {
		add(subject, "check the trusted publisher configured for each crate on the registry: repository, workflow file and environment must be this job's", "%v", err)
		return
	}
	if err := client.Revoke(ctx, tok); err != nil {
		r.Warnf("Trusted Publishing: %v (it expires by itself within %s)", err, trustpub.Lifetime)
	}
	note("Trusted Publishing: the OIDC token was exchanged at " + client.API + " and the token revoked at once")
}

// inCI is true in a GitHub Actions or GitLab CI job: there, no OIDC token
// is a mistake of the job's setup, not a machine that is not the job.
func inCI() bool {
	return os.Getenv("GITHUB_ACTIONS") == "true" || os.Getenv("GITLAB_CI") == "true"
}

// newCrates are the crates of the release (as preflight packaged them)
// that the registry has no version of.
func newCrates(ctx context.Context, r *release.Run, idx release.RegistryIndex) []string {
	seen := map[string]bool{}
	var out []string
	for _, rel := range r.Config.Releases {
		p, _ := release.PackagedLine(r.Journal, rel.Line)
		for _, nv := range p.Order {
			name, _ := release.SplitNV(nv)
			if seen[name] {
				continue
			}
			seen[name] = true
			if vs, err := idx.Versions(ctx, name); err == nil && len(vs) == 0 {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}
