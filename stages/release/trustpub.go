package release

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/async-rs/embargo/stages/trustpub"
)

// IDTokens is where the CI job's OIDC token comes from: a rehearsal's
// stand-in, the variable registry.id_token_env names (GitLab), or the
// GitHub Actions runner's endpoint.
func IDTokens(r *Run) (trustpub.IDTokens, error) {
	if o := r.Targets.OIDC; o != nil {
		r.Secrets.Remember(o.RequestToken)
		return &trustpub.Runner{URL: o.URL, RequestToken: o.RequestToken, Remember: r.Secrets.Remember}, nil
	}
	if name := r.Config.Registry.IDTokenEnv; name != "" {
		v, _ := r.Secrets.Get(name)
		return &trustpub.Variable{Name: name, Value: v}, nil
	}
	u, okURL := r.Secrets.Get(trustpub.GitHubRequestURL)
	tok, okTok := r.Secrets.Get(trustpub.GitHubRequestToken)
	if !okURL || !okTok {
		return nil, fmt.Errorf("no OIDC token offered: %s and %s are not set (registry.trusted_publishing in %s): in GitHub Actions give the release job `permissions: id-token: write`; in GitLab CI set registry.id_token_env to the variable of an `id_tokens:` entry with `aud: crates.io`",
			trustpub.GitHubRequestURL, trustpub.GitHubRequestToken, r.Config.Path)
	}
	return &trustpub.Runner{URL: u, RequestToken: tok, Remember: r.Secrets.Remember}, nil
}

// ExchangeClient is the registry's Trusted Publishing endpoint, at the API
// its index names.
func ExchangeClient(ctx context.Context, r *Run, idx RegistryIndex) (*trustpub.Client, error) {
	cfg, err := idx.Config(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.API == "" {
		return nil, fmt.Errorf("the registry's index %s names no API (config.json \"api\"): Trusted Publishing needs one", idx.URL())
	}
	return &trustpub.Client{API: cfg.API, HTTP: &http.Client{Timeout: 30 * time.Second}, Remember: r.Secrets.Remember}, nil
}
