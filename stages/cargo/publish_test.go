package cargo_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/async-rs/embargo/internal/testenv"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/sandbox/world"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/index"
)

const registryToken = "cargo-test-registry-token"

// chainWorkspace writes a workspace where b depends on a by path and
// version, with its lockfile.
func chainWorkspace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := world.WriteFiles(dir, world.Workspace([]string{"a", "b"}, "0.1.0")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// cargo resolves the package's dependencies through the view of the index
// (no round trip to the registry for them), still uploads to the registry,
// and the upload is the crate cargo packaged before, with its dependency on
// the same registry (no trace of the view in what is published): for
// crates.io, and for an alternative registry, a private one included,
// whose view answers only cargo, with the view's own token.
func TestPublishResolvesThroughTheView(t *testing.T) {
	testenv.NeedTool(t, "cargo", "publishing is tested with the real cargo")
	const alt, private = "the alternative registry forge", "a private alternative registry"
	for _, mode := range []string{"crates.io", "crates-io redirected to another registry", alt, private} {
		t.Run(mode, func(t *testing.T) {
			opts := registry.Options{Dir: t.TempDir(), Token: registryToken, CratesIO: true}
			if mode == alt || mode == private {
				opts.CratesIO, opts.AuthRequired = false, mode == private
			}
			srv, err := registry.Start("", opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			reg := cargo.Registry{Name: "crates-io", Index: srv.IndexURL(), Token: registryToken}
			ws := chainWorkspace(t)
			if !opts.CratesIO {
				reg.Name, ws = "forge", forgeWorkspace(t)
			}
			if mode == "crates.io" {
				// The release's own path, for crates.io itself: cargo's
				// test hook makes the sandbox crates.io's built-in index,
				// so that `--registry crates-io` reaches it without any
				// source replacement of embargo's.
				t.Setenv("__CARGO_TEST_CRATES_IO_URL_DO_NOT_USE_THIS", srv.IndexURL())
				reg.Index = cargo.CratesIOIndex
			}
			home := filepath.Join(t.TempDir(), "cargo-home")
			cg := &cargo.Cargo{Home: home, Registry: reg}
			ctx := context.Background()
			pkgs, err := cg.Package(ctx, ws, []*cargo.Crate{{Name: "a", Version: "0.1.0"}, {Name: "b", Version: "0.1.0"}})
			if err != nil {
				t.Fatal(err)
			}

			idx, err := index.New(srv.IndexURL(), index.Options{Token: registryToken})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := idx.Config(ctx); err != nil {
				t.Fatal(err)
			}
			view, err := idx.Serve()
			if err != nil {
				t.Fatal(err)
			}
			defer view.Close()
			cg = cg.WithView(view.URL(), view.Token())

			if _, err := cg.Publish(ctx, ws, "a"); err != nil {
				t.Fatal(err)
			}
			if _, found, err := idx.Lookup(ctx, "a", "0.1.0"); err != nil || !found {
				t.Fatalf("a@0.1.0 not in the index after publishing: %v", err)
			}
			before := len(srv.Requests())
			began := time.Now()
			if _, err := cg.Publish(ctx, ws, "b"); err != nil {
				t.Fatal(err)
			}
			t.Logf("cargo publish -p b took %s", time.Since(began).Round(time.Millisecond))
			for _, r := range srv.Requests()[before:] {
				if r.Path == "/index/"+index.Path("a") {
					t.Errorf("cargo read a's index file from the registry while publishing b (%s %s)", r.Method, r.Path)
				}
			}
			if n := srv.Uploads("b", "0.1.0"); n != 1 {
				t.Fatalf("b@0.1.0 uploaded %d times to the registry", n)
			}
			versions, err := idx.Versions(ctx, "b")
			if err != nil || len(versions) != 1 {
				t.Fatalf("b in the index: %+v, %v", versions, err)
			}
			e := versions[0]
			if e.Cksum != pkgs[1].Sha256 {
				t.Errorf("b was published with sha256 %s, packaged before as %s", e.Cksum, pkgs[1].Sha256)
			}
			if len(e.Deps) != 1 || e.Deps[0].Name != "a" || e.Deps[0].Registry != "" {
				t.Errorf("b's dependencies as published: %+v (want a, from the same registry)", e.Deps)
			}
		})
	}
}
