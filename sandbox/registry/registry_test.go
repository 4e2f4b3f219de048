package registry_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/registry"
)

// testNow is when the tests on a fake clock start.
var testNow = time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)

// meta is the minimal publish metadata cargo sends.
func meta(name, vers string) map[string]any {
	return map[string]any{
		"name": name, "vers": vers, "deps": []any{}, "features": map[string]any{},
		"authors": []string{}, "description": "test crate", "license": "MIT",
		"keywords": []string{}, "categories": []string{}, "badges": map[string]any{},
		"links": nil, "rust_version": nil,
	}
}

// fakeCrate is a .crate tarball with the layout crates.io checks.
func fakeCrate(t *testing.T, name, vers string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	body := fmt.Sprintf("[package]\nname = %q\nversion = %q\n", name, vers)
	if err := tw.WriteHeader(&tar.Header{Name: name + "-" + vers + "/Cargo.toml", Mode: 0o644, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(body))
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// publishBody frames metadata and crate as cargo does.
func publishBody(t *testing.T, m map[string]any, crate []byte) []byte {
	t.Helper()
	j, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint32(len(j)))
	b.Write(j)
	binary.Write(&b, binary.LittleEndian, uint32(len(crate)))
	b.Write(crate)
	return b.Bytes()
}

func put(t *testing.T, srv *registry.Server, token string, body []byte) (int, []byte) {
	t.Helper()
	resp := do(t, http.MethodPut, srv.URL+"/api/v1/crates/new", token, body)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func do(t *testing.T, method, url, token string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode
}

func mustPublish(t *testing.T, srv *registry.Server, m map[string]any) []byte {
	t.Helper()
	crate := fakeCrate(t, m["name"].(string), m["vers"].(string))
	if status, body := put(t, srv, testToken, publishBody(t, m, crate)); status != http.StatusOK {
		t.Fatalf("publish %s@%s: status %d: %s", m["name"], m["vers"], status, body)
	}
	return crate
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func errorDetail(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Errors []struct{ Detail string } `json:"errors"`
	}
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) != 1 {
		t.Fatalf("not a crates.io error body: %s", body)
	}
	return e.Errors[0].Detail
}

func TestPath(t *testing.T) {
	for name, want := range map[string]string{
		"a": "1/a", "AB": "2/ab", "abc": "3/a/abc", "Serde": "se/rd/serde", "async-std": "as/yn/async-std",
	} {
		if got := registry.Path(name); got != want {
			t.Errorf("Path(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestConfigJSONPointsAtTheServer(t *testing.T) {
	srv := start(t, registry.Options{})
	var cfg map[string]any
	if status := getJSON(t, srv.URL+"/index/config.json", &cfg); status != http.StatusOK {
		t.Fatalf("config.json: status %d", status)
	}
	want := map[string]any{"dl": srv.URL + "/api/v1/crates", "api": srv.URL}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("config.json = %v, want %v", cfg, want)
	}
	if srv.IndexURL() != "sparse+"+srv.URL+"/index/" {
		t.Fatalf("IndexURL() = %q", srv.IndexURL())
	}
}

// A private registry, as RFC 3139 has it: config.json says auth-required,
// and every read without the token (or with another) is answered 401 with
// the challenge cargo looks for; with it, everything is served as usual.
func TestAuthRequiredRegistryWantsTheTokenForEveryRead(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken, AuthRequired: true})
	crate := mustPublish(t, srv, meta("private", "1.0.0"))
	reads := []string{
		srv.URL + "/index/config.json",
		srv.URL + "/index/pr/iv/private",
		srv.URL + "/api/v1/crates/private",
		srv.URL + "/api/v1/crates/private/1.0.0",
		srv.URL + "/api/v1/crates/private/1.0.0/download",
	}
	for _, u := range reads {
		for _, tok := range []string{"", "not-" + testToken} {
			resp := do(t, http.MethodGet, u, tok, nil)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET %s with token %q: %d, want 401", u, tok, resp.StatusCode)
			}
			if got, want := resp.Header.Get("WWW-Authenticate"), `Cargo login_url="`+srv.URL+`/me"`; got != want {
				t.Errorf("GET %s: www-authenticate %q, want %q", u, got, want)
			}
		}
		resp := do(t, http.MethodGet, u, testToken, nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with the token: %d %s", u, resp.StatusCode, b)
		}
		switch {
		case strings.HasSuffix(u, "config.json"):
			var cfg map[string]any
			if err := json.Unmarshal(b, &cfg); err != nil || cfg["auth-required"] != true {
				t.Errorf("config.json %s does not say auth-required", b)
			}
		case strings.HasSuffix(u, "/download"):
			if !bytes.Equal(b, crate) {
				t.Error("the download with the token is not the published crate")
			}
		}
	}
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet && r.Token != (r.Status == http.StatusOK) {
			t.Errorf("%s %s logged token %v with status %d", r.Method, r.Path, r.Token, r.Status)
		}
	}
	if _, err := registry.Start("", registry.Options{Dir: t.TempDir(), AuthRequired: true}); err == nil {
		t.Error("an auth-required registry started without a token")
	}
}

func TestPublishedCratesAreServedAtPrefixPaths(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken})
	for _, name := range []string{"x", "xy", "xyz", "Sandbox_Crate"} {
		crate := mustPublish(t, srv, meta(name, "1.0.0"))
		lines := indexLines(t, srv, registry.Path(name))
		if len(lines) != 1 || lines[0].Name != name || lines[0].Cksum != sha(crate) {
			t.Fatalf("index %s = %+v, want %s@1.0.0 with the crate's sha256", registry.Path(name), lines, name)
		}
	}
	if status, _ := getIndex(t, srv, "SA/ND/Sandbox_Crate"); status != http.StatusNotFound {
		t.Fatalf("a non-canonical index path answered %d, want 404", status)
	}
	if status, _ := getIndex(t, srv, "no/ne/nonexistent"); status != http.StatusNotFound {
		t.Fatalf("an unknown crate answered %d, want 404", status)
	}
}

func TestPublishMetadataBecomesCargoIndexLine(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken})
	mustPublish(t, srv, meta("base", "1.2.3"))
	mustPublish(t, srv, meta("helper", "0.3.0"))
	m := meta("app", "2.0.0-rc.1")
	m["links"] = "z"
	m["rust_version"] = "1.70"
	m["features"] = map[string][]string{
		"default": {"std"},
		"std":     {},
		"fast":    {"dep:helper", "base?/simd"},
	}
	m["deps"] = []map[string]any{
		{"name": "base", "version_req": "^1.2", "features": []string{"simd"}, "optional": false,
			"default_features": false, "target": nil, "kind": "normal", "registry": nil,
			"explicit_name_in_toml": "core_base"},
		{"name": "helper", "version_req": "^0.3", "features": []string{}, "optional": true,
			"default_features": true, "target": "cfg(unix)", "kind": "normal", "registry": nil,
			"explicit_name_in_toml": nil},
		{"name": "serde", "version_req": "^1", "features": []string{}, "optional": false,
			"default_features": true, "target": nil, "kind": "dev",
			"registry": "https://github.com/rust-lang/crates.io-index", "explicit_name_in_toml": nil},
	}
	crate := mustPublish(t, srv, m)

	_, raw := getIndex(t, srv, "3/a/app")
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	json.Unmarshal([]byte(`{
		"name": "app", "vers": "2.0.0-rc.1", "cksum": "`+sha(crate)+`", "yanked": false,
		"links": "z", "rust_version": "1.70", "v": 2,
		"features": {"default": ["std"], "std": []},
		"features2": {"fast": ["dep:helper", "base?/simd"]},
		"deps": [
			{"name": "core_base", "package": "base", "req": "^1.2", "features": ["simd"], "optional": false,
			 "default_features": false, "kind": "normal"},
			{"name": "helper", "req": "^0.3", "features": [], "optional": true, "default_features": true,
			 "target": "cfg(unix)", "kind": "normal"},
			{"name": "serde", "req": "^1", "features": [], "optional": false, "default_features": true,
			 "kind": "dev", "registry": "https://github.com/rust-lang/crates.io-index"}
		]}`), &want)
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("index line\n%s\nwant\n%s", g, w)
	}
}

func TestStandInForCratesIOOwnsCratesIODependencies(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken, CratesIO: true})
	m := meta("app", "1.0.0")
	m["deps"] = []map[string]any{{"name": "base", "version_req": "^1", "features": []string{},
		"default_features": true, "kind": "normal", "registry": "https://github.com/rust-lang/crates.io-index"}}
	status, body := put(t, srv, testToken, publishBody(t, m, fakeCrate(t, "app", "1.0.0")))
	if status != http.StatusBadRequest || errorDetail(t, body) != "no known crate named `base`" {
		t.Fatalf("publish before its dependency: %d %s", status, body)
	}
	mustPublish(t, srv, meta("base", "1.0.0"))
	mustPublish(t, srv, m)
	if deps := indexLines(t, srv, "3/a/app")[0].Deps; deps[0].Registry != "" {
		t.Fatalf("crates.io dependency indexed with registry %q, want none", deps[0].Registry)
	}
}

func TestPublishRefusals(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken})
	mustPublish(t, srv, meta("dup", "1.0.0"))
	crate := fakeCrate(t, "dup", "1.0.0")
	cases := []struct {
		name   string
		token  string
		body   []byte
		status int
		detail string
	}{
		{"no token", "", publishBody(t, meta("new", "1.0.0"), fakeCrate(t, "new", "1.0.0")), 403, "this action requires authentication"},
		{"wrong token", "nope", publishBody(t, meta("new", "1.0.0"), fakeCrate(t, "new", "1.0.0")), 403, "authentication failed"},
		{"duplicate", testToken, publishBody(t, meta("dup", "1.0.0"), crate), 400, "crate version `1.0.0` is already uploaded"},
		{"duplicate but build metadata", testToken, publishBody(t, meta("dup", "1.0.0+b"), fakeCrate(t, "dup", "1.0.0+b")), 400, "crate version `1.0.0+b` is already uploaded"},
		{"name differing in case", testToken, publishBody(t, meta("Dup", "2.0.0"), fakeCrate(t, "Dup", "2.0.0")), 400, "crate was previously named `dup`"},
		{"unknown dependency", testToken, func() []byte {
			m := meta("new", "1.0.0")
			m["deps"] = []map[string]any{{"name": "ghost", "version_req": "^1", "kind": "normal", "default_features": true}}
			return publishBody(t, m, fakeCrate(t, "new", "1.0.0"))
		}(), 400, "no known crate named `ghost`"},
		{"tarball of another crate", testToken, publishBody(t, meta("new", "1.0.0"), crate), 400, "invalid path found: dup-1.0.0/Cargo.toml"},
		{"truncated body", testToken, publishBody(t, meta("new", "1.0.0"), crate)[:20], 400, ""},
	}
	for _, c := range cases {
		status, body := put(t, srv, c.token, c.body)
		if status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, status, c.status, body)
			continue
		}
		if d := errorDetail(t, body); c.detail != "" && d != c.detail {
			t.Errorf("%s: detail %q, want %q", c.name, d, c.detail)
		}
	}
	if got := srv.Uploads("dup", "1.0.0"); got != 1 {
		t.Fatalf("uploads of dup@1.0.0 = %d, want 1", got)
	}
	if got := srv.Uploads("new", "1.0.0"); got != 0 {
		t.Fatalf("uploads of new@1.0.0 = %d, want 0", got)
	}
}

func TestInjectedPublishFailures(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken})
	body := publishBody(t, meta("flaky", "1.0.0"), fakeCrate(t, "flaky", "1.0.0"))

	srv.FailPublishes(2, http.StatusTooManyRequests, 1500*time.Millisecond)
	for i := 0; i < 2; i++ {
		resp := do(t, http.MethodPut, srv.URL+"/api/v1/crates/new", testToken, body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
			t.Fatalf("attempt %d: %s, Retry-After %q; want 429 with Retry-After 2", i, resp.Status, resp.Header.Get("Retry-After"))
		}
	}
	srv.FailPublishes(1, http.StatusInternalServerError, 0)
	if status, _ := put(t, srv, testToken, body); status != http.StatusInternalServerError {
		t.Fatalf("injected 500: got %d", status)
	}
	if status, b := put(t, srv, testToken, body); status != http.StatusOK {
		t.Fatalf("after the injected failures: %d %s", status, b)
	}
	if got, want := srv.PublishAttempts("flaky", "1.0.0"), 4; got != want {
		t.Fatalf("attempts = %d, want %d", got, want)
	}
	if got := srv.Uploads("flaky", "1.0.0"); got != 1 {
		t.Fatalf("uploads = %d, want 1", got)
	}
	var publishes []registry.Request
	for _, r := range srv.Requests() {
		if r.Path == "/api/v1/crates/new" {
			publishes = append(publishes, r)
		}
	}
	statuses := []int{429, 429, 500, 200}
	for i, r := range publishes {
		if r.Status != statuses[i] || r.Crate != "flaky" || r.Version != "1.0.0" || r.Method != http.MethodPut || r.Time.IsZero() {
			t.Fatalf("publish log entry %d = %+v, want status %d for flaky@1.0.0", i, r, statuses[i])
		}
	}
}

func TestInjectedIndexFailures(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken})
	mustPublish(t, srv, meta("idx", "1.0.0"))
	srv.FailIndex(2, http.StatusServiceUnavailable)
	for i, want := range []int{503, 503, 200} {
		if status, _ := getIndex(t, srv, "3/i/idx"); status != want {
			t.Fatalf("index request %d: %d, want %d", i, status, want)
		}
	}
}

func TestIndexShowsVersionsOnlyAfterTheDelay(t *testing.T) {
	clock := pipeline.NewFakeClock(testNow)
	srv := start(t, registry.Options{Token: testToken, Clock: clock})
	mustPublish(t, srv, meta("lag", "1.0.0"))
	srv.SetIndexDelay(400 * time.Millisecond)
	mustPublish(t, srv, meta("lag", "1.1.0"))

	if lines := indexLines(t, srv, "3/l/lag"); len(lines) != 1 || lines[0].Vers != "1.0.0" {
		t.Fatalf("index during the delay = %+v, want only 1.0.0", lines)
	}
	// The API, like the crates.io database, knows the version at once.
	var v struct {
		Version struct{ Num, Checksum string }
	}
	if status := getJSON(t, srv.URL+"/api/v1/crates/lag/1.1.0", &v); status != http.StatusOK || v.Version.Num != "1.1.0" {
		t.Fatalf("API during the delay: %d %+v", status, v)
	}
	clock.Advance(400*time.Millisecond - time.Nanosecond)
	if lines := indexLines(t, srv, "3/l/lag"); len(lines) != 1 {
		t.Fatalf("index just before the delay's end = %+v, want only 1.0.0", lines)
	}
	clock.Advance(time.Nanosecond)
	if lines := indexLines(t, srv, "3/l/lag"); len(lines) != 2 || lines[1].Vers != "1.1.0" || lines[1].Cksum != v.Version.Checksum {
		t.Fatalf("index after the delay = %+v, want 1.0.0 then 1.1.0", lines)
	}
}

func TestIndexETagRevalidates(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken})
	mustPublish(t, srv, meta("etag", "1.0.0"))
	resp := do(t, http.MethodGet, srv.URL+"/index/et/ag/etag", "", nil)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/index/et/ag/etag", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if etag == "" || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation with ETag %q: %s, want 304", etag, resp.Status)
	}
	mustPublish(t, srv, meta("etag", "1.0.1"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revalidation after a publish: %s, want 200", resp.Status)
	}
}

func TestWebAPIAndDownload(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken})
	mustPublish(t, srv, meta("web", "0.9.0"))
	crate := mustPublish(t, srv, meta("web", "1.0.0"))

	resp := do(t, http.MethodGet, srv.URL+"/api/v1/crates/web/1.0.0/download", "", nil)
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, crate) {
		t.Fatalf("download: %s, %d bytes; want the published crate", resp.Status, len(got))
	}

	var c struct {
		Crate    map[string]any   `json:"crate"`
		Versions []map[string]any `json:"versions"`
	}
	if status := getJSON(t, srv.URL+"/api/v1/crates/web", &c); status != http.StatusOK {
		t.Fatalf("crate JSON: %d", status)
	}
	if c.Crate["name"] != "web" || c.Crate["max_version"] != "1.0.0" || c.Crate["newest_version"] != "1.0.0" || len(c.Versions) != 2 {
		t.Fatalf("crate JSON = %+v", c)
	}
	if c.Versions[0]["num"] != "1.0.0" || c.Versions[0]["checksum"] != sha(crate) || c.Versions[0]["dl_path"] != "/api/v1/crates/web/1.0.0/download" {
		t.Fatalf("newest version JSON = %v", c.Versions[0])
	}

	var e map[string]any
	if status := getJSON(t, srv.URL+"/api/v1/crates/ghost", &e); status != http.StatusNotFound {
		t.Fatalf("unknown crate: %d", status)
	}
	if status := getJSON(t, srv.URL+"/api/v1/crates/web/3.0.0", &e); status != http.StatusNotFound {
		t.Fatalf("unknown version: %d", status)
	}
}

func TestYank(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken})
	mustPublish(t, srv, meta("yk", "1.0.0"))
	resp := do(t, http.MethodDelete, srv.URL+"/api/v1/crates/yk/1.0.0/yank", "nope", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("yank with a wrong token: %s", resp.Status)
	}
	resp = do(t, http.MethodDelete, srv.URL+"/api/v1/crates/yk/1.0.0/yank", testToken, nil)
	resp.Body.Close()
	if lines := indexLines(t, srv, "2/yk"); resp.StatusCode != http.StatusOK || !lines[0].Yanked {
		t.Fatalf("yank: %s, index %+v", resp.Status, lines)
	}
	resp = do(t, http.MethodPut, srv.URL+"/api/v1/crates/yk/1.0.0/unyank", testToken, nil)
	resp.Body.Close()
	if lines := indexLines(t, srv, "2/yk"); resp.StatusCode != http.StatusOK || lines[0].Yanked {
		t.Fatalf("unyank: %s, index %+v", resp.Status, lines)
	}
}

func TestRestartedServerServesTheSameWorld(t *testing.T) {
	dir := t.TempDir()
	srv, err := registry.Start("", registry.Options{Dir: dir, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	crate := mustPublish(t, srv, meta("keep", "1.0.0"))
	srv.SetIndexDelay(time.Hour)
	mustPublish(t, srv, meta("keep", "1.1.0"))
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	srv = start(t, registry.Options{Dir: dir, Token: testToken})
	lines := indexLines(t, srv, "ke/ep/keep")
	if len(lines) != 1 || lines[0].Vers != "1.0.0" || lines[0].Cksum != sha(crate) {
		t.Fatalf("index after restart = %+v, want 1.0.0 only (1.1.0 still pending)", lines)
	}
	resp := do(t, http.MethodGet, srv.URL+"/api/v1/crates/keep/1.0.0/download", "", nil)
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, crate) {
		t.Fatalf("download after restart: %s, %d bytes", resp.Status, len(got))
	}
	status, body := put(t, srv, testToken, publishBody(t, meta("keep", "1.1.0"), fakeCrate(t, "keep", "1.1.0")))
	if status != http.StatusBadRequest || !strings.Contains(string(body), "already uploaded") {
		t.Fatalf("republish of a pending version after restart: %d %s", status, body)
	}
	mustPublish(t, srv, meta("keep", "1.2.0"))
}

func TestSeed(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken})
	crate := fakeCrate(t, "seeded", "1.0.0")
	entry := registry.IndexEntry{Name: "seeded", Vers: "1.0.0", Features: map[string][]string{"std": {}}}
	if err := srv.Seed(entry, crate); err != nil {
		t.Fatal(err)
	}
	if err := srv.Seed(registry.IndexEntry{Name: "seeded", Vers: "0.9.0", Cksum: strings.Repeat("ab", 32)}, nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.Seed(registry.IndexEntry{Name: "seeded", Vers: "1.1.0", Cksum: strings.Repeat("00", 32)}, fakeCrate(t, "seeded", "1.1.0")); err == nil {
		t.Fatal("seeding with a cksum that does not match the crate succeeded")
	}
	if err := srv.Seed(entry, crate); err == nil {
		t.Fatal("seeding the same version twice succeeded")
	}

	lines := indexLines(t, srv, "se/ed/seeded")
	if len(lines) != 2 || lines[0].Cksum != sha(crate) || lines[1].Vers != "0.9.0" {
		t.Fatalf("seeded index = %+v", lines)
	}
	if srv.Uploads("seeded", "1.0.0") != 0 {
		t.Fatal("a seeded version counts as an upload")
	}
	status, body := put(t, srv, testToken, publishBody(t, meta("seeded", "1.0.0"), crate))
	if status != http.StatusBadRequest || errorDetail(t, body) != "crate version `1.0.0` is already uploaded" {
		t.Fatalf("publish over a seeded version: %d %s", status, body)
	}
	resp := do(t, http.MethodGet, srv.URL+"/api/v1/crates/seeded/0.9.0/download", "", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("download of a version seeded without bytes: %s, want 404", resp.Status)
	}
}

func TestLatencyIsAddedToEveryRequest(t *testing.T) {
	clock := pipeline.NewFakeClock(testNow)
	srv := start(t, registry.Options{Latency: 150 * time.Millisecond, Clock: clock})
	ask := func() <-chan error {
		answered := make(chan error, 1)
		go func() {
			resp, err := http.Get(srv.URL + "/index/config.json")
			if err == nil {
				resp.Body.Close()
			}
			answered <- err
		}()
		return answered
	}
	answered := ask()
	if err := clock.AwaitWaiter(answered, 10*time.Second); err != nil {
		t.Fatalf("a request with 150ms latency: %v", err)
	}
	clock.Advance(150*time.Millisecond - time.Nanosecond)
	if clock.Waiters() == 0 {
		t.Fatal("the request was answered before its 150ms latency")
	}
	clock.Advance(time.Nanosecond)
	if err := <-answered; err != nil {
		t.Fatal(err)
	}

	srv.SetLatency(0)
	if err := clock.AwaitWaiter(ask(), 10*time.Second); err == nil {
		t.Fatal("a request with no latency waits on the clock")
	}
}

// Knobs and publishes from many goroutines at once; run with -race.
func TestConcurrentUse(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("conc%d", i)
			srv.SetLatency(time.Millisecond)
			srv.SetIndexDelay(0)
			srv.FailIndex(0, 500)
			body := publishBody(t, meta(name, "1.0.0"), fakeCrate(t, name, "1.0.0"))
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/api/v1/crates/new", bytes.NewReader(body))
			req.Header.Set("Authorization", testToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			srv.Requests()
			srv.Uploads(name, "1.0.0")
		}()
	}
	wg.Wait()
	for i := 0; i < 8; i++ {
		if got := srv.Uploads(fmt.Sprintf("conc%d", i), "1.0.0"); got != 1 {
			t.Errorf("conc%d uploads = %d", i, got)
		}
	}
}

// A registry whose clock is off: its Date headers and its request log read
// the same clock, 30 s behind this machine's.
func TestClockOffsetMovesDateAndRequestLogTogether(t *testing.T) {
	srv := start(t, registry.Options{ClockOffset: -30 * time.Second, Latency: 20 * time.Millisecond})
	before := time.Now()
	resp := do(t, http.MethodHead, srv.URL+"/", "", nil)
	resp.Body.Close()
	mustPublish(t, srv, meta("skewed", "1.0.0"))
	after := time.Now()

	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		t.Fatalf("Date %q: %v", resp.Header.Get("Date"), err)
	}
	// Stamped when the answer was written, after the latency, to the
	// second (truncated).
	lo, hi := before.Add(-30*time.Second).Add(20*time.Millisecond).Truncate(time.Second), after.Add(-30*time.Second)
	if date.Before(lo) || date.After(hi) {
		t.Errorf("Date %s, want between %s and %s (30 s behind)", date.Format(time.RFC3339), lo.Format(time.RFC3339Nano), hi.Format(time.RFC3339Nano))
	}
	log := srv.Requests()
	if len(log) != 2 || log[1].Method != http.MethodPut {
		t.Fatalf("request log %+v, want the HEAD and the PUT", log)
	}
	for _, r := range log {
		if r.Time.Before(before.Add(-30*time.Second)) || r.Time.After(after.Add(-30*time.Second)) {
			t.Errorf("%s %s logged at %s, not on the registry's clock (30 s behind %s..%s)", r.Method, r.Path,
				r.Time.Format(time.RFC3339Nano), before.Format(time.RFC3339Nano), after.Format(time.RFC3339Nano))
		}
	}
}
