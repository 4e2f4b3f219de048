package seal

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testRegistry is go-containerregistry's in-process registry; handler,
// when set, sees every request first and may answer it instead.
func testRegistry(t *testing.T, handler func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if handler != nil && handler(w, r) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

var anonymous = Options{Keychain: authn.NewMultiKeychain()}

func identity(t *testing.T) (*age.X25519Identity, []age.Identity) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ParseIdentity("# a comment, as age-keygen writes\n" + id.String() + "\n")
	if err != nil {
		t.Fatal(err)
	}
	return id, ids
}

func sampleBundle(t *testing.T) *Bundle {
	t.Helper()
	m := &Manifest{ID: "DEMO-SA-2026-001", T0: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC),
		Config: File{Path: "embargo.toml", Sha256: Sha256([]byte("config"))},
		Lines: []Line{{Line: "1.13", Branch: "embargo/1.13", Held: strings.Repeat("a", 40), Tag: "v1.13.1", Crates: []Crate{{Name: "demo", Version: "1.13.1", Sha256: "00"}},
			PinnedLock: Sha256([]byte(sampleLock))}}}
	mb, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return &Bundle{
		Manifest:    mb,
		Git:         []byte("a tar of a repository"),
		Crates:      map[string][]byte{"demo-1.13.1.crate": []byte("crate bytes"), "demo-core-1.13.1.crate": bytes.Repeat([]byte{7}, 100000)},
		Lockfiles:   map[string][]byte{LockfileName("1.13"): []byte(sampleLock)},
		Advisory:    map[string][]byte{"osv/DEMO-SA-2026-001.json": []byte("{}"), "post.md": []byte("# post")},
		Description: []byte("An index was not checked."),
	}
}

const sampleLock = "version = 4\n\n[[package]]\nname = \"tinydep\"\nversion = \"1.0.0\"\n"

func TestPushPullRoundTrip(t *testing.T) {
	host := testRegistry(t, nil)
	id, ids := identity(t)
	other, _ := identity(t)
	b := sampleBundle(t)
	ctx := context.Background()

	ref, err := Push(ctx, host+"/embargo-bundles", b, []string{other.Recipient().String(), id.Recipient().String()}, anonymous)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ref, host+"/embargo-bundles@sha256:") {
		t.Fatalf("ref %q is not REPO@sha256:...", ref)
	}
	got, err := Pull(ctx, ref, ids, anonymous)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Manifest, b.Manifest) || !bytes.Equal(got.Git, b.Git) || !bytes.Equal(got.Description, b.Description) {
		t.Error("manifest, git or description differ after the round trip")
	}
	for n, c := range b.Crates {
		if !bytes.Equal(got.Crates[n], c) {
			t.Errorf("crate %s differs", n)
		}
	}
	for n, c := range b.Advisory {
		if !bytes.Equal(got.Advisory[n], c) {
			t.Errorf("advisory %s differs", n)
		}
	}
	// The pinned lockfile travels with the bundle: a fresh runner
	// packages with exactly it.
	if lf := got.Lockfiles[LockfileName("1.13")]; string(lf) != sampleLock || len(got.Lockfiles) != 1 {
		t.Errorf("lockfiles after the round trip: %q", got.Lockfiles)
	}
	if len(got.Crates) != len(b.Crates) || len(got.Advisory) != len(b.Advisory) {
		t.Errorf("got %d crates, %d outputs", len(got.Crates), len(got.Advisory))
	}

	// The artifact is typed, tagged by its digest, and holds no plaintext.
	d, _ := name.NewDigest(ref, name.Insecure)
	desc, err := remote.Get(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(desc.Manifest), `"artifactType":"`+ArtifactType+`"`) {
		t.Errorf("manifest lacks the artifact type: %s", desc.Manifest)
	}
	img, err := remote.Image(d)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	for _, l := range layers {
		rc, _ := l.Compressed()
		raw, _ := io.ReadAll(rc)
		rc.Close()
		for _, plain := range []string{"DEMO-SA", "crate bytes", "An index", "embargo/1.13"} {
			if bytes.Contains(raw, []byte(plain)) {
				t.Errorf("a layer holds %q in the clear", plain)
			}
		}
	}
	tagged, err := remote.Get(d.Context().Tag(strings.TrimPrefix(d.DigestStr(), "sha256:")))
	if err != nil || tagged.Digest.String() != d.DigestStr() {
		t.Errorf("the bundle is not tagged by its digest: %v", err)
	}
}

func TestPullWithWrongIdentity(t *testing.T) {
	host := testRegistry(t, nil)
	id, _ := identity(t)
	_, wrong := identity(t)
	ref, err := Push(context.Background(), host+"/b", sampleBundle(t), []string{id.Recipient().String()}, anonymous)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Pull(context.Background(), ref, wrong, anonymous)
	if !errors.Is(err, ErrWrongIdentity) {
		t.Fatalf("want ErrWrongIdentity, got %v", err)
	}
	if !strings.Contains(err.Error(), "does not match the bundle's recipients") {
		t.Errorf("unclear error: %v", err)
	}
}

func TestPullRefusesAManifestOfAnotherDigest(t *testing.T) {
	var tamper bool
	host := testRegistry(t, func(w http.ResponseWriter, r *http.Request) bool {
		if !tamper || r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/manifests/sha256:") {
			return false
		}
		// Another valid bundle manifest, under the digest that was asked.
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		io.WriteString(w, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"`+ArtifactType+`","config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}`)
		return true
	})
	id, ids := identity(t)
	ref, err := Push(context.Background(), host+"/b", sampleBundle(t), []string{id.Recipient().String()}, anonymous)
	if err != nil {
		t.Fatal(err)
	}
	tamper = true
	_, err = Pull(context.Background(), ref, ids, anonymous)
	if err == nil || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("a manifest that does not hash to the digest was accepted: %v", err)
	}
}

func TestPullRefusals(t *testing.T) {
	host := testRegistry(t, nil)
	id, ids := identity(t)
	ctx := context.Background()
	ref, err := Push(ctx, host+"/b", sampleBundle(t), []string{id.Recipient().String()}, anonymous)
	if err != nil {
		t.Fatal(err)
	}

	// By tag: refused before any request.
	if _, err := Pull(ctx, host+"/b:latest", ids, anonymous); err == nil || !strings.Contains(err.Error(), "carries no digest") {
		t.Errorf("a tag was accepted: %v", err)
	}
	// Another digest: not there.
	other := ref[:len(ref)-4] + "0000"
	if _, err := Pull(ctx, other, ids, anonymous); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown digest: %v", err)
	}
	// Something else by digest: an image is not a bundle.
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	dg, _ := img.Digest()
	repo, _ := name.NewRepository(host+"/b", name.Insecure)
	if err := remote.Write(repo.Tag("image"), img); err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(ctx, repo.Digest(dg.String()).String(), ids, anonymous); err == nil || !strings.Contains(err.Error(), "is not an embargo bundle") {
		t.Errorf("an image was taken for a bundle: %v", err)
	}
}

func TestJournalBesideTheBundle(t *testing.T) {
	host := testRegistry(t, nil)
	id, ids := identity(t)
	_, wrong := identity(t)
	ctx := context.Background()
	rcpt := []string{id.Recipient().String()}
	ref, err := Push(ctx, host+"/b", sampleBundle(t), rcpt, anonymous)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := PullJournal(ctx, d, ids, anonymous); ok || err != nil {
		t.Fatalf("a journal before any was stored: ok %v, %v", ok, err)
	}
	for _, j := range []string{`{"stages":[1]}`, `{"stages":[1,2]}`} {
		if err := PushJournal(ctx, d, []byte(j), rcpt, anonymous); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := PullJournal(ctx, d, ids, anonymous)
	if err != nil || !ok || string(got) != `{"stages":[1,2]}` {
		t.Fatalf("stored journal: %q, %v, %v", got, ok, err)
	}
	if _, _, err := PullJournal(ctx, d, wrong, anonymous); !errors.Is(err, ErrWrongIdentity) {
		t.Errorf("journal with a wrong identity: %v", err)
	}
	if JournalTag(d).TagStr() != strings.TrimPrefix(d.DigestStr(), "sha256:")+"-journal" {
		t.Errorf("journal tag %s", JournalTag(d))
	}
}

func TestRecipientsAndIdentities(t *testing.T) {
	if _, err := ParseRecipients(nil); err == nil {
		t.Error("no recipients accepted")
	}
	if _, err := ParseRecipients([]string{"age1nope"}); err == nil || !strings.Contains(err.Error(), "seal.recipients[1]") {
		t.Errorf("bad recipient: %v", err)
	}
	secret := "AGE-SECRET-KEY-1NOTAKEY"
	_, err := ParseIdentity(secret)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("a bad identity is accepted or quoted: %v", err)
	}
}

func TestLoopbackOnlyIsPlainHTTP(t *testing.T) {
	for ref, insecure := range map[string]bool{
		"127.0.0.1:5000/b@sha256:" + strings.Repeat("a", 64): true,
		"localhost:5000/b@sha256:" + strings.Repeat("a", 64): true,
		"[::1]:5000/b@sha256:" + strings.Repeat("a", 64):     true,
		"ghcr.io/org/b@sha256:" + strings.Repeat("a", 64):    false,
	} {
		d, err := ParseRef(ref)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Context().Scheme() == "http"; got != insecure {
			t.Errorf("%s: plain HTTP %v, want %v", ref, got, insecure)
		}
	}
}

// go-containerregistry falls back to plain HTTP for private-network
// addresses; a bundle carries registry credentials, so only a loopback
// registry is ever reached without TLS.
func TestPrivateNetworkRegistryIsNeverReachedOverPlainHTTP(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	var plain []string
	opts := Options{Keychain: authn.NewMultiKeychain(), Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		if r.URL.Scheme == "http" {
			plain = append(plain, r.URL.String())
		}
		return nil, errors.New("no network in this test")
	})}
	ref := "10.255.255.1:5000/embargo-bundles@sha256:" + strings.Repeat("a", 64)
	if _, err := Pull(t.Context(), ref, []age.Identity{id}, opts); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("pull from a private address: %v, want a refusal of plain HTTP", err)
	}
	d, err := ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := PullJournal(t.Context(), d, []age.Identity{id}, opts); err == nil {
		t.Error("journal pull from a private address succeeded")
	}
	if len(plain) != 0 {
		t.Errorf("plain HTTP requests reached the network: %v", plain)
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
