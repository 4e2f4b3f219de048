package release

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/async-rs/embargo/config"
)

// RegistryAPI is whose web API a registry answers with, as far as its
// index URL tells.
type RegistryAPI int

const (
	OtherAPI RegistryAPI = iota
	CratesIOAPI
	GiteaAPI // Gitea's, or Forgejo's: /api/packages/OWNER/cargo
)

// GiteaPath is the path of a Gitea owner's cargo registry: its sparse
// index, and the API its config.json names.
var GiteaPath = regexp.MustCompile(`^(.*)/api/packages/([^/]+)/cargo/?$`)

// APIOf tells the registry from its index URL (or its config.json's api).
func APIOf(indexURL string) RegistryAPI {
	u, err := url.Parse(strings.TrimPrefix(indexURL, "sparse+"))
	switch {
	case err != nil:
		return OtherAPI
	case u.Host == "index.crates.io" || u.Host == "crates.io":
		return CratesIOAPI
	case GiteaPath.MatchString(u.Path):
		return GiteaAPI
	}
	return OtherAPI
}

// RefusedForm says why the registry will refuse tok before it even looks
// it up (crates.io: another scheme than Bearer, or not a crates.io token;
// Gitea: a token without its scheme), or "". It never quotes tok.
func RefusedForm(api RegistryAPI, tok string) string {
	scheme, rest, spaced := strings.Cut(strings.TrimSpace(tok), " ")
	switch api {
	case CratesIOAPI:
		if spaced && !strings.EqualFold(scheme, "Bearer") {
			return "crates.io takes the token alone, or after `Bearer `, and refuses any other authentication scheme (401)"
		}
		if !spaced {
			rest = scheme
		}
		if !strings.HasPrefix(strings.TrimSpace(rest), "cio") {
			return "it is not a crates.io API token (those begin with `cio`): crates.io refuses it (401) before looking it up"
		}
	case GiteaAPI:
		switch strings.ToLower(scheme) {
		case "bearer", "token", "basic":
			if spaced {
				return ""
			}
		}
		return "Gitea wants `Bearer <token>` (cargo sends the variable's value as it is, and Gitea refuses a token without its scheme: 401 Failed to authenticate user)"
	}
	return ""
}

// FormFix says how the registry wants its token written in env.
func FormFix(api RegistryAPI, env string) string {
	if api == GiteaAPI {
		return fmt.Sprintf("set %s to `Bearer ` followed by the Gitea access token", env)
	}
	return fmt.Sprintf("set %s to a crates.io API token (https://crates.io/settings/tokens), alone or after `Bearer `", env)
}

// RegistryTokenSource names the registry token's variable and key, never its value.
func RegistryTokenSource(cfg *config.Config) string {
	return fmt.Sprintf("%s (registry.token_env in %s)", cfg.Registry.TokenEnv, cfg.Path)
}
