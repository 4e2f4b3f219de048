package preflight

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

const (
	regTokenEnv     = "EMBARGO_REGISTRY_TOKEN"
	giteaAccess     = "9d1c7e5a3b8f0c2e4a6d8b0f1e3c5a7d9b2f4e6c"
	giteaReadAccess = "1a3c5e7b9d0f2a4c6e8b1d3f5a7c9e0b2d4f6a8c"
)

// tokenCheck is preflight's credentials step, as `embargo check` runs it,
// against the registry at index, with tok in the variable
// registry.token_env names: its findings and its summary.
func tokenCheck(t *testing.T, index, tok string) ([]pipeline.Finding, string, string) {
	t.Helper()
	cfg := &config.Config{
		Embargo:  config.EmbargoSection{ID: "DEMO-SA-2026-001", At: releasetest.T0},
		Releases: []config.Release{{Line: "1.13", Crates: []string{"demo-core"}}},
		Registry: config.RegistrySection{Name: "forge", Index: index, TokenEnv: regTokenEnv},
		Advisory: config.AdvisorySection{Package: "demo-core"},
	}
	r, _, out := releasetest.Run(t, cfg, releasetest.T0.Add(-time.Hour), map[string]string{regTokenEnv: tok})
	r.Mode.Command = release.Checking
	c := &checking{Stage: Stage{Index: release.RealClients().Index}, r: r, cfg: cfg}
	var summary string
	stage := releasetest.Stage{Fn: func(r *release.Run) error {
		c.r = r
		if err := c.credentials(t.Context()); err != nil {
			return err
		}
		said, _ := pipeline.Load(r.Journal, credentialsKey)
		summary = string(said)
		return nil
	}}
	if err := releasetest.Execute(t, r, pipeline.Selection{}, stage); err != nil {
		t.Fatal(err)
	}
	return c.findings, summary, out.String()
}

// giteaRegistry is a sandbox Gitea owner's registry that takes giteaAccess
// for writes and giteaReadAccess for reads only.
func giteaRegistry(t *testing.T) *registry.Server {
	t.Helper()
	srv, err := registry.Start("", registry.Options{Dir: t.TempDir(), Token: giteaAccess, ReadToken: giteaReadAccess, Flavor: registry.FlavorGitea})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// writes are the requests a registry received other than reads and the
// credential check's one yank of a version that cannot exist.
func writes(srv *registry.Server) []registry.Request {
	var out []registry.Request
	for _, q := range srv.Requests() {
		probe := q.Method == http.MethodDelete && strings.HasSuffix(q.Path, "/"+impossibleVersion+"/yank")
		if q.Method != http.MethodGet && !probe {
			out = append(out, q)
		}
	}
	return out
}

// On a Gitea registry check proves the token with one yank of a version
// that cannot exist: Gitea's write check answers before the handler looks
// the version up. A token Gitea takes for writing is proven; one it does
// not know, or that may only read, is a finding naming registry.token_env
// and the variable, with Gitea's answer; one written without `Bearer ` is
// a finding before any request, saying Gitea wants `Bearer <token>`.
// Nothing is written, and the token is never printed.
func TestCheckProvesTheRegistryTokenOnGitea(t *testing.T) {
	t.Parallel()
	srv := giteaRegistry(t)
	for _, c := range []struct {
		tok     string
		finding []string // the finding says all of these; none: proven
		asked   bool     // the registry was asked
	}{
		{"Bearer " + giteaAccess, nil, true},
		{"token " + giteaAccess, nil, true},
		{giteaAccess, []string{"Gitea wants `Bearer <token>`"}, false},
		{"Bearer 7777777777777777777777777777777777777777", []string{"the registry refused", "401 Failed to authenticate user"}, true},
		{"Bearer " + giteaReadAccess, []string{"the registry refused", "401 reqPackageAccess", "write:package"}, true},
	} {
		before := len(srv.Requests())
		findings, summary, out := tokenCheck(t, srv.IndexURL(), c.tok)
		name := strings.ReplaceAll(strings.ReplaceAll(c.tok, giteaAccess, "<token>"), giteaReadAccess, "<read-only token>")
		switch {
		case c.finding == nil && (len(findings) != 0 || !strings.Contains(summary, "registry token: proven: Gitea lets it write sandbox's packages")):
			t.Errorf("%s: findings %v, summary %q; want it proven", name, findings, summary)
		case c.finding != nil && (len(findings) != 1 || findings[0].Subject != "registry.token_env" || !releasetest.Mentions(findings[0].Msg, append(c.finding, regTokenEnv)...)):
			t.Errorf("%s: findings %v; want one on registry.token_env naming %s and saying %q", name, findings, regTokenEnv, c.finding)
		}
		if asked := len(srv.Requests()) > before; asked != c.asked {
			t.Errorf("%s: the registry was asked: %v, want %v", name, asked, c.asked)
		}
		for _, f := range findings {
			if strings.Contains(f.String()+summary+out, giteaAccess) || strings.Contains(f.String()+summary+out, giteaReadAccess) {
				t.Errorf("%s: the token is in check's words: %s %s %s", name, f, summary, out)
			}
		}
	}
	if w := writes(srv); len(w) != 0 {
		t.Errorf("check wrote to the registry: %+v", w)
	}
}

// crates.io has no request that proves a publish token without spending
// its publish rate limit: check says it cannot be proven there, asks
// nothing with the token, and still refuses what crates.io would refuse
// before looking the token up (another scheme, not a crates.io token). A
// registry whose API is neither crates.io's nor Gitea's is the same: not
// provable, and said so.
func TestCheckSaysWhereTheRegistryTokenCannotBeProven(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		index, tok string
		finding    string // "": none
		says       string
	}{
		{"sparse+https://index.crates.io/", "cioAbCdEf0123456789", "", "cannot be proven before T0 on this registry (crates.io"},
		{"sparse+https://index.crates.io/", "Bearer cioAbCdEf0123456789", "", "cannot be proven before T0 on this registry (crates.io"},
		{"sparse+https://index.crates.io/", "AbCdEf0123456789", "not a crates.io API token", ""},
		{"sparse+https://index.crates.io/", "token cioAbCdEf0123456789", "refuses any other authentication scheme", ""},
		{"sparse+https://registry.example/index/", "AbCdEf0123456789", "", "cannot be proven before T0 on this registry (no request is known"},
	} {
		findings, summary, out := tokenCheck(t, c.index, c.tok)
		switch {
		case c.finding == "" && (len(findings) != 0 || !strings.Contains(summary, c.says)):
			t.Errorf("%s at %s: findings %v, summary %q; want no finding and %q", c.tok, c.index, findings, summary, c.says)
		case c.finding != "" && (len(findings) != 1 || findings[0].Subject != "registry.token_env" || !releasetest.Mentions(findings[0].Msg, c.finding, regTokenEnv)):
			t.Errorf("%s at %s: findings %v; want one on registry.token_env saying %q", c.tok, c.index, findings, c.finding)
		}
		if strings.Contains(summary+out, "AbCdEf0123456789") {
			t.Errorf("%s: the token is in check's words", c.tok)
		}
	}
}

// A rehearsal never reads the real token, and with Trusted Publishing
// there is none: check proves nothing of registry.token_env then.
func TestCheckLeavesTheRegistryTokenAloneInARehearsalAndWithTrustedPublishing(t *testing.T) {
	t.Parallel()
	srv := giteaRegistry(t)
	for _, edit := range []func(*release.Run){
		func(r *release.Run) { releasetest.Rehearse(r, release.Sandbox{RegistryIndex: srv.IndexURL()}) },
		func(r *release.Run) { r.Config.Registry.TrustedPublishing = true },
	} {
		cfg := &config.Config{Path: "embargo.toml", Registry: config.RegistrySection{Index: srv.IndexURL(), TokenEnv: regTokenEnv}}
		r, _, _ := releasetest.Run(t, cfg, releasetest.T0, map[string]string{regTokenEnv: giteaAccess})
		edit(r)
		var findings []string
		res := pipeline.Said("")
		checkRegistryToken(t.Context(), r, release.RealClients().Index, &res, func(subject, _, format string, args ...any) { findings = append(findings, subject) })
		if len(findings) != 0 || res != "" || len(srv.Requests()) != 0 {
			t.Errorf("findings %v, summary %q, %d request(s): want the token left alone", findings, res, len(srv.Requests()))
		}
	}
}

// The registry is told from its index URL: crates.io's, a Gitea owner's
// (/api/packages/OWNER/cargo), or another's.
func TestTheRegistryIsToldFromItsIndexURL(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]release.RegistryAPI{
		"sparse+https://index.crates.io/":                         release.CratesIOAPI,
		"sparse+https://git.example.org/api/packages/acme/cargo/": release.GiteaAPI,
		"sparse+http://127.0.0.1:3000/api/packages/acme/cargo":    release.GiteaAPI,
		"sparse+https://registry.example/index/":                  release.OtherAPI,
		"sparse+https://git.example.org/api/packages/acme/npm/":   release.OtherAPI,
	} {
		if got := release.APIOf(url); got != want {
			t.Errorf("%s: %d, want %d", url, got, want)
		}
	}
}
