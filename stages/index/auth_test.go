package index_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/stages/index"
)

const tokenSource = "COMPANY_REGISTRY_TOKEN (registry.token_env in embargo.toml)"

// seededRegistry is a sandbox registry holding x@0.1.0 with its .crate.
func seededRegistry(t *testing.T, opts registry.Options) (*registry.Server, []byte) {
	t.Helper()
	opts.Dir = t.TempDir()
	srv, err := registry.Start("", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	crate := []byte("not really a tarball, but bytes with a checksum")
	if err := srv.Seed(registry.IndexEntry{Name: "x", Vers: "0.1.0"}, crate); err != nil {
		t.Fatal(err)
	}
	return srv, crate
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// A private registry (auth-required) is read as cargo reads it: config.json
// first without the token, and on its 401 with it, then every index file
// and every download with it.
func TestAuthRequiredRegistryIsReadWithTheToken(t *testing.T) {
	srv, crate := seededRegistry(t, registry.Options{Token: token, AuthRequired: true})
	opts := fast
	opts.Token, opts.TokenSource = token, tokenSource
	c := newClient(t, srv.IndexURL(), opts)
	ctx := context.Background()

	cfg, err := c.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.AuthRequired || !c.ReadsWithToken() {
		t.Fatalf("config %+v, reads with token %v: want an auth-required registry read with the token", cfg, c.ReadsWithToken())
	}
	e, found, err := c.Lookup(ctx, "x", "0.1.0")
	if err != nil || !found {
		t.Fatalf("Lookup(x, 0.1.0): found %v, err %v", found, err)
	}
	var got bytes.Buffer
	if err := c.Download(ctx, index.CrateURL(cfg.DL, "x", "0.1.0", e.Cksum), &got); err != nil {
		t.Fatal(err)
	}
	if sha256Hex(got.Bytes()) != sha256Hex(crate) {
		t.Fatal("the download is not the seeded .crate")
	}

	reqs := srv.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want config.json twice, x's file and the download: %+v", len(reqs), reqs)
	}
	if first := reqs[0]; first.Path != "/index/config.json" || first.Token || first.Status != http.StatusUnauthorized {
		t.Errorf("first request %+v: want config.json without the token, answered 401", first)
	}
	for _, r := range reqs[1:] {
		if !r.Token || r.Status != http.StatusOK {
			t.Errorf("%s %s: token %v, status %d; want every request after the 401 with the token, answered", r.Method, r.Path, r.Token, r.Status)
		}
	}
}

// The token of a registry that never asks for it (crates.io, which embargo
// is given the publish token of) is never sent while reading.
func TestTokenIsNotSentToARegistryThatDoesNotAsk(t *testing.T) {
	srv, _ := seededRegistry(t, registry.Options{Token: token})
	opts := fast
	opts.Token = token
	c := newClient(t, srv.IndexURL(), opts)
	ctx := context.Background()
	cfg, err := c.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e, found, err := c.Lookup(ctx, "x", "0.1.0")
	if err != nil || !found {
		t.Fatalf("Lookup(x, 0.1.0): found %v, err %v", found, err)
	}
	if err := c.Download(ctx, index.CrateURL(cfg.DL, "x", "0.1.0", e.Cksum), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if c.ReadsWithToken() {
		t.Error("the client reads with the token, though the registry never asked")
	}
	for _, r := range srv.Requests() {
		if r.Token {
			t.Errorf("%s %s carried the token", r.Method, r.Path)
		}
	}
}

// A registry whose config.json is public but says auth-required gets the
// token on every later request, as cargo sends it.
func TestAuthRequiredInAPublicConfigSendsTheToken(t *testing.T) {
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/config.json":
			w.Write([]byte(`{"dl":"https://dl.example/","auth-required":true}`))
		case r.Header.Get("Authorization") != token:
			// A registry may also serve a file without a token; cargo
			// sends it anyway.
			http.Error(w, "sent without the token", http.StatusTeapot)
		default:
			w.Write([]byte(line))
		}
	})
	opts := fast
	opts.Token = token
	c := newClient(t, srv.URL, opts)
	if _, err := c.Config(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, found, err := c.Lookup(context.Background(), "abcd", "1.0.0"); err != nil || !found {
		t.Fatalf("Lookup after an auth-required config.json: found %v, err %v", found, err)
	}
}

// A 401 or 403 says what to do about the token, naming where it comes from
// and never what it is.
func TestAuthErrorsNameTheTokenSourceNotTheToken(t *testing.T) {
	srv, _ := seededRegistry(t, registry.Options{Token: token, AuthRequired: true})
	forbidden, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Cargo login_url="https://registry.example/me"`)
		if r.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusForbidden)
	})
	cases := []struct {
		name, url, token string
		want             []string
	}{
		{"no token", srv.IndexURL(), "", []string{"401 Unauthorized", "wants a token to be read, and none is set", "export " + tokenSource}},
		{"a wrong token", srv.IndexURL(), "not-" + token, []string{"401 Unauthorized", "refused the token", "export a valid one for this registry in " + tokenSource}},
		{"a token that may not read", "sparse+" + forbidden.URL + "/", token, []string{"403 Forbidden", "the token may not read this registry", tokenSource}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := fast
			opts.Token, opts.TokenSource = tc.token, tokenSource
			c := newClient(t, tc.url, opts)
			_, err := c.Config(context.Background())
			if err == nil {
				t.Fatal("config.json was read")
			}
			if !c.WantsToken() {
				t.Error("the client does not know the registry wants a token")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error %q shows the token", err)
			}
		})
	}
}

// hostLog is a server that records whether each request carried the token,
// and redirects the paths in redirect to another URL.
type hostLog struct {
	mu       sync.Mutex
	seen     map[string]string // path -> Authorization
	redirect map[string]string
	body     string
}

func (h *hostLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.seen[r.URL.Path] = r.Header.Get("Authorization")
	to := h.redirect[r.URL.Path]
	h.mu.Unlock()
	switch {
	case to != "":
		http.Redirect(w, r, to, http.StatusFound)
	case r.URL.Path == "/config.json":
		w.Write([]byte(`{"dl":"http://` + r.Host + `/dl","auth-required":true}`))
	default:
		w.Write([]byte(h.body))
	}
}

func (h *hostLog) auth(path string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.seen[path]
	return a, ok
}

func newHost(t *testing.T, body string) (*hostLog, *httptest.Server) {
	h := &hostLog{seen: map[string]string{}, redirect: map[string]string{}, body: body}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv
}

// The token goes only to the host asked: a redirect to another one (here
// another port of the same address, to which net/http alone would hand the
// Authorization header on) loses it, for index files and downloads alike;
// a redirect on the same host keeps it.
func TestTokenIsNotSentToAnotherHostOnRedirect(t *testing.T) {
	reg, regSrv := newHost(t, line)
	other, otherSrv := newHost(t, line)
	reg.redirect["/ab/cd/abcd"] = otherSrv.URL + "/ab/cd/abcd"
	reg.redirect["/dl/abcd/1.0.0/download"] = otherSrv.URL + "/crates/abcd-1.0.0.crate"
	reg.redirect["/dl/same/1.0.0/download"] = "/crates/same-1.0.0.crate"

	opts := fast
	opts.Token = token
	c := newClient(t, "sparse+"+regSrv.URL+"/", opts)
	ctx := context.Background()
	cfg, err := c.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := c.Lookup(ctx, "abcd", "1.0.0"); err != nil || !found {
		t.Fatalf("Lookup through a redirect: found %v, err %v", found, err)
	}
	for _, name := range []string{"abcd", "same"} {
		if err := c.Download(ctx, index.CrateURL(cfg.DL, name, "1.0.0", ""), &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	}

	for _, p := range []string{"/ab/cd/abcd", "/dl/abcd/1.0.0/download", "/dl/same/1.0.0/download", "/crates/same-1.0.0.crate"} {
		if a, ok := reg.auth(p); !ok || a != token {
			t.Errorf("the registry's %s: asked %v, with the token %v; want asked with it", p, ok, a == token)
		}
	}
	for _, p := range []string{"/ab/cd/abcd", "/crates/abcd-1.0.0.crate"} {
		a, ok := other.auth(p)
		if !ok {
			t.Errorf("the other host's %s was not asked", p)
		}
		if a != "" {
			t.Errorf("the other host's %s got an Authorization header", p)
		}
	}
}
