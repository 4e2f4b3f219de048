package registry_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/internal/testenv"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/sandbox/world"
)

const testToken = "sandbox-secret-token"

// workspace writes a two-crate workspace: b depends on a by path and
// version, under the name alpha, so publishing b exercises renamed deps.
// depExtra is appended inside b's dependency table.
func workspace(t *testing.T, depExtra string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"Cargo.toml": "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n",
		"a/Cargo.toml": `[package]
name = "a"
version = "0.1.0"
edition = "2021"
description = "sandbox crate a"
license = "MIT"
`,
		"a/src/lib.rs": "pub fn answer() -> u32 { 42 }\n",
		"b/Cargo.toml": `[package]
name = "b"
version = "0.2.0"
edition = "2021"
description = "sandbox crate b"
license = "MIT"

[dependencies]
alpha = { package = "a", path = "../a", version = "0.1.0"` + depExtra + ` }
`,
		"b/src/lib.rs": "pub fn doubled() -> u32 { alpha::answer() * 2 }\n",
	}
	if err := world.WriteFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	return dir
}

type cargoEnv struct {
	t      *testing.T
	dir    string
	env    []string
	global []string // arguments before the subcommand, such as --config
}

// newCargo configures cargo for the sandbox through the environment only,
// with a private CARGO_HOME so that the user's config, credentials and index
// caches stay out of the test.
func newCargo(t *testing.T, dir string, srv *registry.Server, token string) *cargoEnv {
	t.Helper()
	testenv.NeedTool(t, "cargo", "the sandbox registry is tested with the real cargo")
	env := append(os.Environ(),
		"CARGO_HOME="+filepath.Join(t.TempDir(), "cargo-home"),
		"CARGO_REGISTRIES_SANDBOX_INDEX="+srv.IndexURL(),
		"CARGO_REGISTRIES_SANDBOX_TOKEN="+token,
		"CARGO_TARGET_DIR="+filepath.Join(dir, "target"),
		"CARGO_TERM_COLOR=never",
		// Fail at once rather than retrying a host that is not there.
		"CARGO_NET_RETRY=0",
	)
	return &cargoEnv{t: t, dir: dir, env: env}
}

// replaceCratesIO points crates-io at the sandbox, as a rehearsal does, so
// that dependencies without a registry key resolve against the sandbox.
// cargo ignores source tables set through the environment; --config works.
func (c *cargoEnv) replaceCratesIO() {
	c.global = append(c.global, "--config", `source.crates-io.replace-with="sandbox"`)
}

func (c *cargoEnv) run(args ...string) (string, error) {
	c.t.Helper()
	cmd := exec.Command("cargo", append(append([]string{}, c.global...), args...)...)
	cmd.Dir = c.dir
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *cargoEnv) mustRun(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("cargo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func start(t *testing.T, opts registry.Options) *registry.Server {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	srv, err := registry.Start("", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func getIndex(t *testing.T, srv *registry.Server, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(srv.URL + "/index/" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// indexLines reads an index file; nil when the crate is not in the index.
func indexLines(t *testing.T, srv *registry.Server, path string) []registry.IndexEntry {
	t.Helper()
	status, body := getIndex(t, srv, path)
	if status == http.StatusNotFound {
		return nil
	}
	if status != http.StatusOK {
		t.Fatalf("GET index %s: status %d", path, status)
	}
	var out []registry.IndexEntry
	for _, line := range bytes.Split(bytes.TrimSpace(body), []byte("\n")) {
		var e registry.IndexEntry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("index %s: %v: %s", path, err, line)
		}
		out = append(out, e)
	}
	return out
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func countRequests(srv *registry.Server, method, path string, status int) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == method && r.Path == path && r.Status == status {
			n++
		}
	}
	return n
}

// The rehearsal setup: crates-io replaced by the sandbox, the project's
// manifests unchanged.
func TestCargoPublishesInOrderAndResolvesFromSandbox(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken, CratesIO: true, IndexDelay: time.Second})
	ws := workspace(t, "")
	cargo := newCargo(t, ws, srv, testToken)
	cargo.replaceCratesIO()

	// Package first, as the seal does before T0; cargo packages
	// reproducibly, so the publish must upload these very bytes.
	cargo.mustRun("package", "-p", "a", "--allow-dirty")
	sealed := fileSHA256(t, filepath.Join(ws, "target", "package", "a-0.1.0.crate"))

	// cargo waits until the version shows in the index: after the upload
	// its reads of a's index file find nothing while the delay hides the
	// version, and it returns once a read shows it.
	cargo.mustRun("publish", "-p", "a", "--registry", "sandbox", "--allow-dirty")
	var afterUpload []int
	uploaded := false
	for _, r := range srv.Requests() {
		switch {
		case r.Method == http.MethodPut && r.Crate == "a" && r.Status == http.StatusOK:
			uploaded = true
		case uploaded && r.Method == http.MethodGet && r.Path == "/index/1/a":
			afterUpload = append(afterUpload, r.Status)
		}
	}
	if n := len(afterUpload); n < 2 || afterUpload[n-1] != http.StatusOK || slices.Contains(afterUpload[:n-1], http.StatusOK) || afterUpload[0] != http.StatusNotFound {
		t.Fatalf("cargo's reads of a's index file after the upload answered %v: want it not found during the 1s delay, then found once, last", afterUpload)
	}
	a := indexLines(t, srv, "1/a")
	if len(a) != 1 || a[0].Name != "a" || a[0].Vers != "0.1.0" {
		t.Fatalf("index 1/a = %+v, want a@0.1.0", a)
	}
	if a[0].Cksum != sealed {
		t.Fatalf("index cksum %s, sha256 of the packaged crate %s", a[0].Cksum, sealed)
	}

	// cargo verifies b by building it against a as downloaded from the
	// sandbox: resolution through the index and downloads both work.
	srv.SetIndexDelay(0)
	cargo.mustRun("publish", "-p", "b", "--registry", "sandbox", "--allow-dirty")
	if countRequests(srv, http.MethodGet, "/api/v1/crates/a/0.1.0/download", http.StatusOK) == 0 {
		t.Fatal("cargo never downloaded a@0.1.0 while verifying b")
	}
	b := indexLines(t, srv, "1/b")
	if len(b) != 1 || len(b[0].Deps) != 1 {
		t.Fatalf("index 1/b = %+v, want one version with one dependency", b)
	}
	// cargo marks a as coming from crates.io; the stand-in indexes it as
	// its own, as crates.io does.
	want := registry.IndexDep{Name: "alpha", Package: "a", Req: "^0.1.0", Kind: "normal", DefaultFeatures: true, Features: []string{}}
	if dep := b[0].Deps[0]; !reflect.DeepEqual(dep, want) {
		t.Fatalf("b's dependency in the index = %+v, want %+v", dep, want)
	}

	// Once the index shows a version, cargo itself refuses to upload it.
	out, err := cargo.run("publish", "-p", "a", "--registry", "sandbox", "--allow-dirty", "--no-verify")
	if err == nil || !strings.Contains(out, "crate a@0.1.0 already exists on `sandbox` index") {
		t.Fatalf("second publish of a@0.1.0: err %v, want cargo's own refusal:\n%s", err, out)
	}
	for _, v := range []struct{ name, vers string }{{"a", "0.1.0"}, {"b", "0.2.0"}} {
		if got := srv.Uploads(v.name, v.vers); got != 1 {
			t.Errorf("uploads of %s@%s = %d, want exactly 1", v.name, v.vers, got)
		}
	}
	if got := srv.PublishAttempts("a", "0.1.0"); got != 1 {
		t.Errorf("publish attempts of a@0.1.0 = %d, want 1", got)
	}
}

// While a version is uploaded but not yet in the index, cargo uploads again
// and the registry refuses with crates.io's message.
func TestCargoDuplicateDuringIndexLagIsRefused(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken, IndexDelay: time.Hour})
	ws := workspace(t, "")
	cargo := newCargo(t, ws, srv, testToken)
	cargo.mustRun("package", "-p", "a", "--allow-dirty", "--no-verify")
	crate, err := os.ReadFile(filepath.Join(ws, "target", "package", "a-0.1.0.crate"))
	if err != nil {
		t.Fatal(err)
	}
	if status, body := put(t, srv, testToken, publishBody(t, meta("a", "0.1.0"), crate)); status != http.StatusOK {
		t.Fatalf("first upload: status %d: %s", status, body)
	}

	out, err := cargo.run("publish", "-p", "a", "--registry", "sandbox", "--allow-dirty", "--no-verify")
	if err == nil {
		t.Fatalf("second publish of a@0.1.0 succeeded:\n%s", out)
	}
	if !strings.Contains(out, "crate version `0.1.0` is already uploaded") {
		t.Fatalf("second publish of a@0.1.0 failed without the crates.io message:\n%s", out)
	}
	if got := srv.Uploads("a", "0.1.0"); got != 1 {
		t.Fatalf("uploads of a@0.1.0 = %d, want 1", got)
	}
	if got := srv.PublishAttempts("a", "0.1.0"); got != 2 {
		t.Fatalf("publish attempts of a@0.1.0 = %d, want 2", got)
	}
}

// A plain alternative registry, configured through the environment only:
// the dependency names the registry it comes from.
func TestCargoPublishesToAlternativeRegistryWithEnvOnly(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken})
	cargo := newCargo(t, workspace(t, `, registry = "sandbox"`), srv, testToken)
	cargo.mustRun("publish", "-p", "a", "--registry", "sandbox", "--allow-dirty")
	cargo.mustRun("publish", "-p", "b", "--registry", "sandbox", "--allow-dirty")
	b := indexLines(t, srv, "1/b")
	if len(b) != 1 || len(b[0].Deps) != 1 {
		t.Fatalf("index 1/b = %+v, want one version with one dependency", b)
	}
	if dep := b[0].Deps[0]; dep.Name != "alpha" || dep.Package != "a" || dep.Registry != "" {
		t.Fatalf("b's dependency in the index = %+v, want alpha -> a in this registry", dep)
	}
}

func TestCargoPublishWithWrongTokenIsRefused(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken})
	cargo := newCargo(t, workspace(t, ""), srv, "not-the-token")
	out, err := cargo.run("publish", "-p", "a", "--registry", "sandbox", "--allow-dirty", "--no-verify")
	if err == nil {
		t.Fatalf("publish with a wrong token succeeded:\n%s", out)
	}
	if !strings.Contains(out, "403") || !strings.Contains(out, "authentication failed") {
		t.Fatalf("publish with a wrong token failed without a 403:\n%s", out)
	}
	if got := srv.Uploads("a", "0.1.0"); got != 0 {
		t.Fatalf("uploads of a@0.1.0 = %d, want 0", got)
	}
}

func TestCargoSeesInjected429(t *testing.T) {
	srv := start(t, registry.Options{Token: testToken})
	cargo := newCargo(t, workspace(t, ""), srv, testToken)
	srv.FailPublishes(1, http.StatusTooManyRequests, 3*time.Second)
	out, err := cargo.run("publish", "-p", "a", "--registry", "sandbox", "--allow-dirty", "--no-verify")
	if err == nil {
		t.Fatalf("publish during an injected 429 succeeded:\n%s", out)
	}
	if !strings.Contains(out, "429") {
		t.Fatalf("cargo output does not show the 429:\n%s", out)
	}
	if got := countRequests(srv, http.MethodPut, "/api/v1/crates/new", http.StatusTooManyRequests); got != 1 {
		t.Fatalf("logged 429 publishes = %d, want 1", got)
	}
	// The failure was one-shot: the next publish goes through.
	cargo.mustRun("publish", "-p", "a", "--registry", "sandbox", "--allow-dirty", "--no-verify")
	if got := srv.Uploads("a", "0.1.0"); got != 1 {
		t.Fatalf("uploads of a@0.1.0 = %d, want 1", got)
	}
}
