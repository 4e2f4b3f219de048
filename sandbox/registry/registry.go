// Package registry is a crates.io-compatible registry for rehearsals and
// tests: a sparse index, the publish/download web API that the real cargo
// talks to, on-disk storage, and knobs to make it slow or failing.
package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. Dir is required; an empty Token accepts any
// (or no) Authorization header.
type Options struct {
	Dir        string
	Token      string
	Latency    time.Duration // added to every request
	IndexDelay time.Duration // a published version shows in the index only after this
	// ClockOffset sets the registry's clock this far ahead of this
	// machine's (negative: behind): its Date headers, its request log and
	// its publish times all read it.
	ClockOffset time.Duration
	// Clock, when set, is the machine's clock the registry reads instead of
	// the wall clock, the offset added, and waits its latency on: a test
	// moves a fake one to see the index delay, the latency, a token's
	// lifetime or a rate limit end, without waiting for them.
	Clock Clock

	// AuthRequired makes the registry a private one, as RFC 3139 describes
	// (cargo 1.74 and later): config.json says "auth-required", and every
	// read (config.json, index files, downloads, the web API) wants Token in
	// the Authorization header; without it, or with another, the answer is
	// 401 with cargo's `www-authenticate: Cargo login_url=...` challenge.
	// It needs a Token.
	AuthRequired bool

	// CratesIO makes the sandbox stand in for crates.io, for cargo configured
	// with source.crates-io.replace-with pointing at it: dependencies cargo
	// sends as coming from crates.io are this registry's own, so they must
	// exist and are indexed without a registry field, as crates.io does.
	CratesIO bool

	// TrustedPublishing, when set, turns on the Trusted Publishing
	// exchange and the stand-in for the runner's OIDC endpoint (see
	// TrustedPublishing). Publishes then need a token: Token, or one
	// exchanged.
	TrustedPublishing *TrustedPublishing
	// RateLimit, when set, limits publishes made with Token as crates.io
	// limits an account's (see RateLimit).
	RateLimit *RateLimit

	// Flavor is whose registry the sandbox plays (see Flavor): the
	// default serves crates.io's paths and compares the token as sent.
	// A flavour needs a Token.
	Flavor Flavor
	// ReadToken, with FlavorGitea, is a token Gitea knows that may only
	// read (no write:package scope): writes with it are refused.
	ReadToken string
}

// Clock is a source of time (pipeline.Clock and its fake are ones).
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// wallClock is this machine's.
type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Request is one entry of the request log. Crate and Version are set for
// publishes whose metadata could be read.
type Request struct {
	Method   string
	Path     string
	Status   int
	Time     time.Time // arrival, on the registry's clock
	Duration time.Duration
	Crate    string
	Version  string
	// Token is true when the request carried the registry's token.
	Token bool
	// UserAgent is who asked, as they said: cargo says "cargo/VERSION".
	UserAgent string
}

// Server is a running sandbox registry.
type Server struct {
	URL string // http://127.0.0.1:PORT, no trailing slash

	token        string
	readToken    string
	flavor       Flavor
	authRequired bool
	cratesIO     bool
	offset       time.Duration
	clock        Clock
	http         *http.Server
	ln           net.Listener

	mu          sync.Mutex
	store       *store
	latency     time.Duration
	indexDelay  time.Duration
	failPublish failure
	failIndex   failure
	uploads     map[string]int
	attempts    map[string]int
	log         []Request

	tp            *trustpub
	versionBucket *bucketState
	crateBucket   *bucketState
}

type failure struct {
	n          int
	status     int
	retryAfter time.Duration
}

// take consumes one injected failure, if any remain.
func (f *failure) take() (failure, bool) {
	if f.n <= 0 {
		return failure{}, false
	}
	f.n--
	return *f, true
}

// Start serves a registry on addr ("" means 127.0.0.1:0) with storage under
// opts.Dir. Versions already stored there are served again.
func Start(addr string, opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("sandbox registry: Options.Dir is required")
	}
	if opts.AuthRequired && opts.Token == "" {
		return nil, errors.New("sandbox registry: Options.AuthRequired needs a Token")
	}
	switch opts.Flavor {
	case Plain:
	case FlavorCratesIO, FlavorGitea:
		if opts.Token == "" {
			return nil, fmt.Errorf("sandbox registry: the %s flavour needs a Token", opts.Flavor)
		}
	default:
		return nil, fmt.Errorf("sandbox registry: unknown flavour %q (want one of %q)", opts.Flavor, Flavors)
	}
	if opts.Flavor == FlavorGitea && (opts.AuthRequired || opts.TrustedPublishing != nil || opts.RateLimit != nil || opts.CratesIO) {
		return nil, errors.New("sandbox registry: the gitea flavour is a public owner's registry, without Trusted Publishing or a rate limit, never standing in for crates.io")
	}
	if opts.ReadToken != "" && opts.Flavor != FlavorGitea {
		return nil, errors.New("sandbox registry: Options.ReadToken is a Gitea token: it needs the gitea flavour")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox registry: %w", err)
	}
	st, err := openStore(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("sandbox registry: open %s: %w", opts.Dir, err)
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox registry: listen: %w", err)
	}
	s := &Server{
		URL:          "http://" + ln.Addr().String(),
		token:        opts.Token,
		readToken:    opts.ReadToken,
		flavor:       opts.Flavor,
		authRequired: opts.AuthRequired,
		cratesIO:     opts.CratesIO,
		offset:       opts.ClockOffset,
		clock:        opts.Clock,
		ln:           ln,
		store:        st,
		latency:      opts.Latency,
		indexDelay:   opts.IndexDelay,
		uploads:      map[string]int{},
		attempts:     map[string]int{},
	}
	if s.clock == nil {
		s.clock = wallClock{}
	}
	if opts.TrustedPublishing != nil {
		if s.tp, err = newTrustpub(*opts.TrustedPublishing); err != nil {
			ln.Close()
			return nil, fmt.Errorf("sandbox registry: %w", err)
		}
	}
	s.setRateLimit(opts.RateLimit)
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln)
	return s, nil
}

// now is the registry's clock.
func (s *Server) now() time.Time { return s.clock.Now().Add(s.offset) }

// IndexURL is the index URL for cargo configuration, with the sparse+ prefix.
func (s *Server) IndexURL() string { return "sparse+" + s.URL + s.indexRoot() + "/" }

// Close stops the server; stored versions stay on disk.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		return s.http.Close()
	}
	return nil
}

// FailPublishes makes the next n publish requests answer status. A positive
// retryAfter is sent as Retry-After, in whole seconds (rounded up).
func (s *Server) FailPublishes(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failPublish = failure{n: n, status: status, retryAfter: retryAfter}
}

// FailIndex makes the next n requests under /index/ answer status.
func (s *Server) FailIndex(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failIndex = failure{n: n, status: status}
}

// SetLatency changes the delay added to every request.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetIndexDelay changes the visibility delay of versions published from now on.
func (s *Server) SetIndexDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.indexDelay = d
}

// Uploads counts the successful publishes of name@version since Start.
func (s *Server) Uploads(name, version string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uploads[versionKey(name, version)]
}

// PublishAttempts counts the publish requests for name@version since Start,
// whatever their outcome.
func (s *Server) PublishAttempts(name, version string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[versionKey(name, version)]
}

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Seed stores an existing version as if published long ago: visible at once,
// not counted as an upload, and refused to later publishes like any stored
// version. crate may be nil (downloads then answer 404); when given, its
// sha256 must equal e.Cksum, and an empty e.Cksum is filled from it.
func (s *Server) Seed(e IndexEntry, crate []byte) error {
	if err := validName(e.Name); err != nil {
		return fmt.Errorf("sandbox registry: seed: %w", err)
	}
	if err := validVersion(e.Vers); err != nil {
		return fmt.Errorf("sandbox registry: seed %s: %w", e.Name, err)
	}
	if crate != nil {
		sum := sha256hex(crate)
		if e.Cksum == "" {
			e.Cksum = sum
		} else if !strings.EqualFold(e.Cksum, sum) {
			return fmt.Errorf("sandbox registry: seed %s@%s: cksum %s does not match the crate's sha256 %s", e.Name, e.Vers, e.Cksum, sum)
		}
	}
	if e.Cksum == "" {
		return fmt.Errorf("sandbox registry: seed %s@%s: no cksum and no crate", e.Name, e.Vers)
	}
	e.normalize()
	s.mu.Lock()
	defer s.mu.Unlock()
	if other := s.store.conflict(e.Name); other != "" {
		return fmt.Errorf("sandbox registry: seed %s: crate was previously named `%s`", e.Name, other)
	}
	if s.store.find(e.Name, e.Vers) != nil {
		return fmt.Errorf("sandbox registry: seed: crate version `%s` of `%s` is already stored", e.Vers, e.Name)
	}
	now := s.now().UTC()
	return s.store.add(&record{Entry: e, Published: now, VisibleAt: now, Seeded: true}, crate)
}

func versionKey(name, version string) string {
	return strings.ToLower(name) + "@" + version
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
