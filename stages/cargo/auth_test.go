package cargo_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/async-rs/embargo/internal/testenv"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/sandbox/world"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/index"
)

// companyWorkspace is the a <- b chain for the alternative registry
// "company": b's dependency names it, and b's build script writes what it
// sees of cargo's token variable to the file $TOKEN_PROBE names.
func companyWorkspace(t *testing.T) string {
	t.Helper()
	files := world.Workspace([]string{"a", "b"}, "0.1.0")
	files["b/Cargo.toml"] = strings.Replace(files["b/Cargo.toml"], `version = "=0.1.0" }`, `version = "=0.1.0", registry = "company" }`, 1)
	files["b/build.rs"] = `fn main() {
    let seen = std::env::var("CARGO_REGISTRIES_COMPANY_TOKEN").unwrap_or_else(|_| "<unset>".into());
    std::fs::write(std::env::var("TOKEN_PROBE").unwrap(), seen).unwrap();
}
`
	dir := t.TempDir()
	if err := world.WriteFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	return dir
}

// releaseToCompany packages a and b with verification (b's build resolves a
// through the registry's index, with the crates packaged together overlaid
// on it), then publishes both, as a release does. It returns what cargo
// asked the registry.
func releaseToCompany(t *testing.T, srv *registry.Server) (reqs []registry.Request, probe string, out string) {
	t.Helper()
	testenv.NeedTool(t, "cargo", "publishing is tested with the real cargo")
	probe = filepath.Join(t.TempDir(), "probe")
	t.Setenv("TOKEN_PROBE", probe)
	ws := companyWorkspace(t)
	cg := &cargo.Cargo{Home: filepath.Join(t.TempDir(), "cargo-home"), Registry: cargo.Registry{Name: "company", Index: srv.IndexURL(), Token: registryToken}}
	ctx := context.Background()
	pkgs, err := cg.Package(ctx, ws, []*cargo.Crate{{Name: "a", Version: "0.1.0"}, {Name: "b", Version: "0.1.0"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		o, err := cg.Publish(ctx, ws, name)
		if err != nil {
			t.Fatal(err)
		}
		out += o
	}
	reqs = srv.Requests()
	idx, err := index.New(srv.IndexURL(), index.Options{Token: registryToken})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		if e, found, err := idx.Lookup(ctx, p.Name, p.Version); err != nil || !found || e.Cksum != p.Sha256 {
			t.Fatalf("%s@%s in the index: %+v, found %v, err %v; want the packaged sha256 %s", p.Name, p.Version, e, found, err, p.Sha256)
		}
	}
	return reqs, probe, out
}

// A private registry (auth-required) is read by cargo with the token, from
// packaging on: cargo cannot resolve b's dependency on a otherwise. The build
// script cargo runs meanwhile sees the variable blank.
func TestPrivateRegistryIsReadWithTheToken(t *testing.T) {
	srv, err := registry.Start("", registry.Options{Dir: t.TempDir(), Token: registryToken, AuthRequired: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	reqs, probe, out := releaseToCompany(t, srv)

	read := false
	for i, r := range reqs {
		switch {
		case i == 0:
			// cargo's first question, as RFC 3139 has it: config.json
			// without the token, answered 401.
			if r.Path != "/index/config.json" || r.Token || r.Status != 401 {
				t.Errorf("first request %s %s: token %v, status %d; want config.json without the token, 401", r.Method, r.Path, r.Token, r.Status)
			}
		case !r.Token || r.Status == 401 || r.Status == 403:
			t.Errorf("%s %s: token %v, status %d; want every request after the first with the token, and answered", r.Method, r.Path, r.Token, r.Status)
		case r.Path == "/index/"+index.Path("a"):
			read = true
		}
	}
	if !read {
		t.Error("cargo never read a's index file")
	}
	seen, err := os.ReadFile(probe)
	if err != nil {
		t.Fatalf("b's build script did not run: %v", err)
	}
	if string(seen) != "" {
		t.Errorf("b's build script saw the token variable as %q, want it blank", seen)
	}
	if strings.Contains(out, registryToken) {
		t.Errorf("cargo's output shows the token:\n%s", out)
	}
}

// A registry read without a token gets it only with the upload, though
// cargo holds it while packaging.
func TestTokenGoesOnlyToAnUploadWhenTheRegistryIsReadWithout(t *testing.T) {
	srv, err := registry.Start("", registry.Options{Dir: t.TempDir(), Token: registryToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	reqs, _, _ := releaseToCompany(t, srv)
	uploads := 0
	for _, r := range reqs {
		if r.Method == "PUT" {
			uploads++
			if !r.Token {
				t.Errorf("upload %s without the token", r.Path)
			}
		} else if r.Token {
			t.Errorf("%s %s carried the token, to a registry read without one", r.Method, r.Path)
		}
	}
	if uploads != 2 {
		t.Errorf("%d uploads, want 2", uploads)
	}
}
