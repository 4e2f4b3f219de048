package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"

	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/stages/index"
)

// Two release lines often lock different versions of one dependency: the
// sandbox must serve the .crate of each, as the real registry does, or the
// rehearsal's verification build cannot download it.
func TestSeedServesEveryLockedVersion(t *testing.T) {
	ctx := context.Background()
	real, err := registry.Start("", registry.Options{Dir: t.TempDir(), Token: "real-registry-token"})
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	crates := map[string][]byte{
		"1.0.0": []byte("the bytes of dep 1.0.0"),
		"2.0.0": []byte("the bytes of dep 2.0.0"),
		"3.0.0": []byte("the bytes of dep 3.0.0"),
	}
	for _, v := range []string{"1.0.0", "2.0.0", "3.0.0"} {
		if err := real.Seed(registry.IndexEntry{Name: "dep", Vers: v}, crates[v]); err != nil {
			t.Fatal(err)
		}
	}
	public := filepath.Join(t.TempDir(), "public.git")
	if _, err := git.PlainInit(public, true); err != nil {
		t.Fatal(err)
	}

	r, err := Start(ctx, Options{
		Dir: t.TempDir(), Public: public, Index: real.IndexURL(),
		Locked: []string{"dep@1.0.0", "dep@2.0.0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.Warnings) != 0 {
		t.Fatalf("warnings: %v", r.Warnings)
	}
	if s := r.Seeded; s.Packages != 1 || s.Versions != 3 || s.Crates != 2 || s.Took <= 0 {
		t.Errorf("seeded %+v, want 1 package, 3 versions, 2 .crate files and the time it took", s)
	}
	sandbox, err := index.New(r.Registry.IndexURL(), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := sandbox.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := sandbox.Versions(ctx, "dep")
	if err != nil || len(versions) != 3 {
		t.Fatalf("the sandbox index lists %d versions of dep (%v), want all 3", len(versions), err)
	}
	for _, e := range versions {
		resp, err := http.Get(index.CrateURL(cfg.DL, e.Name, e.Vers, e.Cksum))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		locked := e.Vers != "3.0.0"
		switch {
		case locked && (resp.StatusCode != http.StatusOK || !bytes.Equal(body, crates[e.Vers])):
			t.Errorf("dep@%s is locked but its .crate is not served: %d %q", e.Vers, resp.StatusCode, body)
		case !locked && resp.StatusCode == http.StatusOK:
			t.Errorf("dep@%s is not needed but its .crate was copied", e.Vers)
		}
	}
}

// A private real registry (auth-required) is read with its token, asked for
// only then, and only to read: the sandbox gets its versions and .crate
// files; a public registry never has the token asked for.
func TestSeedReadsAPrivateRegistryWithItsTokenOnly(t *testing.T) {
	ctx := context.Background()
	const realToken = "real-private-registry-token"
	public := filepath.Join(t.TempDir(), "public.git")
	if _, err := git.PlainInit(public, true); err != nil {
		t.Fatal(err)
	}
	for _, private := range []bool{true, false} {
		real, err := registry.Start("", registry.Options{Dir: t.TempDir(), Token: realToken, AuthRequired: private})
		if err != nil {
			t.Fatal(err)
		}
		defer real.Close()
		crate := []byte("the bytes of dep 1.0.0")
		if err := real.Seed(registry.IndexEntry{Name: "dep", Vers: "1.0.0"}, crate); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{realToken, ""} {
			asked := 0
			r, err := Start(ctx, Options{
				Dir: t.TempDir(), Public: public, Index: real.IndexURL(), Locked: []string{"dep@1.0.0"},
				RealToken:       func() string { asked++; return tok },
				RealTokenSource: "REAL_TOKEN (registry.token_env in embargo.toml)",
			})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			switch {
			case !private && asked > 0:
				t.Errorf("the token of a public registry was asked for %d times", asked)
			case private && asked != 1:
				t.Errorf("the token of a private registry was asked for %d times, want once", asked)
			case private && tok == "" && (len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "export REAL_TOKEN (registry.token_env in embargo.toml)")):
				t.Errorf("without the token: warnings %q, want one naming the variable", r.Warnings)
			case (!private || tok != "") && len(r.Warnings) != 0:
				t.Errorf("private %v: warnings %q", private, r.Warnings)
			}
			if r.ReadWithToken != (private && tok != "") {
				t.Errorf("private %v, token %q: read with the token %v", private, tok, r.ReadWithToken)
			}
			if private && tok == "" {
				continue
			}
			resp, err := http.Get(r.Registry.URL + "/api/v1/crates/dep/1.0.0/download")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Equal(body, crate) {
				t.Errorf("private %v: the sandbox does not serve dep's .crate: %d %q", private, resp.StatusCode, body)
			}
		}
		for _, req := range real.Requests() {
			if req.Method != http.MethodGet {
				t.Errorf("the real registry saw %s %s", req.Method, req.Path)
			}
			if req.Token && !private {
				t.Errorf("the public registry got the token: %s %s", req.Method, req.Path)
			}
		}
	}
}

// The seed of a real project's rehearsal: async-std's resolution pins about
// ninety packages, each an index file and a .crate to copy from a registry
// some tens of milliseconds away.
func BenchmarkSeedNinetyPackages(b *testing.B) {
	ctx := context.Background()
	real, err := registry.Start("", registry.Options{Dir: b.TempDir(), Latency: 20 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer real.Close()
	var locked []string
	for i := range 90 {
		name := fmt.Sprintf("dep%02d", i)
		for v := range 10 {
			vers := fmt.Sprintf("1.%d.0", v)
			if err := real.Seed(registry.IndexEntry{Name: name, Vers: vers}, []byte(name+" "+vers)); err != nil {
				b.Fatal(err)
			}
		}
		locked = append(locked, name+"@1.9.0")
	}
	public := filepath.Join(b.TempDir(), "public.git")
	if _, err := git.PlainInit(public, true); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		r, err := Start(ctx, Options{Dir: b.TempDir(), Public: public, Index: real.IndexURL(), Locked: locked})
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Warnings) > 0 || r.Seeded.Packages != 90 || r.Seeded.Crates != 90 {
			b.Fatalf("seeded %+v: %v", r.Seeded, r.Warnings)
		}
		b.ReportMetric(r.Seeded.Took.Seconds(), "s/seed")
		r.Close()
	}
}
