// Package sandbox builds the world a rehearsal releases into: a bare mirror
// of the public repository and a crates.io-compatible registry seeded from
// the real index, all on this machine. Nothing here ever writes to a real
// target; the real ones are only read.
package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/async-rs/embargo/sandbox/github"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/stages/index"
)

// Rehearsal is a running sandbox world.
type Rehearsal struct {
	Dir    string
	Public string // bare mirror of the public repository
	Blog   string // bare mirror of the blog repository, when there is one
	// BlogURL is where the mirror of the blog is served as the blog's
	// deploy serves the real one, when Options.BlogSite says how: verify
	// reads the post live there. "" otherwise.
	BlogURL  string
	Registry *registry.Server
	// Token is the sandbox registry's own token (never a real one).
	Token string
	// Proxy, for a release to an alternative registry, is what cargo
	// reaches the sandbox registry through while it keeps the real index
	// URL (see RegistryProxy); nil for crates-io, which cargo reaches by
	// source replacement, and whose URL it writes into no package.
	Proxy *RegistryProxy
	// GitHub holds a copy of the draft security advisory when the release
	// has one ([ghsa]), GitHubToken its own token: a rehearsal publishes
	// the copy and never calls GitHub.
	GitHub      *github.Server
	GitHubToken string
	// Mail is the mail server a release with [announce] mails to, and the
	// key that signs its announcement; nil without Options.Mail.
	Mail *Mail
	// ReadWithToken is true when the real index wanted a token to be read
	// (a private registry) and was read with RealToken's.
	ReadWithToken bool
	// Warnings say what could not be read from the real world.
	Warnings []string
	// Seeded is what was copied from the real registry.
	Seeded Seeded

	site *http.Server // serves the blog's mirror at BlogURL
}

// Seeded counts what a rehearsal copied from the real registry into its
// sandbox: index files (one a package), the versions they list, and the
// .crate files downloaded.
type Seeded struct {
	Packages, Versions, Crates int
	Took                       time.Duration
}

// seedParallel bounds the reads of the real registry made at once.
const seedParallel = 8

// Options say what to mirror and seed.
type Options struct {
	Dir    string
	Public string // the real public repository, read only
	Blog   string // the real blog repository, read only ("" for none)
	// Index is the real registry index, read only; CratesIO when it is
	// crates-io, whose crates' dependencies cargo sends as crates.io's.
	Index    string
	CratesIO bool
	// Crates are the crates the release publishes: their existing versions
	// are seeded so "already released" is seen as in the real world.
	Crates []string
	// Released are the versions the release publishes (name@version):
	// when the real registry has them already (a rehearsal after a partial
	// release), their .crate files are seeded too, so verification can
	// download them as from the real registry.
	Released []string
	// Locked are the registry packages (name@version) of the lockfiles the
	// release is packaged with, committed or pinned: every package the
	// resolution and the verification build need. Their entries and .crate
	// files are seeded.
	Locked []string
	// RealToken gives the real registry's token. It is asked for only when
	// the real index wants a token to be read (a private registry,
	// auth-required): the seed then reads the index and the .crate files
	// with it, and does nothing else with it; the rehearsal's stages only
	// ever see the sandbox's own token. RealTokenSource names it in
	// messages ("VAR (registry.token_env in embargo.toml)").
	RealToken       func() string
	RealTokenSource string
	// GHSA, when set, is the draft advisory the sandbox GitHub holds, in
	// the repository GHSARepo (owner/name): made from the config, as the
	// maintainers' draft on GitHub says the same.
	GHSA     *github.Draft
	GHSARepo string
	// TrustedPublishing makes the sandbox registry exchange OIDC tokens
	// and stand in for the CI runner's OIDC endpoint, so that a release
	// configured for Trusted Publishing rehearses that path.
	TrustedPublishing bool
	// BlogSite, when set, serves a blog repository as the blog's own
	// deploy would once it has built the branch's tip. Only a sandbox
	// blog's deploy is known (the built-in example's): a real blog's is
	// its own, and a rehearsal of it does not pretend to serve its post.
	BlogSite func(repo string) http.Handler
	// Mail gives the world a mail server and a signing key of its own,
	// made as of Now (the rehearsal's start), for a release with
	// [announce].
	Mail bool
	Now  time.Time
}

// Start builds the world under opts.Dir.
func Start(ctx context.Context, opts Options) (*Rehearsal, error) {
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	r := &Rehearsal{Dir: opts.Dir, Public: filepath.Join(opts.Dir, "public.git"), Token: randomToken()}
	if err := mirror(ctx, opts.Public, r.Public); err != nil {
		return nil, fmt.Errorf("mirror the public repository %s: %w", opts.Public, err)
	}
	if opts.Blog != "" {
		r.Blog = filepath.Join(opts.Dir, "blog.git")
		if err := mirror(ctx, opts.Blog, r.Blog); err != nil {
			return nil, fmt.Errorf("mirror the blog repository %s: %w", opts.Blog, err)
		}
	}
	ro := registry.Options{Dir: filepath.Join(opts.Dir, "registry"), Token: r.Token, CratesIO: opts.CratesIO}
	if opts.TrustedPublishing {
		ro.TrustedPublishing = &registry.TrustedPublishing{}
	}
	srv, err := registry.Start("", ro)
	if err != nil {
		return nil, err
	}
	r.Registry = srv
	if !opts.CratesIO && opts.Index != "" {
		if r.Proxy, err = StartRegistryProxy(opts.Index, srv.IndexURL(), filepath.Join(opts.Dir, "proxy-ca.pem")); err != nil {
			srv.Close()
			return nil, err
		}
	}
	if opts.GHSA != nil {
		r.GitHubToken = randomToken()
		if r.GitHub, err = github.Start("", github.Options{Token: r.GitHubToken, Dir: filepath.Join(opts.Dir, "github")}); err != nil {
			r.Close()
			return nil, err
		}
		if err := r.GitHub.AddDraft(opts.GHSARepo, *opts.GHSA); err != nil {
			r.Close()
			return nil, err
		}
	}
	if opts.Mail {
		if r.Mail, err = startMail(opts.Now); err != nil {
			r.Close()
			return nil, err
		}
	}
	if opts.BlogSite != nil && r.Blog != "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("serve the mirror of the blog: %w", err)
		}
		r.site = &http.Server{Handler: opts.BlogSite(r.Blog), ReadHeaderTimeout: 10 * time.Second}
		r.BlogURL = "http://" + ln.Addr().String() + "/"
		go r.site.Serve(ln)
	}
	if err := r.seed(ctx, opts); err != nil {
		r.Warnings = append(r.Warnings, err.Error())
	}
	return r, nil
}

// Close stops the registry, the GitHub API and the mail server; the
// files stay for --keep.
func (r *Rehearsal) Close() error {
	var errs []error
	if r.site != nil {
		errs = append(errs, r.site.Close())
	}
	if r.GitHub != nil {
		errs = append(errs, r.GitHub.Close())
	}
	if r.Proxy != nil {
		errs = append(errs, r.Proxy.Close())
	}
	if r.Mail != nil {
		errs = append(errs, r.Mail.Close())
	}
	return errors.Join(append(errs, r.Registry.Close())...)
}

// mirror copies every branch and tag of the public repository into a new
// bare repository, reading the public one only.
func mirror(ctx context.Context, from, to string) error {
	repo, err := git.PlainInit(to, true)
	if err != nil {
		return err
	}
	rem := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: "public", URLs: []string{from}})
	err = rem.FetchContext(ctx, &git.FetchOptions{
		RefSpecs: []config.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"},
		Tags:     git.NoTags,
	})
	if errors.Is(err, git.NoErrAlreadyUpToDate) || errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return nil
	}
	return err
}

// seed copies from the real index (read only) every version of each
// package involved, with the .crate files of the versions needed, reading
// seedParallel packages at once.
func (r *Rehearsal) seed(ctx context.Context, opts Options) error {
	if opts.Index == "" || (len(opts.Crates) == 0 && len(opts.Locked) == 0) {
		return nil
	}
	began := time.Now()
	defer func() { r.Seeded.Took = time.Since(began) }()
	ro := index.Options{RetryMax: 1, HTTPClient: &http.Client{Timeout: 20 * time.Second}, TokenSource: opts.RealTokenSource}
	real, err := index.New(opts.Index, ro)
	if err != nil {
		return err
	}
	cfg, err := real.Config(ctx)
	if real.WantsToken() && opts.RealToken != nil {
		// A private registry: read again, with the token. The client
		// only ever reads (it has no other verb), and sends the token
		// only to the registry's own hosts.
		if ro.Token = opts.RealToken(); ro.Token != "" {
			if real, err = index.New(opts.Index, ro); err != nil {
				return err
			}
			cfg, err = real.Config(ctx)
			r.ReadWithToken = real.ReadsWithToken()
		}
	}
	if err != nil {
		return fmt.Errorf("the real index %s could not be read (%v): the sandbox registry starts empty, so versions already released are not seen", opts.Index, err)
	}
	// Versions whose .crate files are needed: the ones the release
	// publishes that are already out, and every locked one. Each package's
	// index file is read once and each of its versions seeded once, with
	// its .crate when needed.
	need := map[string]bool{}
	var names []string
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	for _, name := range opts.Crates {
		add(name)
	}
	for _, nv := range opts.Released {
		need[nv] = true
	}
	for _, nv := range opts.Locked {
		need[nv] = true
		name, _, _ := strings.Cut(nv, "@")
		add(name)
	}

	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, seedParallel)
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			versions, crates, err := r.seedPackage(ctx, real, cfg.DL, name, need)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if versions > 0 {
				r.Seeded.Packages++
			}
			r.Seeded.Versions += versions
			r.Seeded.Crates += crates
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// seedPackage copies one package's index entries, and the .crate files of
// the versions needed.
func (r *Rehearsal) seedPackage(ctx context.Context, real *index.Client, dl, name string, need map[string]bool) (versions, crates int, err error) {
	entries, err := real.Versions(ctx, name)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range entries {
		var crate []byte
		if need[e.Name+"@"+e.Vers] {
			var b bytes.Buffer
			if err := real.Download(ctx, index.CrateURL(dl, e.Name, e.Vers, e.Cksum), &b); err != nil {
				return versions, crates, fmt.Errorf("%s@%s: %w", e.Name, e.Vers, err)
			}
			crate = b.Bytes()
			crates++
		}
		var re registry.IndexEntry
		b, _ := json.Marshal(e)
		if err := json.Unmarshal(b, &re); err != nil {
			return versions, crates, err
		}
		if err := r.Registry.Seed(re, crate); err != nil {
			return versions, crates, err
		}
		versions++
	}
	return versions, crates, nil
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "sandbox-" + hex.EncodeToString(b)
}
