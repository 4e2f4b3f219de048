package release

import (
	"crypto/tls"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/trustpub"
	"github.com/async-rs/embargo/stages/vault"
)

// Targets are where the release writes and the credentials it writes
// with, resolved once before any stage starts: from the config and the
// variables it names (Real), or from a rehearsal's sandbox world
// (Sandbox). A stage writes where they say and never asks which.
type Targets struct {
	// Public is the git repository the held branches are pushed to.
	Public Remote
	// Blog is the blog's repository the post is pushed to (zero without
	// [blog]).
	Blog Remote
	// Registry is where the crates are published.
	Registry Registry
	// GitHub is the API the GitHub advisory is published with (zero
	// without [ghsa]).
	GitHub GitHub
	// Mail is the mail server and key of the announcement (zero without
	// [announce]).
	Mail Mail
	// OIDC, when set, stands in for a CI runner's OIDC endpoint (the
	// sandbox registry's), for Trusted Publishing.
	OIDC *OIDC
	// PostSite, when set, replaces blog.url's site for the check that
	// the post is live. NoPostSite, when set and PostSite is not, says
	// why the post's URL cannot be asked: it is looked for in the blog's
	// repository instead.
	PostSite, NoPostSite string
	// Images is whether the image registries are written; where they are
	// not (a rehearsal, whose world has none), they are only read.
	Images bool
	// Credentials are the credentials of the config this run holds,
	// which preflight checks: none in a rehearsal, which never reads a
	// real token.
	Credentials []Credential
}

// Remote is a git repository the release pushes to.
type Remote struct {
	URL string
	// Auth is the push credential; nil for none (a local path, a
	// sandbox's repository).
	Auth transport.AuthMethod
	// Sandbox is true for a rehearsal's copy of the repository: no forge
	// judges a credential there.
	Sandbox bool
}

// Registry is the registry the crates are published to.
type Registry struct {
	// Name is cargo's name for it (registry.name).
	Name string
	// Index is the sparse index the release reads and cargo publishes
	// to.
	Index string
	// Token is the publish credential; TokenEnv the variable of the
	// config it was read from ("" for a sandbox's own, or with Trusted
	// Publishing), and TokenSource what messages call it (never its
	// value).
	Token, TokenEnv, TokenSource string
	// CargoIndex is the index URL cargo is configured with: Index, or,
	// when a rehearsal's cargo reaches the sandbox through Proxy, the
	// registry's real index URL, which cargo writes into the packages of
	// an alternative registry's crates. ProxyCA is the certificate
	// authority cargo trusts for the proxy.
	CargoIndex, Proxy, ProxyCA string
}

// GitHub is the API the GitHub advisory is read and published with.
type GitHub struct {
	API, Token string
	// TokenEnv is the variable of the config the token was read from
	// ("" for a sandbox's own); TokenSource what messages call it.
	TokenEnv, TokenSource string
	// Unreachable, when set, says why no GitHub API may be called.
	Unreachable string
}

// OIDC is a stand-in for a CI runner's OIDC endpoint.
type OIDC struct {
	URL, RequestToken string
}

// Credential is a token variable the config names: its key, the
// variable, and what the release needs it for.
type Credential struct {
	Key, Env, Use string
}

// Real are the targets the config names, with the credentials the
// variables it names hold.
func Real(cfg *config.Config, secrets *pipeline.Secrets) Targets {
	token := func(env string) string {
		v, _ := secrets.Get(env)
		return v
	}
	reg := cfg.Registry
	t := Targets{
		Public: Remote{URL: cfg.ResolveRemote(cfg.Source.Public), Auth: vault.Auth(token(cfg.Source.TokenEnv))},
		Registry: Registry{Name: reg.Name, Index: reg.Index, CargoIndex: reg.Index, Token: token(reg.TokenEnv), TokenEnv: reg.TokenEnv,
			TokenSource: fmt.Sprintf("%s (registry.token_env in %s)", reg.TokenEnv, cfg.Path)},
		Images:      true,
		Credentials: credentials(cfg),
	}
	if b := cfg.Blog; b != nil {
		t.Blog = Remote{URL: cfg.ResolveRemote(b.Repo), Auth: vault.Auth(token(b.TokenEnv))}
	}
	if g := cfg.GHSA; g != nil {
		t.GitHub = GitHub{API: g.API, Token: token(g.TokenEnv), TokenEnv: g.TokenEnv, TokenSource: fmt.Sprintf("the token in %s (ghsa.token_env)", g.TokenEnv)}
	}
	if a := cfg.Announce; a != nil {
		t.Mail = realMail(a, token)
	}
	return t
}

// Sandbox is a rehearsal's world as its targets see it: its copies of the
// public repository and the blog, its registry and token, the proxy its
// cargo reaches that registry through, its OIDC endpoint and its GitHub.
// An address left empty is the config's, only read.
type Sandbox struct {
	Public, Blog                   string
	RegistryIndex, RegistryToken   string
	RegistryProxy, RegistryProxyCA string
	OIDCURL, OIDCRequestToken      string
	GitHubAPI, GitHubToken         string
	// MailAddr is the sandbox's mail server, MailTLS what trusts its
	// certificate; SigningKey the sandbox's own armored secret key (no
	// passphrase), which signs the rehearsal's announcement.
	MailAddr   string
	MailTLS    *tls.Config
	SigningKey string
	// PostSite is a site serving the blog's copy, if any.
	PostSite string
}

// Targets are the sandbox's, for a rehearsal of cfg: no credential of the
// config's, no image registry written, and no GitHub but the sandbox's.
func (s Sandbox) Targets(cfg *config.Config) Targets {
	or := func(v, alt string) string {
		if v != "" {
			return v
		}
		return alt
	}
	index := or(s.RegistryIndex, cfg.Registry.Index)
	t := Targets{
		Public:     Remote{URL: or(s.Public, cfg.ResolveRemote(cfg.Source.Public)), Sandbox: true},
		Registry:   Registry{Name: cfg.Registry.Name, Index: index, CargoIndex: index, Token: s.RegistryToken},
		PostSite:   s.PostSite,
		NoPostSite: "a rehearsal publishes to a copy of the blog repository, which no site serves",
	}
	if s.RegistryProxy != "" {
		t.Registry.CargoIndex, t.Registry.Proxy, t.Registry.ProxyCA = cfg.Registry.Index, s.RegistryProxy, s.RegistryProxyCA
	}
	if s.OIDCURL != "" {
		t.OIDC = &OIDC{URL: s.OIDCURL, RequestToken: s.OIDCRequestToken}
	}
	if cfg.Blog != nil {
		t.Blog = Remote{URL: or(s.Blog, cfg.ResolveRemote(cfg.Blog.Repo)), Sandbox: true}
	}
	if cfg.GHSA != nil {
		t.GitHub = GitHub{API: s.GitHubAPI, Token: s.GitHubToken, TokenSource: "the sandbox's token"}
		if s.GitHubAPI == "" {
			t.GitHub.Unreachable = "this rehearsal has no sandbox GitHub API, and a rehearsal never calls the real one"
		}
	}
	if cfg.Announce != nil {
		// Never the config's server, login or key: a rehearsal mails
		// no list and reads no secret.
		t.Mail = Mail{Addr: s.MailAddr, TLS: s.MailTLS, SigningKey: s.SigningKey, Sandbox: true}
		if s.MailAddr == "" {
			t.Mail.Unreachable = "this rehearsal has no sandbox mail server, and a rehearsal never mails the real one"
		}
	}
	return t
}

// credentials lists the token variables the config names, which a run
// needs.
func credentials(cfg *config.Config) []Credential {
	var out []Credential
	if cfg.Source.TokenEnv != "" {
		out = append(out, Credential{"source.token_env", cfg.Source.TokenEnv, "needed to push to " + cfg.Source.Public})
	}
	if cfg.Registry.TokenEnv != "" { // none with Trusted Publishing
		out = append(out, Credential{"registry.token_env", cfg.Registry.TokenEnv, "needed to publish to " + cfg.Registry.Name})
	}
	if cfg.Blog != nil && cfg.Blog.TokenEnv != "" {
		out = append(out, Credential{"blog.token_env", cfg.Blog.TokenEnv, "needed to push the post to " + cfg.Blog.Repo})
	}
	if cfg.GHSA != nil {
		out = append(out, Credential{"ghsa.token_env", cfg.GHSA.TokenEnv, "needed to publish the GitHub advisory " + cfg.GHSA.ID})
	}
	if a := cfg.Announce; a != nil {
		if a.PasswordEnv != "" {
			out = append(out, Credential{"announce.password_env", a.PasswordEnv, "needed to log in to " + a.SMTP})
		}
		if a.SigningKeyEnv != "" {
			out = append(out, Credential{"announce.signing_key_env", a.SigningKeyEnv, "needed to sign the announcement"})
		}
		if a.PassphraseEnv != "" {
			out = append(out, Credential{"announce.passphrase_env", a.PassphraseEnv, "needed to unlock the signing key"})
		}
	}
	return out
}

// SecretVariables names every variable of the environment that holds a
// secret of this release: the tokens, the bundle's identity, and with
// Trusted Publishing what mints a publish token (the runner's OIDC
// request token, the CI's ID token). The programs the release runs on its
// own code and the site's (cargo's verification builds, the blog's build)
// inherit none of them.
func SecretVariables(cfg *config.Config) []string {
	var out []string
	for _, c := range credentials(cfg) {
		out = append(out, c.Env)
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
