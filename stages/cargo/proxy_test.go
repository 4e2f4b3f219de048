package cargo_test

import (
	"context"
	"encoding/pem"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/async-rs/embargo/internal/testenv"
	"github.com/async-rs/embargo/sandbox"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/sandbox/world"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/index"
)

// forgeWorkspace is the a <- b chain of a project publishing to its own
// registry "forge": b depends on a by path, version and registry, and both
// may be published there only.
func forgeWorkspace(t *testing.T) string {
	t.Helper()
	files := world.Workspace([]string{"a", "b"}, "0.1.0")
	files["b/Cargo.toml"] = strings.Replace(files["b/Cargo.toml"], `version = "=0.1.0" }`, `version = "=0.1.0", registry = "forge" }`, 1)
	for _, m := range []string{"a/Cargo.toml", "b/Cargo.toml"} {
		files[m] = strings.Replace(files[m], "\n[dependencies]", "publish = [\"forge\"]\n\n[dependencies]", 1)
		if !strings.Contains(files[m], "publish =") {
			files[m] += "publish = [\"forge\"]\n"
		}
	}
	dir := t.TempDir()
	if err := world.WriteFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The registry's index URL is in b's package (registry-index, and the
// source of a in its Cargo.lock), so a rehearsal must package with the real
// one. Through a rehearsal's proxy, cargo configured with the real registry's
// https URL packages exactly the bytes it packages against the real
// registry, and uploads them to the sandbox, trusting the proxy's
// certificate authority alone; the real registry gets no request, whatever
// NO_PROXY says.
func TestThroughARehearsalProxyCargoPackagesAndUploadsTheRealBytes(t *testing.T) {
	testenv.NeedTool(t, "cargo", "packaging is tested with the real cargo")
	ctx := context.Background()
	crates := []*cargo.Crate{{Name: "a", Version: "0.1.0"}, {Name: "b", Version: "0.1.0"}}

	// The real registry, on https, which cargo trusts at T0.
	realReg, err := registry.Start("", registry.Options{Dir: t.TempDir(), Token: "real-token"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { realReg.Close() })
	backend, _ := url.Parse(realReg.URL)
	realTLS := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(backend))
	t.Cleanup(realTLS.Close)
	trust := filepath.Join(t.TempDir(), "real.pem")
	if err := os.WriteFile(trust, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: realTLS.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	realIndex := "sparse+" + realTLS.URL + "/index/"

	t.Setenv("CARGO_HTTP_CAINFO", trust)
	sealing := &cargo.Cargo{Home: filepath.Join(t.TempDir(), "home"), Registry: cargo.Registry{Name: "forge", Index: realIndex}}
	sealed, err := sealing.Package(ctx, forgeWorkspace(t), crates)
	if err != nil {
		t.Fatalf("packaging against the real registry: %v", err)
	}
	before := len(realReg.Requests())

	sandboxReg, err := registry.Start("", registry.Options{Dir: t.TempDir(), Token: "sandbox-token"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sandboxReg.Close() })
	proxy, err := sandbox.StartRegistryProxy(realIndex, sandboxReg.IndexURL(), filepath.Join(t.TempDir(), "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	// As many machines have it: no host may bypass the rehearsal's proxy.
	t.Setenv("NO_PROXY", "127.0.0.1,localhost")
	rehearsing := &cargo.Cargo{Home: filepath.Join(t.TempDir(), "home"), Registry: cargo.Registry{Name: "forge", Index: realIndex, Token: "sandbox-token"},
		Proxy: proxy.URL, ProxyCA: proxy.CAFile}
	ws := forgeWorkspace(t)
	rehearsed, err := rehearsing.Package(ctx, ws, crates)
	if err != nil {
		t.Fatalf("packaging through the proxy: %v", err)
	}
	for i, p := range rehearsed {
		if p.Sha256 != sealed[i].Sha256 {
			t.Errorf("%s@%s packaged through the proxy as sha256 %s, against the real registry %s", p.Name, p.Version, p.Sha256, sealed[i].Sha256)
		}
	}
	for _, c := range crates {
		if _, err := rehearsing.Publish(ctx, ws, c.Name); err != nil {
			t.Fatalf("publishing %s through the proxy: %v", c.Name, err)
		}
	}
	idx, err := index.New(sandboxReg.IndexURL(), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sealed {
		if e, found, err := idx.Lookup(ctx, p.Name, p.Version); err != nil || !found || e.Cksum != p.Sha256 {
			t.Errorf("%s@%s in the sandbox: %+v, found %v, err %v; want the sha256 packaged against the real registry, %s", p.Name, p.Version, e, found, err, p.Sha256)
		}
	}
	if reqs := realReg.Requests()[before:]; len(reqs) != 0 {
		t.Errorf("the real registry got %d request(s) from the rehearsing cargo, first %s %s", len(reqs), reqs[0].Method, reqs[0].Path)
	}
}
