package seal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/stages/oci"
)

// Media types of the bundle. Every layer is age-encrypted, so the registry
// (and anyone who can read it) learns nothing but sizes.
const (
	ArtifactType        = "application/vnd.embargo.bundle.v1"
	JournalArtifactType = "application/vnd.embargo.journal.v1"
	LayerMediaType      = "application/vnd.embargo.part.v1+age"
	// emptyConfig is OCI's empty descriptor, the config of an artifact.
	emptyConfigType = "application/vnd.oci.empty.v1+json"
	partAnnotation  = "vnd.embargo.part"
	titleAnnotation = "org.opencontainers.image.title"
	// journalTagSuffix: the journal of a bundle is tagged <digest hex> +
	// this suffix, in the bundle's repository.
	journalTagSuffix = "-journal"
)

// Parts of a bundle, one layer each, in this order.
const (
	partSeal        = "seal"
	partGit         = "git"
	partCrates      = "crates"
	partAdvisory    = "advisory"
	partDescription = "description"
	partLockfiles   = "lockfiles"
	partJournal     = "journal"
)

// maxPart bounds what a pull reads into memory for one layer.
const maxPart = 4 << 30

// Bundle is the plaintext of a sealed bundle.
type Bundle struct {
	Manifest    []byte            // seal.json, byte for byte
	Git         []byte            // Archive of the held branches and release tags
	Crates      map[string][]byte // .crate file name → bytes
	Lockfiles   map[string][]byte // LockfileName(line) → the Cargo.lock pinned for it
	Advisory    map[string][]byte // rendered output path → bytes
	Description []byte            // the advisory description file
}

// Options reach a registry as the oci package does: the zero value uses the
// Docker config's credentials, and only a loopback registry is reached
// without TLS.
type Options oci.Options

func (o Options) remote(ctx context.Context) []remote.Option {
	return append([]remote.Option{remote.WithContext(ctx)}, oci.Options(o).Remote()...)
}

// ErrWrongIdentity is wrapped by a pull whose identity is not one of the
// bundle's recipients.
var ErrWrongIdentity = errors.New("the age identity does not match the bundle's recipients")

// ErrNotFound is wrapped when the registry has no such bundle or journal.
var ErrNotFound = errors.New("not found")

// ParseRepository parses [seal] oci, a repository without tag or digest.
func ParseRepository(repo string) (name.Repository, error) {
	if err := config.CheckRepository(repo); err != nil {
		return name.Repository{}, err
	}
	return name.NewRepository(repo, oci.NameOptions(repo)...)
}

// ParseRef parses a bundle reference, which must carry its digest: a tag
// can be moved, a digest names the sealed bytes.
func ParseRef(ref string) (name.Digest, error) {
	if !strings.Contains(ref, "@sha256:") {
		return name.Digest{}, fmt.Errorf("bundle %q carries no digest: give it as REPOSITORY@sha256:..., as `embargo seal --push` printed it", ref)
	}
	d, err := name.NewDigest(ref, oci.NameOptions(ref)...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("bundle %q is not REPOSITORY@sha256:<64 hex digits>: %v", ref, err)
	}
	return d, nil
}

// ParseRecipients reads [seal] recipients.
func ParseRecipients(recipients []string) ([]age.Recipient, error) {
	var out []age.Recipient
	for i, s := range recipients {
		r, err := config.ParseRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("seal.recipients[%d] %v", i+1, err)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, errors.New("seal.recipients is empty: nobody could open the bundle")
	}
	return out, nil
}

// ParseIdentity reads an age identity (AGE-SECRET-KEY-1..., one or more
// lines, comments allowed). Its errors never quote the value.
func ParseIdentity(secret string) ([]age.Identity, error) {
	ids, err := age.ParseIdentities(strings.NewReader(secret))
	if err != nil || len(ids) == 0 {
		return nil, errors.New("it is not an age identity (a line AGE-SECRET-KEY-1..., as age-keygen writes it)")
	}
	return ids, nil
}

type part struct {
	name, title string
	data        []byte
}

func (b *Bundle) parts() ([]part, error) {
	crates, err := Files(b.Crates)
	if err != nil {
		return nil, err
	}
	advisory, err := Files(b.Advisory)
	if err != nil {
		return nil, err
	}
	lockfiles, err := Files(b.Lockfiles)
	if err != nil {
		return nil, err
	}
	return []part{
		{partSeal, "seal.json.age", b.Manifest},
		{partGit, "git.tar.age", b.Git},
		{partCrates, "crates.tar.age", crates},
		{partAdvisory, "advisory.tar.age", advisory},
		{partDescription, "description.age", b.Description},
		{partLockfiles, "lockfiles.tar.age", lockfiles},
	}, nil
}

// Push encrypts every part of b to recipients and pushes it as one OCI
// artifact to repo, tagged with its digest's hex so that no registry
// collects it as garbage. It returns repo@sha256:..., the only name a
// release should use.
func Push(ctx context.Context, repo string, b *Bundle, recipients []string, opts Options) (string, error) {
	r, err := ParseRepository(repo)
	if err != nil {
		return "", err
	}
	rcpt, err := ParseRecipients(recipients)
	if err != nil {
		return "", err
	}
	parts, err := b.parts()
	if err != nil {
		return "", err
	}
	img, err := newArtifact(ArtifactType, parts, rcpt, nil)
	if err != nil {
		return "", err
	}
	return push(ctx, r, img, "", opts)
}

func push(ctx context.Context, r name.Repository, img v1.Image, tagSuffix string, opts Options) (string, error) {
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	tag := r.Tag(digest.Hex + tagSuffix)
	if err := remote.Write(tag, img, opts.remote(ctx)...); err != nil {
		return "", fmt.Errorf("push to %s: %w", r, err)
	}
	return r.Digest(digest.String()).String(), nil
}

// Pull fetches the bundle ref names by digest, checks the digest and that
// it is an embargo bundle, and decrypts it with identity.
func Pull(ctx context.Context, ref string, identity []age.Identity, opts Options) (*Bundle, error) {
	d, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	m, err := fetchManifest(ctx, d, ArtifactType, opts)
	if err != nil {
		return nil, err
	}
	parts := map[string][]byte{}
	// The manifest first: a wrong identity fails on the smallest layer.
	for _, want := range []string{partSeal, partGit, partCrates, partAdvisory, partDescription, partLockfiles} {
		l, ok := findPart(m, want)
		if !ok && want == partLockfiles {
			continue // a bundle sealed before lockfiles were pinned; its seal pins none
		}
		if !ok {
			return nil, fmt.Errorf("bundle %s has no %s part: it was not made by `embargo seal --push`", d, want)
		}
		b, err := fetchPart(ctx, d.Context(), l, identity, opts)
		if err != nil {
			return nil, fmt.Errorf("bundle %s, %s part: %w", d, want, err)
		}
		parts[want] = b
	}
	b := &Bundle{Manifest: parts[partSeal], Git: parts[partGit], Description: parts[partDescription]}
	if b.Crates, err = ReadFiles(parts[partCrates]); err != nil {
		return nil, fmt.Errorf("bundle %s, crates part: %w", d, err)
	}
	if b.Advisory, err = ReadFiles(parts[partAdvisory]); err != nil {
		return nil, fmt.Errorf("bundle %s, advisory part: %w", d, err)
	}
	if b.Lockfiles, err = ReadFiles(parts[partLockfiles]); err != nil {
		return nil, fmt.Errorf("bundle %s, lockfiles part: %w", d, err)
	}
	return b, nil
}

// fetchManifest reads the manifest d names, verifies its bytes hash to d's
// digest and that it is an artifact of the wanted type.
func fetchManifest(ctx context.Context, d name.Digest, artifactType string, opts Options) (*v1.Manifest, error) {
	desc, err := remote.Get(d, opts.remote(ctx)...)
	if err != nil {
		if oci.NotFound(err) {
			return nil, fmt.Errorf("no bundle %s in %s: %w (check the digest `embargo seal --push` printed)", d.DigestStr(), d.Context(), ErrNotFound)
		}
		return nil, fmt.Errorf("fetch bundle %s: %w", d, err)
	}
	if got := "sha256:" + Sha256(desc.Manifest); got != d.DigestStr() {
		return nil, fmt.Errorf("the registry answered %s with a manifest of digest %s: refusing it", d, got)
	}
	return parseArtifact(d.String(), desc.Manifest, artifactType)
}

func parseArtifact(what string, raw []byte, artifactType string) (*v1.Manifest, error) {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if m.ArtifactType != artifactType {
		kind := m.ArtifactType
		if kind == "" {
			kind = string(m.Config.MediaType)
		}
		return nil, fmt.Errorf("%s is not an embargo %s (it is a %s, not a %s)", what, strings.TrimSuffix(strings.TrimPrefix(artifactType, "application/vnd.embargo."), ".v1"), kind, artifactType)
	}
	return m, nil
}

func findPart(m *v1.Manifest, name string) (v1.Descriptor, bool) {
	for _, l := range m.Layers {
		if l.Annotations[partAnnotation] == name {
			return l, true
		}
	}
	return v1.Descriptor{}, false
}

// fetchPart downloads a layer, checks its size and digest, and decrypts it.
func fetchPart(ctx context.Context, repo name.Repository, l v1.Descriptor, identity []age.Identity, opts Options) ([]byte, error) {
	if l.Size < 0 || l.Size > maxPart {
		return nil, fmt.Errorf("layer of %d bytes is out of bounds", l.Size)
	}
	layer, err := remote.Layer(repo.Digest(l.Digest.String()), opts.remote(ctx)...)
	if err != nil {
		return nil, err
	}
	rc, err := layer.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	ct, err := io.ReadAll(io.LimitReader(rc, l.Size+1))
	if err != nil {
		return nil, err
	}
	if int64(len(ct)) != l.Size || "sha256:"+Sha256(ct) != l.Digest.String() {
		return nil, fmt.Errorf("layer %s does not match its digest: refusing it", l.Digest)
	}
	return decrypt(ct, identity)
}

func decrypt(ct []byte, identity []age.Identity) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(ct), identity...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, ErrWrongIdentity
		}
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	return b, nil
}

func encrypt(plain []byte, recipients []age.Recipient) ([]byte, error) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// JournalTag is where the journal of a bundle is kept.
func JournalTag(bundle name.Digest) name.Tag {
	hex := strings.TrimPrefix(bundle.DigestStr(), "sha256:")
	return bundle.Context().Tag(hex + journalTagSuffix)
}

// PushJournal stores a journal beside its bundle, encrypted to the same
// recipients, replacing the one stored before.
func PushJournal(ctx context.Context, bundle name.Digest, journal []byte, recipients []string, opts Options) error {
	rcpt, err := ParseRecipients(recipients)
	if err != nil {
		return err
	}
	img, err := newArtifact(JournalArtifactType, []part{{partJournal, "journal.json.age", journal}}, rcpt,
		map[string]string{"vnd.embargo.bundle": bundle.DigestStr()})
	if err != nil {
		return err
	}
	if err := remote.Write(JournalTag(bundle), img, opts.remote(ctx)...); err != nil {
		return fmt.Errorf("store the journal at %s: %w", JournalTag(bundle), err)
	}
	return nil
}

// PullJournal reads the journal stored beside a bundle; ok is false when
// none was stored yet.
func PullJournal(ctx context.Context, bundle name.Digest, identity []age.Identity, opts Options) (journal []byte, ok bool, err error) {
	tag := JournalTag(bundle)
	desc, err := remote.Get(tag, opts.remote(ctx)...)
	if err != nil {
		if oci.NotFound(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("read the stored journal %s: %w", tag, err)
	}
	m, err := parseArtifact(tag.String(), desc.Manifest, JournalArtifactType)
	if err != nil {
		return nil, false, err
	}
	if m.Annotations["vnd.embargo.bundle"] != bundle.DigestStr() {
		return nil, false, fmt.Errorf("the journal at %s belongs to another bundle", tag)
	}
	l, ok := findPart(m, partJournal)
	if !ok {
		return nil, false, fmt.Errorf("the journal at %s has no journal layer", tag)
	}
	b, err := fetchPart(ctx, bundle.Context(), l, identity, opts)
	if err != nil {
		return nil, false, fmt.Errorf("the journal at %s: %w", tag, err)
	}
	return b, true, nil
}

// artifact is an OCI 1.1 artifact: the empty config, an artifactType, and
// encrypted layers. go-containerregistry's mutate has no artifactType, so
// the manifest is written here and the rest derived by partial.
type artifact struct {
	manifest []byte
	blobs    map[v1.Hash]v1.Layer
}

var emptyConfig = []byte("{}")

func newArtifact(artifactType string, parts []part, rcpt []age.Recipient, annotations map[string]string) (v1.Image, error) {
	a := &artifact{blobs: map[v1.Hash]v1.Layer{}}
	cfgHash, _, err := v1.SHA256(bytes.NewReader(emptyConfig))
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  artifactType,
		Config:        v1.Descriptor{MediaType: emptyConfigType, Size: int64(len(emptyConfig)), Digest: cfgHash},
		Annotations:   annotations,
	}
	for _, p := range parts {
		ct, err := encrypt(p.data, rcpt)
		if err != nil {
			return nil, fmt.Errorf("encrypt the %s part: %w", p.name, err)
		}
		l := static.NewLayer(ct, LayerMediaType)
		h, err := l.Digest()
		if err != nil {
			return nil, err
		}
		a.blobs[h] = l
		m.Layers = append(m.Layers, v1.Descriptor{
			MediaType: LayerMediaType, Size: int64(len(ct)), Digest: h,
			Annotations: map[string]string{partAnnotation: p.name, titleAnnotation: p.title},
		})
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	a.manifest = raw
	return partial.CompressedToImage(a)
}

func (a *artifact) RawManifest() ([]byte, error)        { return a.manifest, nil }
func (a *artifact) RawConfigFile() ([]byte, error)      { return emptyConfig, nil }
func (a *artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func (a *artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := a.blobs[h]; ok {
		return l, nil
	}
	if cfg, _, _ := v1.SHA256(bytes.NewReader(emptyConfig)); h == cfg {
		return static.NewLayer(emptyConfig, emptyConfigType), nil
	}
	return nil, fmt.Errorf("no blob %s in the artifact", h)
}
