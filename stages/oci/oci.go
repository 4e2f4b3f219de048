// Package oci reads and copies container images between registries, by
// digest. It is the small part of go-containerregistry the promote stage
// needs: resolve a reference to its digest, and copy a manifest (an image,
// or a multi-arch index with every child) with all its blobs.
package oci

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrNotFound is wrapped by errors about a reference that does not resolve:
// no such repository, tag or digest.
var ErrNotFound = errors.New("not found")

// Options tune a Client; the zero value is what a release uses.
type Options struct {
	// Keychain finds credentials per registry; default authn.DefaultKeychain
	// (the Docker config: `docker login`, credential helpers).
	Keychain authn.Keychain
	// Transport is the HTTP transport underneath; default
	// remote.DefaultTransport.
	Transport http.RoundTripper
}

// Client talks to OCI registries. Plain HTTP is used for loopback
// registries only: everywhere else credentials travel over TLS.
type Client struct {
	remote []remote.Option
}

// New makes a client.
func New(opts Options) *Client { return &Client{remote: opts.Remote()} }

// Remote is how every request to a registry is made: with the keychain's
// credentials, over TLS except to a loopback registry.
func (opts Options) Remote() []remote.Option {
	kc := opts.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	base := opts.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	return []remote.Option{
		remote.WithAuthFromKeychain(kc),
		remote.WithTransport(tlsOnly{base}),
	}
}

// Loopback reports whether host (with or without a port) is this machine,
// the only place a registry may be reached over plain HTTP.
func Loopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NameOptions are the options a reference is parsed with. Insecure is
// decided per reference, not per client: a copy from a local registry to a
// public one must not take the public one to plain HTTP.
func NameOptions(ref string) []name.Option {
	host, _, _ := strings.Cut(ref, "/")
	if strings.Contains(ref, "/") && Loopback(host) {
		return crane.GetOptions(crane.Insecure).Name
	}
	return nil
}

// Parse parses an image reference the way the client will use it.
func Parse(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref, NameOptions(ref)...)
	if err != nil {
		return nil, fmt.Errorf("%q is not an image reference: %w", ref, err)
	}
	return r, nil
}

// PinnedDigest is the digest of a reference pinned by digest
// (registry/repo@sha256:...), or an error for any other reference.
func PinnedDigest(ref string) (string, error) {
	d, err := name.NewDigest(ref, NameOptions(ref)...)
	if err != nil {
		return "", fmt.Errorf("%q is not pinned by digest (registry/repo@sha256:...): %w", ref, err)
	}
	return d.DigestStr(), nil
}

// Resolve returns the digest ref resolves to. A reference that does not
// exist is an error wrapping ErrNotFound.
func (c *Client) Resolve(ctx context.Context, ref string) (string, error) {
	r, err := Parse(ref)
	if err != nil {
		return "", err
	}
	opts := append([]remote.Option{remote.WithContext(ctx)}, c.remote...)
	desc, err := remote.Head(r, opts...)
	if err != nil && !NotFound(err) {
		// Some registries answer HEAD poorly; GET says more.
		var got *remote.Descriptor
		if got, err = remote.Get(r, opts...); err == nil {
			return got.Digest.String(), nil
		}
	}
	if err != nil {
		return "", describe(ref, err)
	}
	return desc.Digest.String(), nil
}

// Copy copies what src names (an image, or an index with every manifest it
// lists) with all its blobs to dst, and returns the digest copied. The
// manifest is copied byte for byte, so dst resolves to the same digest.
func (c *Client) Copy(ctx context.Context, src, dst string) (string, error) {
	from, err := Parse(src)
	if err != nil {
		return "", err
	}
	to, err := Parse(dst)
	if err != nil {
		return "", err
	}
	puller, err := remote.NewPuller(c.remote...)
	if err != nil {
		return "", err
	}
	pusher, err := remote.NewPusher(c.remote...)
	if err != nil {
		return "", err
	}
	desc, err := puller.Get(ctx, from)
	if err != nil {
		return "", describe(src, err)
	}
	if err := pusher.Push(ctx, to, desc); err != nil {
		return "", fmt.Errorf("write %s: %w", dst, explain(err))
	}
	return desc.Digest.String(), nil
}

// NotFound reports whether a registry answered that it has no such
// manifest or repository.
func NotFound(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	if te.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range te.Errors {
		if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}

// describe turns a failed read of ref into an error that says what to do.
func describe(ref string, err error) error {
	if NotFound(err) {
		return fmt.Errorf("%s: %w", ref, ErrNotFound)
	}
	return fmt.Errorf("read %s: %w", ref, explain(err))
}

func explain(err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("%w (credentials come from the Docker config: run `docker login` for this registry)", err)
	}
	return err
}

// tlsOnly refuses plain HTTP to any registry but a loopback one, whatever
// the library would otherwise fall back to (it tries plain HTTP for private
// network addresses).
type tlsOnly struct{ next http.RoundTripper }

func (t tlsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !Loopback(req.URL.Host) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("refusing plain HTTP to %s: only a registry on this machine may be reached without TLS", req.URL.Host)
	}
	return t.next.RoundTrip(req)
}
