package index_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/stages/index"
)

const token = "index-secret-token"

// fast keeps retry waits short unless a test is about them.
var fast = index.Options{RetryWaitMin: time.Millisecond, RetryWaitMax: 20 * time.Millisecond}

func newClient(t *testing.T, url string, opts index.Options) *index.Client {
	t.Helper()
	c, err := index.New(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// server answers index requests with the handlers in turn, the last one
// repeating, and counts them.
func server(t *testing.T, handlers ...http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		handlers[min(i, len(handlers)-1)](w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func status(code int, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
	}
}

func body(s string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(s)) }
}

const line = `{"name":"abcd","vers":"1.0.0","deps":[],"cksum":"` + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + `","features":{},"yanked":false}` + "\n"

func TestPath(t *testing.T) {
	for name, want := range map[string]string{
		"a": "1/a", "Ab": "2/ab", "abc": "3/a/abc", "ABCD": "ab/cd/abcd", "async-std": "as/yn/async-std", "": "",
	} {
		if got := index.Path(name); got != want {
			t.Errorf("Path(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestNewAcceptsSparseURLs(t *testing.T) {
	for in, want := range map[string]string{
		"sparse+https://index.crates.io/":  "https://index.crates.io/",
		"sparse+http://127.0.0.1:8080/idx": "http://127.0.0.1:8080/idx/",
		"https://example.org/index/":       "https://example.org/index/",
	} {
		c, err := index.New(in, index.Options{})
		if err != nil {
			t.Fatalf("New(%q): %v", in, err)
		}
		if c.URL() != want {
			t.Errorf("New(%q).URL() = %q, want %q", in, c.URL(), want)
		}
	}
	for _, bad := range []string{"", "registry+https://github.com/rust-lang/crates.io-index", "ftp://user:hunter2@host/", "sparse+/local/dir"} {
		_, err := index.New(bad, index.Options{})
		if err == nil {
			t.Errorf("New(%q) succeeded", bad)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(%q) error shows the password: %v", bad, err)
		}
	}
}

func TestAgainstSandboxRegistry(t *testing.T) {
	srv, err := registry.Start("", registry.Options{Dir: t.TempDir(), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	seeds := []registry.IndexEntry{
		{Name: "Async-Thing", Vers: "1.0.0", Cksum: strings.Repeat("aa", 32)},
		{Name: "Async-Thing", Vers: "1.1.0", Cksum: strings.Repeat("bb", 32), Yanked: true,
			Deps: []registry.IndexDep{{Name: "rt", Package: "runtime", Req: "^2", Kind: "dev", DefaultFeatures: true}}},
		{Name: "x", Vers: "0.1.0", Cksum: strings.Repeat("cc", 32)},
	}
	for _, e := range seeds {
		if err := srv.Seed(e, nil); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, srv.IndexURL(), fast)
	ctx := context.Background()

	cfg, err := c.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DL != srv.URL+"/api/v1/crates" || cfg.API != srv.URL {
		t.Fatalf("Config = %+v", cfg)
	}

	versions, err := c.Versions(ctx, "async-thing")
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 2 || versions[0].Vers != "1.0.0" || versions[1].Cksum != strings.Repeat("bb", 32) || !versions[1].Yanked {
		t.Fatalf("Versions = %+v", versions)
	}
	dep := versions[1].Deps[0]
	if dep.Name != "rt" || dep.Package != "runtime" || dep.Req != "^2" || dep.Kind != "dev" || !dep.DefaultFeatures {
		t.Fatalf("dependency = %+v", dep)
	}

	e, found, err := c.Lookup(ctx, "x", "0.1.0")
	if err != nil || !found || e.Cksum != strings.Repeat("cc", 32) {
		t.Fatalf("Lookup(x, 0.1.0) = %+v, %v, %v", e, found, err)
	}
	if _, found, err := c.Lookup(ctx, "x", "0.2.0"); err != nil || found {
		t.Fatalf("Lookup of a missing version: found %v, err %v", found, err)
	}
	if v, err := c.Versions(ctx, "nonexistent"); err != nil || v != nil {
		t.Fatalf("Versions of a missing crate = %v, %v; want nil, nil", v, err)
	}

	// Two failures, then the answer.
	srv.FailIndex(2, http.StatusInternalServerError)
	if _, found, err := c.Lookup(ctx, "x", "0.1.0"); err != nil || !found {
		t.Fatalf("Lookup through two 500s: found %v, err %v", found, err)
	}
}

func TestMissingCrateStatuses(t *testing.T) {
	for _, code := range []int{http.StatusNotFound, http.StatusGone, http.StatusUnavailableForLegalReasons} {
		srv, _ := server(t, status(code))
		v, err := newClient(t, srv.URL, fast).Versions(context.Background(), "abcd")
		if err != nil || v != nil {
			t.Errorf("status %d: Versions = %v, %v; want nil, nil", code, v, err)
		}
	}
}

func TestRequestsAreFreshAndAuthenticated(t *testing.T) {
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/index/ab/cd/abcd":
			http.NotFound(w, r)
		case r.Header.Get("Authorization") != token:
			w.WriteHeader(http.StatusUnauthorized)
		case r.Header.Get("Cache-Control") != "no-cache":
			http.Error(w, "stale", http.StatusBadRequest)
		default:
			w.Write([]byte(line))
		}
	})
	opts := fast
	opts.Token = token
	if _, found, err := newClient(t, "sparse+"+srv.URL+"/index/", opts).Lookup(context.Background(), "ABCD", "1.0.0"); err != nil || !found {
		t.Fatalf("Lookup with the token: found %v, err %v", found, err)
	}
	_, err := newClient(t, "sparse+"+srv.URL+"/index/", fast).Versions(context.Background(), "abcd")
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Versions without the token: %v, want a 401 error", err)
	}
}

func TestTwo500sThenSuccess(t *testing.T) {
	srv, n := server(t, status(500), status(502), body(line))
	v, err := newClient(t, srv.URL, fast).Versions(context.Background(), "abcd")
	if err != nil || len(v) != 1 {
		t.Fatalf("Versions = %v, %v", v, err)
	}
	if n.Load() != 3 {
		t.Fatalf("%d requests, want 3", n.Load())
	}
}

func TestConnectionErrorIsRetried(t *testing.T) {
	srv, n := server(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}, body(line))
	if _, found, err := newClient(t, srv.URL, fast).Lookup(context.Background(), "abcd", "1.0.0"); err != nil || !found {
		t.Fatalf("Lookup after a dropped connection: found %v, err %v", found, err)
	}
	if n.Load() != 2 {
		t.Fatalf("%d requests, want 2", n.Load())
	}
}

// A Retry-After given as an HTTP date is waited out to that date on the
// client's clock.
func TestRetryAfterHTTPDateIsHonoured(t *testing.T) {
	clock := pipeline.NewFakeClock(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC))
	srv, n := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", clock.Now().Add(2*time.Second).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusServiceUnavailable)
	}, body(line))
	c := newClient(t, srv.URL, index.Options{RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Second, Clock: clock})
	done := make(chan error, 1)
	var found bool
	go func() {
		var err error
		_, found, err = c.Lookup(context.Background(), "abcd", "1.0.0")
		done <- err
	}()
	blockedOn(t, clock, done)
	clock.Advance(2*time.Second - time.Millisecond)
	notYet(t, clock, done, n, 1)
	clock.Advance(time.Millisecond)
	if err := ended(t, done); err != nil || !found {
		t.Fatalf("Lookup through a 503: found %v, err %v", found, err)
	}
}

// A registry asking for an hour is asked again after the client's longest
// wait.
func TestRetryAfterIsCapped(t *testing.T) {
	srv, _ := server(t, status(http.StatusTooManyRequests, "Retry-After", "3600"), body(line))
	clock := pipeline.NewFakeClock(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC))
	opts := fast
	opts.Clock = clock
	c := newClient(t, srv.URL, opts)
	done := make(chan error, 1)
	go func() {
		_, err := c.Versions(context.Background(), "abcd")
		done <- err
	}()
	blockedOn(t, clock, done)
	clock.Advance(opts.RetryWaitMax)
	if clock.Waiters() != 0 {
		t.Fatalf("still waiting after RetryWaitMax %s: the registry's hour was not capped", opts.RetryWaitMax)
	}
	if err := ended(t, done); err != nil {
		t.Fatal(err)
	}
}

func TestBoundedRetriesGiveAClearError(t *testing.T) {
	srv, n := server(t, status(http.StatusInternalServerError))
	opts := fast
	opts.RetryMax = 2
	opts.Token = token
	url := strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1) + "/index/"
	_, err := newClient(t, "sparse+"+url, opts).Versions(context.Background(), "abcd")
	if err == nil {
		t.Fatal("Versions succeeded against a failing server")
	}
	msg := err.Error()
	wantURL := strings.Replace(srv.URL, "http://", "http://user:xxxxx@", 1) + "/index/ab/cd/abcd"
	for _, want := range []string{wantURL, "giving up after 3 attempts", "500 Internal Server Error"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	for _, secret := range []string{token, "hunter2"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q shows a secret", msg)
		}
	}
	if n.Load() != 3 {
		t.Fatalf("%d requests, want 3", n.Load())
	}
}

func TestUnreachableRegistry(t *testing.T) {
	srv, _ := server(t, body(line))
	url := srv.URL
	srv.Close()
	opts := fast
	opts.RetryMax = 1
	_, err := newClient(t, url, opts).Versions(context.Background(), "abcd")
	if err == nil || !strings.Contains(err.Error(), url+"/ab/cd/abcd") || !strings.Contains(err.Error(), "giving up after 2 attempts") {
		t.Fatalf("error %v, want one naming the URL and the attempts", err)
	}
}

// A caller that gives up ends the wait between tries at once: the
// registry's 30 s are not waited out.
func TestCancelStopsRetrying(t *testing.T) {
	srv, n := server(t, status(http.StatusTooManyRequests, "Retry-After", "30"))
	clock := pipeline.NewFakeClock(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC))
	c := newClient(t, srv.URL, index.Options{RetryWaitMax: time.Minute, Clock: clock})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Versions(ctx, "abcd")
		done <- err
	}()
	blockedOn(t, clock, done)
	cancel()
	if err := ended(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want the context's", err)
	}
	if n.Load() != 1 {
		t.Errorf("%d requests, want the one before the wait", n.Load())
	}
}

func TestMalformedIndexLine(t *testing.T) {
	srv, _ := server(t, body(line+"{not json\n"))
	_, err := newClient(t, srv.URL, fast).Versions(context.Background(), "abcd")
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("error %v, want one naming the URL and line 2", err)
	}
}

func TestDependencyDefaults(t *testing.T) {
	srv, _ := server(t, body(`{"name":"abcd","vers":"1.0.0","deps":[{"name":"x","req":"^1","features":[],"optional":false}],"cksum":"00","features":{}}`))
	v, err := newClient(t, srv.URL, fast).Versions(context.Background(), "abcd")
	if err != nil {
		t.Fatal(err)
	}
	if d := v[0].Deps[0]; !d.DefaultFeatures || d.Kind != "normal" {
		t.Fatalf("dependency = %+v, want default features on and kind normal", d)
	}
}

func TestInvalidNamesAreRefused(t *testing.T) {
	srv, n := server(t, body(line))
	c := newClient(t, srv.URL, fast)
	for _, name := range []string{"", "../etc", "a/b", "a b", strings.Repeat("x", 65)} {
		if _, err := c.Versions(context.Background(), name); err == nil {
			t.Errorf("Versions(%q) succeeded", name)
		}
	}
	if n.Load() != 0 {
		t.Fatalf("%d requests for invalid names", n.Load())
	}
}

// A registry host that does not resolve is reported at once: retrying a
// name lookup only delays the operator's answer by the whole backoff.
func TestUnresolvableHostIsNotRetried(t *testing.T) {
	c, err := index.New("sparse+http://registry.embargo.invalid/index/", index.Options{RetryMax: 5, RetryWaitMin: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Lookup(t.Context(), "serde", "1.0.0")
	if err == nil || !strings.Contains(err.Error(), "giving up after 1 attempt") {
		t.Fatalf("want one attempt, got %v", err)
	}
}
