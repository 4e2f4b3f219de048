package registry_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/async-rs/embargo/sandbox/registry"
)

const (
	cratesIOToken = "cio8AqZ1sandboxPublishToken"
	giteaToken    = "5f3c0a9e1b7d4c2a8e6f0b1d3c5a7e9f2b4d6c8a"
	giteaReadOnly = "0e2c4a6b8d1f3e5a7c9b0d2f4a6c8e1b3d5f7a9c"
)

// answer is one request's status, body and challenge.
type answer struct {
	status    int
	body      string
	challenge string
}

func send(t *testing.T, method, url, auth string, body []byte) answer {
	t.Helper()
	resp := do(t, method, url, auth, body)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header.Get("WWW-Authenticate")}
}

// detail is the one error detail of a crates.io-shaped body, or the body.
func detail(body string) string {
	var e struct {
		Errors []struct{ Detail string } `json:"errors"`
	}
	if json.Unmarshal([]byte(body), &e) != nil || len(e.Errors) != 1 {
		return body
	}
	return e.Errors[0].Detail
}

// The crates.io flavour refuses a publish as crates.io does: the
// Authorization header is the token, bare or after `Bearer `; another
// scheme, or a token not in crates.io's format, is refused 401 before any
// lookup; no header or an unknown token, 403.
func TestCratesIOFlavourRefusesCredentialsAsCratesIODoes(t *testing.T) {
	srv := start(t, registry.Options{Token: cratesIOToken, Flavor: registry.FlavorCratesIO})
	for i, c := range []struct {
		auth   string
		status int
		detail string
	}{
		{cratesIOToken, 200, ""},
		{"Bearer " + cratesIOToken, 200, ""},
		{"bearer " + cratesIOToken, 200, ""},
		{"", 403, "this action requires authentication"},
		{"cio0000unknownToken", 403, "authentication failed"},
		{"Bearer cio0000unknownToken", 403, "authentication failed"},
		{"crates-io-token-of-another-shape", 401, "The given API token does not match the format used by crates.io."},
		{"token " + cratesIOToken, 401, "Invalid `Authorization` header: Found unexpected authentication scheme `token`"},
	} {
		vers := []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5", "1.0.6", "1.0.7"}[i]
		m := meta("flavoured", vers)
		got := send(t, http.MethodPut, srv.URL+"/api/v1/crates/new", c.auth, publishBody(t, m, fakeCrate(t, "flavoured", vers)))
		if got.status != c.status || (c.detail != "" && !strings.HasPrefix(detail(got.body), c.detail)) {
			t.Errorf("Authorization %q: %d %s, want %d %q", redact(c.auth), got.status, got.body, c.status, c.detail)
		}
	}
	// A yank of a version that does not exist is 404 before the token is
	// looked at: crates.io proves nothing of a token there.
	for _, auth := range []string{"", "cio0000unknownToken", cratesIOToken} {
		if got := send(t, http.MethodDelete, srv.URL+"/api/v1/crates/flavoured/9.9.9/yank", auth, nil); got.status != 404 {
			t.Errorf("yank of a missing version with %q: %d %s, want 404", redact(auth), got.status, got.body)
		}
	}
}

// The Gitea flavour serves its index and API under /api/packages/OWNER/cargo
// as config.json says, and the real cargo's publish body lands there.
func TestGiteaFlavourServesItsRegistryWhereConfigJSONSays(t *testing.T) {
	srv := start(t, registry.Options{Token: giteaToken, Flavor: registry.FlavorGitea})
	root := srv.URL + "/api/packages/" + registry.GiteaOwner + "/cargo"
	if got, want := srv.IndexURL(), "sparse+"+root+"/"; got != want {
		t.Errorf("IndexURL = %s, want %s", got, want)
	}
	var cfg map[string]any
	if status := getJSON(t, root+"/config.json", &cfg); status != 200 || cfg["api"] != root || cfg["dl"] != root+"/api/v1/crates" || cfg["auth-required"] != false {
		t.Errorf("config.json: %d %v, want Gitea's api %s, dl and auth-required false", status, cfg, root)
	}
	crate := fakeCrate(t, "forged", "1.0.0")
	if got := send(t, http.MethodPut, root+"/api/v1/crates/new", "Bearer "+giteaToken, publishBody(t, meta("forged", "1.0.0"), crate)); got.status != 200 || got.body != `{"ok":true}` {
		t.Fatalf("publish with Bearer: %d %s", got.status, got.body)
	}
	resp, err := http.Get(root + "/" + registry.Path("forged"))
	if err != nil {
		t.Fatal(err)
	}
	line, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(line), sha(crate)) {
		t.Errorf("index file: %d %s, want the version with its checksum", resp.StatusCode, line)
	}
	if got := send(t, http.MethodPut, root+"/api/v1/crates/new", "Bearer "+giteaToken, publishBody(t, meta("forged", "1.0.0"), crate)); got.status != 409 || detail(got.body) != "package version already exists" {
		t.Errorf("publish again: %d %s, want Gitea's 409", got.status, got.body)
	}
	if got := send(t, http.MethodGet, srv.URL+"/index/config.json", "", nil); got.status != 404 {
		t.Errorf("the crates.io-shaped index answered %d on a Gitea registry", got.status)
	}
}

// Gitea checks write access before a write's handler runs: a token it
// cannot read (no scheme) or does not know, 401 "Failed to authenticate
// user"; none, or one that may only read, 401 "reqPackageAccess" with a
// Basic challenge. Only past that check does a yank look the version up:
// 404 for one that does not exist, and nothing written.
func TestGiteaFlavourRefusesWritesAsGiteaDoes(t *testing.T) {
	srv := start(t, registry.Options{Token: giteaToken, ReadToken: giteaReadOnly, Flavor: registry.FlavorGitea})
	root := srv.URL + "/api/packages/" + registry.GiteaOwner + "/cargo"
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("jane:"+giteaToken))
	for i, c := range []struct {
		auth      string
		status    int
		body      string
		challenge string
	}{
		{"Bearer " + giteaToken, 200, `{"ok":true}`, ""},
		{"token " + giteaToken, 200, `{"ok":true}`, ""},
		{basic, 200, `{"ok":true}`, ""},
		{giteaToken, 401, "Failed to authenticate user\n", ""},
		{"Bearer 1111111111111111111111111111111111111111", 401, "Failed to authenticate user\n", ""},
		{"", 401, "reqPackageAccess\n", `Basic realm="Gitea Package API"`},
		{"Bearer " + giteaReadOnly, 401, "reqPackageAccess\n", `Basic realm="Gitea Package API"`},
	} {
		vers := []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5", "1.0.6"}[i]
		got := send(t, http.MethodPut, root+"/api/v1/crates/new", c.auth, publishBody(t, meta("forged", vers), fakeCrate(t, "forged", vers)))
		if got.status != c.status || got.body != c.body || got.challenge != c.challenge {
			t.Errorf("publish with %q: %d %q (challenge %q), want %d %q (%q)", redact(c.auth), got.status, got.body, got.challenge, c.status, c.body, c.challenge)
		}
		yank := send(t, http.MethodDelete, root+"/api/v1/crates/forged/not-a-version/yank", c.auth, nil)
		want := answer{c.status, c.body, c.challenge}
		if c.status == 200 {
			want = answer{404, `{"ok":false,"errors":[{"detail":"package does not exist"}]}`, ""}
		}
		if yank != want {
			t.Errorf("yank of a version that cannot exist with %q: %+v, want %+v", redact(c.auth), yank, want)
		}
	}
	if n := srv.Uploads("forged", "1.0.3"); n != 0 {
		t.Errorf("the bare token's publish was stored")
	}
}

// redact shows which credential a case sends without its secret part.
func redact(auth string) string {
	for _, tok := range []string{cratesIOToken, giteaToken, giteaReadOnly} {
		auth = strings.ReplaceAll(auth, tok, "<token>")
	}
	return auth
}
