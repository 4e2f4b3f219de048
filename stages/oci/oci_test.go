package oci_test

import (
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/async-rs/embargo/stages/oci"
)

// testRegistry is go-containerregistry's in-process registry, counting the
// requests that write.
type testRegistry struct {
	host   string
	writes atomic.Int64
}

func startRegistry(t *testing.T) *testRegistry {
	t.Helper()
	reg := &testRegistry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodPatch {
			reg.writes.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	reg.host = strings.TrimPrefix(srv.URL, "http://")
	return reg
}

func TestCopyIndexByDigestKeepsTheDigest(t *testing.T) {
	reg := startRegistry(t)
	idx, err := random.Index(256, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	src := reg.host + "/private/app@" + d.String()
	ref, err := name.ParseReference(src, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}

	c := oci.New(oci.Options{})
	ctx := t.Context()
	dst := reg.host + "/public/app:1.2.3"
	if _, err := c.Resolve(ctx, dst); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("resolve of an absent image: %v, want ErrNotFound", err)
	}
	got, err := c.Copy(ctx, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if got != d.String() {
		t.Errorf("copied %s, want %s", got, d)
	}
	at, err := c.Resolve(ctx, dst)
	if err != nil || at != d.String() {
		t.Fatalf("target resolves to %q (%v), want %s", at, err, d)
	}
	// Every child manifest came along: the platform images resolve by
	// digest in the public repository.
	m, _ := idx.IndexManifest()
	for _, child := range m.Manifests {
		if _, err := c.Resolve(ctx, reg.host+"/public/app@"+child.Digest.String()); err != nil {
			t.Errorf("child %s not copied: %v", child.Digest, err)
		}
	}
}

func TestMissingDigestIsNotFound(t *testing.T) {
	reg := startRegistry(t)
	img, _ := random.Image(64, 1)
	d, _ := img.Digest()
	c := oci.New(oci.Options{})
	_, err := c.Copy(t.Context(), reg.host+"/private/app@"+d.String(), reg.host+"/public/app:1")
	if !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("copy of a digest never pushed: %v, want ErrNotFound", err)
	}
	if n := reg.writes.Load(); n != 0 {
		t.Errorf("the registry saw %d writes", n)
	}
}

func TestPlainHTTPOnlyForLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "localhost:5000": true, "localhost": true, "[::1]:5000": true,
		"10.0.0.5:5000": false, "ghcr.io": false, "registry.localhost.example.org": false,
	} {
		if got := oci.Loopback(host); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", host, got, want)
		}
	}
	// A private-network address would be tried over plain HTTP by the
	// library; the client refuses before any byte is sent.
	c := oci.New(oci.Options{Transport: failTransport{t}})
	_, err := c.Resolve(t.Context(), "10.255.255.1:5000/app:1")
	if err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("resolve over plain HTTP to a private address: %v", err)
	}
}

// failTransport fails every request that reaches it.
type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" {
		f.t.Errorf("plain HTTP request reached the network: %s", req.URL)
	}
	return nil, errors.New("no network in this test")
}

func TestPinnedDigest(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if got, err := oci.PinnedDigest("ghcr.io/org/private/app@" + d); err != nil || got != d {
		t.Errorf("PinnedDigest = %q, %v", got, err)
	}
	if _, err := oci.PinnedDigest("ghcr.io/org/app:1.2.3"); err == nil {
		t.Error("a tag is not a pinned reference")
	}
}
