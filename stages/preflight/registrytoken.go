package preflight

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

// The registry's publish token: what preflight can prove of it before T0
// (its refusal at T0 is registryrefusal.go). A registry token is
// harder to prove than a git one. crates.io has no request that
// authenticates a publish token without spending the account's publish
// rate limit (a publish takes it right after the token check, and a yank
// looks the version up before the token), so there only its form can be
// checked. Gitea (and Forgejo) check write access before a yank's handler
// looks the version up: a yank of a version that cannot exist proves the
// token and writes nothing, and Gitea's package registry has no rate
// limit. Elsewhere (another registry's API) no request is known to prove
// it without publishing.

// checkRegistryToken is preflight's proof of the registry token, part of
// the credentials step: refused (a finding naming registry.token_env, the
// variable, what the registry answered and the fix), proven, or, where
// nothing can prove it without a public write or spending rate limit, a
// line saying so. A rehearsal never reads the real token; Trusted
// Publishing is proven by its own check; a token not set is a finding of
// the credentials step already.
func checkRegistryToken(ctx context.Context, r *release.Run, openIndex release.IndexOpener, res *pipeline.Said, add func(subject, fix, format string, args ...any)) {
	const subject = "registry.token_env"
	cfg := r.Config.Registry
	// A rehearsal's registry takes its own token, no variable's.
	if cfg.TrustedPublishing || r.Targets.Registry.TokenEnv == "" || !r.Secrets.Present(cfg.TokenEnv) {
		return
	}
	note := func(s string) {
		if *res != "" {
			s = string(*res) + "; " + s
		}
		*res = pipeline.Said(s)
	}
	tok, _ := r.Secrets.Get(cfg.TokenEnv)
	api := release.APIOf(cfg.Index)
	if why := release.RefusedForm(api, tok); why != "" {
		add(subject, release.FormFix(api, cfg.TokenEnv), "the token in %s will be refused at T0: %s", release.RegistryTokenSource(r.Config), why)
		return
	}
	switch api {
	case release.GiteaAPI:
		idx, err := openIndex(r.Targets.Registry, release.Clock(r.Gate))
		if err != nil {
			add(subject, "", "%v", err)
			return
		}
		ic, err := idx.Config(ctx)
		if err != nil {
			r.Warnf("registry token: not proven: the registry's config.json could not be read (%v)", err)
			return
		}
		proof, err := proveGiteaToken(ctx, ic.API, probeCrate(r), tok)
		var refused *tokenRefused
		switch {
		case errors.As(err, &refused):
			add(subject, fmt.Sprintf("set %s to a Gitea access token with the write:package scope, written `Bearer <token>`", cfg.TokenEnv),
				"the registry refused the token in %s: %s", release.RegistryTokenSource(r.Config), refused.answer)
		case err != nil:
			r.Warnf("registry token: not proven: %v", err)
		default:
			note("registry token: " + proof)
		}
	case release.CratesIOAPI:
		note("registry token: cannot be proven before T0 on this registry (crates.io has no request that authenticates a publish token without spending the account's publish rate limit; its form is crates.io's): the first upload at T0 proves it, and nothing else goes public before it has")
	default:
		note("registry token: cannot be proven before T0 on this registry (no request is known there to authenticate a publish token without publishing): the first upload at T0 proves it, and nothing else goes public before it has")
	}
}

// probeCrate is the crate the proof names: the first of the release.
func probeCrate(r *release.Run) string {
	for _, rel := range r.Config.Releases {
		if p, ok := release.PackagedLine(r.Journal, rel.Line); ok && len(p.Order) > 0 {
			name, _ := release.SplitNV(p.Order[0])
			return name
		}
		if len(rel.Crates) > 0 {
			return rel.Crates[0]
		}
	}
	return r.Config.Advisory.Package
}

// impossibleVersion is a version no registry can hold (not semver; Gitea
// stores cargo versions only if they are): a yank of it changes nothing.
const impossibleVersion = "embargo-credential-check"

// tokenRefused is the registry refusing a credential: what it answered.
type tokenRefused struct {
	status int
	answer string
}

func (e *tokenRefused) Error() string { return fmt.Sprintf("%d %s", e.status, e.answer) }

// proveGiteaToken asks Gitea (or Forgejo) to yank a version of crate that
// cannot exist: the write check runs before the handler, so 404 "package
// does not exist" proves tok may write the owner's packages, and nothing is
// written; 401 or 403 is Gitea's refusal (a *tokenRefused). Gitea's
// package registry has no rate limit to spend.
func proveGiteaToken(ctx context.Context, api, crate, tok string) (string, error) {
	m := release.GiteaPath.FindStringSubmatch(urlPath(api))
	if m == nil {
		return "", fmt.Errorf("the registry's API %s is not a Gitea owner's cargo registry", api)
	}
	owner := m[2]
	u := strings.TrimSuffix(api, "/") + "/api/v1/crates/" + url.PathEscape(crate) + "/" + impossibleVersion + "/yank"
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", tok) // as cargo sends it
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return "", fmt.Errorf("the registry could not be asked: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	answer := release.FirstLine(strings.TrimSpace(string(body)))
	switch resp.StatusCode {
	case http.StatusNotFound:
		return fmt.Sprintf("proven: Gitea lets it write %s's packages (a yank of a version that cannot exist passed its write check and found nothing: nothing written)", owner), nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return "", &tokenRefused{status: resp.StatusCode, answer: giteaAnswer(resp.StatusCode, answer, owner)}
	}
	return "", fmt.Errorf("the registry answered %d to the check (%s)", resp.StatusCode, answer)
}

// giteaAnswer says in words what Gitea's refusal means.
func giteaAnswer(status int, answer, owner string) string {
	switch answer {
	case "reqPackageAccess":
		return fmt.Sprintf("%d %s: the token may not write %s's packages (it needs Gitea's write:package scope, from a user with write access to %s)", status, answer, owner, owner)
	case "Failed to authenticate user":
		return fmt.Sprintf("%d %s: Gitea does not know the token", status, answer)
	}
	return fmt.Sprintf("%d %s", status, answer)
}

// urlPath is the path of a URL, "" when it is not one.
func urlPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Path
}
