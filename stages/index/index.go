// Package index reads a cargo sparse registry index: the registry's
// config.json and the per-crate files listing every published version with
// its checksum. The publish and verify stages use it to observe what the
// registry really serves.
package index

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/async-rs/embargo/stages/retry"
)

const (
	defaultRetryMax     = 5
	defaultRetryWaitMin = 250 * time.Millisecond
	defaultRetryWaitMax = 10 * time.Second
	defaultTimeout      = 30 * time.Second
	// Downloads are larger than index files and may meet a CDN that
	// answers 404 for a moment after the index shows a version.
	defaultDownloadRetries = 6
	defaultDownloadWaitMin = 500 * time.Millisecond
	defaultDownloadWaitMax = 15 * time.Second
	defaultDownloadTimeout = 5 * time.Minute
	// MaxCrateBytes bounds one download.
	MaxCrateBytes = 1 << 30
	// maxFileBytes bounds one index file; the largest on crates.io are a
	// few megabytes.
	maxFileBytes = 64 << 20
)

// Options tune a Client. Zero values take the defaults.
type Options struct {
	// Token is the registry's token. It is sent as cargo sends it (RFC
	// 3139), only to a registry that requires a token to be read: once
	// config.json says "auth-required", or a request without it is
	// answered 401, every request of this client carries it in the
	// Authorization header, downloads included. A registry that never
	// asks never sees it. It never appears in errors.
	Token string
	// TokenSource names where the token comes from in messages, for the
	// fix of a 401 or a 403: the variable and the config key that names it
	// ("CARGO_REGISTRY_TOKEN (registry.token_env in embargo.toml)"). The
	// value never appears.
	TokenSource string
	// RetryMax is how many times a failed request is retried: 0 means 5,
	// a negative value means never.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff (defaults
	// 250ms and 10s); RetryWaitMax also caps a server's Retry-After.
	RetryWaitMin, RetryWaitMax time.Duration
	// HTTPClient makes the requests; the default has a 30s timeout.
	HTTPClient *http.Client
	// Clock times the waits between tries; the default is this machine's.
	// A release passes the gate's (pipeline.Clock).
	Clock retry.Clock
}

// Config is the registry's config.json.
type Config struct {
	DL           string `json:"dl"`
	API          string `json:"api"`
	AuthRequired bool   `json:"auth-required"`
}

// Entry is one version of a crate, one line of its index file.
type Entry struct {
	Name        string              `json:"name"`
	Vers        string              `json:"vers"`
	Deps        []Dep               `json:"deps"`
	Cksum       string              `json:"cksum"` // sha256 of the .crate, hex
	Features    map[string][]string `json:"features"`
	Features2   map[string][]string `json:"features2,omitempty"`
	Yanked      bool                `json:"yanked"`
	Links       string              `json:"links,omitempty"`
	V           int                 `json:"v,omitempty"`
	RustVersion string              `json:"rust_version,omitempty"`
}

// Dep is a dependency of an Entry. Name is the name the dependent uses;
// Package is the real crate name when the dependency is renamed. An empty
// Registry means the same registry.
type Dep struct {
	Name            string   `json:"name"`
	Req             string   `json:"req"`
	Features        []string `json:"features"`
	Optional        bool     `json:"optional"`
	DefaultFeatures bool     `json:"default_features"`
	Target          string   `json:"target,omitempty"`
	Kind            string   `json:"kind,omitempty"` // "normal", "dev" or "build"
	Registry        string   `json:"registry,omitempty"`
	Package         string   `json:"package,omitempty"`
}

// UnmarshalJSON applies cargo's defaults for fields an index may omit.
func (d *Dep) UnmarshalJSON(b []byte) error {
	type plain Dep
	p := plain{DefaultFeatures: true}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if p.Kind == "" {
		p.Kind = "normal"
	}
	*d = Dep(p)
	return nil
}

// Client reads one sparse index. It is safe for concurrent use.
type Client struct {
	base        *url.URL // index root, with a trailing slash
	token       string
	tokenSource string
	// asked is set once the registry has said it wants a token to be
	// read; from then on every request carries the token.
	asked atomic.Bool
	http  *retryablehttp.Client
	dl    *retryablehttp.Client // downloads of .crate files
	// How a request of each is tried again, on clock.
	retry, dlRetry retry.Policy
	clock          retry.Clock

	// The newest answer for every file read, for a View.
	requests atomic.Uint64
	seenMu   sync.Mutex
	seen     map[string]indexFile
	reading  map[string]chan struct{} // first reads under way (readOnce)
	// joining, when set, is told of a first read that waits for one
	// under way: a test's only sight of a wait that asks nothing of the
	// registry (export_test.go).
	joining func(rel string)
	// holdClock, when set, is the clock of the Views served from here,
	// instead of this machine's (see View.holdClock).
	holdClock retry.Clock
	// changed is closed, and replaced, whenever seen changes: a View's
	// held read waits on it (see View.Hold).
	changed chan struct{}
}

// New returns a client for a sparse index URL ("sparse+https://index.crates.io/";
// the sparse+ prefix is optional).
func New(indexURL string, opts Options) (*Client, error) {
	raw := strings.TrimPrefix(indexURL, "sparse+")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("index: %q is not a sparse index URL (want sparse+https://host/path/)", redactedRaw(indexURL))
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawQuery, u.Fragment = "", ""

	retries := opts.RetryMax
	switch {
	case opts.RetryMax == 0:
		retries = defaultRetryMax
	case opts.RetryMax < 0:
		retries = 0
	}
	dlRetries := retries
	if opts.RetryMax == 0 {
		dlRetries = defaultDownloadRetries
	}
	minWait, dlMinWait := cmpOr(opts.RetryWaitMin, defaultRetryWaitMin), cmpOr(opts.RetryWaitMin, defaultDownloadWaitMin)
	c := &Client{
		base: u, token: opts.Token, tokenSource: opts.TokenSource,
		http:    quiet(tokenStaysOnHost(opts.HTTPClient, defaultTimeout)),
		dl:      quiet(tokenStaysOnHost(opts.HTTPClient, defaultDownloadTimeout)),
		retry:   policy(retries, minWait, max(cmpOr(opts.RetryWaitMax, defaultRetryWaitMax), minWait)),
		dlRetry: policy(dlRetries, dlMinWait, max(cmpOr(opts.RetryWaitMax, defaultDownloadWaitMax), dlMinWait)),
		clock:   opts.Clock,
	}
	if c.clock == nil {
		c.clock = retry.Wall{}
	}
	return c, nil
}

// quiet is a retryablehttp client of hc that tries once (see oneTry) and
// logs nothing: its default logger prints every URL and retry; errors
// returned here say everything needed, and nothing may risk echoing
// credentials.
func quiet(hc *http.Client) *retryablehttp.Client {
	rc := retryablehttp.NewClient()
	rc.Logger = nil
	rc.HTTPClient = hc
	oneTry(rc)
	return rc
}

// tokenStaysOnHost is hc (or a new client with timeout) whose redirects
// carry the Authorization header only to the very scheme and host that the
// redirected request went to. net/http's own rule would also hand it to
// any subdomain; curl, and so cargo, hands custom headers to no other host.
func tokenStaysOnHost(hc *http.Client, timeout time.Duration) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	} else {
		c = http.Client{Timeout: timeout, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	next := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		prev := via[len(via)-1].URL
		if !strings.EqualFold(req.URL.Scheme, prev.Scheme) || !strings.EqualFold(req.URL.Host, prev.Host) {
			req.Header.Del("Authorization")
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &c
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// URL is the index root, without the sparse+ prefix and without
// credentials.
func (c *Client) URL() string { return c.base.Redacted() }

// Config fetches config.json.
func (c *Client) Config(ctx context.Context) (Config, error) {
	body, status, u, err := c.get(ctx, "config.json")
	if err != nil {
		return Config{}, err
	}
	if status != http.StatusOK {
		return Config{}, c.statusError(u, status)
	}
	var cfg Config
	if err := json.Unmarshal(body, &cfg); err != nil {
		return Config{}, fmt.Errorf("index: %s: invalid config.json: %w", u, err)
	}
	if cfg.AuthRequired {
		// cargo sends the token on every request once config.json says
		// so, even where a file would also be served without it.
		c.asked.Store(true)
	}
	return cfg, nil
}

// Versions returns every version of a crate in index order. A crate the
// index does not have (404, 410 or 451, as cargo reads them) gives nil and
// no error.
func (c *Client) Versions(ctx context.Context, name string) ([]Entry, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	body, status, u, err := c.get(ctx, Path(name))
	if err != nil {
		return nil, err
	}
	switch status {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusGone, http.StatusUnavailableForLegalReasons:
		return nil, nil
	default:
		return nil, c.statusError(u, status)
	}
	var out []Entry
	for i, line := range bytes.Split(body, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("index: %s line %d: %w", u, i+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Lookup finds one version of a crate.
func (c *Client) Lookup(ctx context.Context, name, version string) (Entry, bool, error) {
	versions, err := c.Versions(ctx, name)
	if err != nil {
		return Entry{}, false, err
	}
	for _, e := range versions {
		if e.Vers == version {
			return e, true, nil
		}
	}
	return Entry{}, false, nil
}

// get fetches one index file, with retries. It returns the status for the
// caller to interpret, and the URL (without credentials) for messages.
//
// A 401 to a request made without the token is how a registry that wants
// one says so (RFC 3139: cargo asks for config.json without it, and on a
// 401 asks again with it): the request is made again with the token, and
// so is every later one.
func (c *Client) get(ctx context.Context, rel string) ([]byte, int, string, error) {
	sent := c.sendsToken()
	body, status, shown, err := c.getOnce(ctx, rel, sent)
	if err == nil && status == http.StatusUnauthorized && !sent {
		c.asked.Store(true)
		if c.sendsToken() {
			return c.getOnce(ctx, rel, true)
		}
	}
	return body, status, shown, err
}

// WantsToken is true once the registry has said it wants a token to be
// read: a 401 to a request without one, or auth-required in config.json.
func (c *Client) WantsToken() bool { return c.asked.Load() }

// ReadsWithToken is true when requests carry the token: the registry
// wants one, and the client has it.
func (c *Client) ReadsWithToken() bool { return c.sendsToken() }

func (c *Client) sendsToken() bool { return c.token != "" && c.asked.Load() }

func (c *Client) getOnce(ctx context.Context, rel string, withToken bool) ([]byte, int, string, error) {
	u := c.base.JoinPath(rel)
	shown := u.Redacted()
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, shown, fmt.Errorf("index: GET %s: %w", shown, err)
	}
	// Index visibility is polled right after publishing: no cache on the
	// way may answer for the registry.
	req.Header.Set("Cache-Control", "no-cache")
	req.Header.Set("User-Agent", "embargo")
	if withToken {
		req.Header.Set("Authorization", c.token)
	}
	seq := c.requests.Add(1)
	resp, err := c.send(ctx, c.http, c.retry, indexAgain, req)
	if err != nil {
		return nil, 0, shown, fmt.Errorf("index: GET %s: %w", shown, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFileBytes+1))
	if err != nil {
		return nil, 0, shown, fmt.Errorf("index: GET %s: reading the body: %w", shown, unwrapURLError(err))
	}
	if len(body) > maxFileBytes {
		return nil, 0, shown, fmt.Errorf("index: GET %s: body larger than %d bytes", shown, maxFileBytes)
	}
	c.remember(rel, seq, resp.StatusCode, body)
	return body, resp.StatusCode, shown, nil
}

// statusError is an answer that is not the file nor its absence; a 401 or
// a 403 says what to do about the token, naming where it comes from.
func (c *Client) statusError(u string, status int) error {
	return fmt.Errorf("index: GET %s: unexpected status %d %s%s", u, status, http.StatusText(status), c.authHint(status))
}

func (c *Client) authHint(status int) string {
	if status != http.StatusUnauthorized && status != http.StatusForbidden {
		return ""
	}
	fix := func(format string) string {
		if c.tokenSource == "" {
			return ""
		}
		return fmt.Sprintf(format, c.tokenSource)
	}
	switch {
	case c.token == "":
		return ": the registry wants a token to be read, and none is set" + fix(": export %s with a token that may read it")
	case !c.asked.Load():
		return ": the registry refuses to be read without a token, yet neither asked for one (a 401) nor says auth-required in its config.json, the only cases the token is sent in"
	case status == http.StatusUnauthorized:
		return ": the registry refused the token" + fix(": export a valid one for this registry in %s")
	default:
		return ": the token may not read this registry" + fix(": export one that may in %s")
	}
}

// redactedRaw hides credentials in a URL that may not parse.
func redactedRaw(s string) string {
	if u, err := url.Parse(strings.TrimPrefix(s, "sparse+")); err == nil {
		return u.Redacted()
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		return "..." + s[i:]
	}
	return s
}
