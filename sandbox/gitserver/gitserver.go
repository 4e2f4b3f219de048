// Package gitserver serves bare git repositories over smart HTTP with the
// real git-http-backend, so that tests and rehearsals push and fetch exactly
// as they would against a public forge.
package gitserver

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Service names as they appear in the smart HTTP protocol.
const (
	UploadPack  = "git-upload-pack"
	ReceivePack = "git-receive-pack"
)

// Options configures a Server.
type Options struct {
	// Token, when non-empty, is required as the HTTP basic auth password
	// (any user name) on every git-receive-pack request, both the ref
	// advertisement and the POST. Fetching stays anonymous, but a
	// credential the forge does not know is refused on every request, as
	// GitHub and Gitea refuse one. Without a Token the server is open:
	// anyone may push, with any credential or none.
	Token string
	// ReadOnlyToken, when set with Token, is a credential the forge knows
	// whose account may read every repository but push to none.
	ReadOnlyToken string
	// Forge is whose answers a refused request gets: GitHub's (the
	// default) or Gitea's.
	Forge Forge
	// ClockOffset sets the server's clock this far ahead of this machine's
	// (negative: behind), as a forge whose clock is off: its Date headers
	// and its request log both read it.
	ClockOffset time.Duration
}

// Forge is a git host whose refusals the server answers with, status,
// headers and words, so that a client's handling of them is tested on
// what the real one sends.
type Forge int

const (
	// GitHub: a credential it does not know is 401 with
	// `WWW-Authenticate: Basic realm="GitHub"` on any request, and so is a
	// push without one; an unknown repository is 404 "Repository not
	// found."; a push with a token whose account may not push is 403
	// "Permission to OWNER/REPO.git denied to USER.".
	GitHub Forge = iota
	// Gitea (routers/web/repo/githttp.go): a credential it does not know
	// is 401 "Failed to authenticate user" on any request; a push without
	// one is 401 with `WWW-Authenticate: Basic realm="Gitea"`, and so is
	// an anonymous read of a repository that does not exist (it might be
	// private); a signed-in read of it is 404 "Repository not found", a
	// signed-in push to it 403 "Push to create is not enabled for
	// users."; a push with a token whose scope does not write
	// repositories is 403 "Forbidden". (An account with read access only
	// but a token that may write gets the advertisement: Gitea checks its
	// write access in the pre-receive hook, when the pack arrives.)
	Gitea
)

// ReadOnlyUser is the account of Options.ReadOnlyToken, as GitHub names it
// in a refusal.
const ReadOnlyUser = "sandbox-reader"

// Request is one HTTP request seen by the server.
type Request struct {
	Time   time.Time // when the request arrived, on the server's clock
	Method string
	Path   string
	// Service is "git-upload-pack" or "git-receive-pack", taken from
	// ?service= or from the POST path; empty for anything else.
	Service string
	Status  int
	// Authorized reports whether the request carried the token, or no token
	// is required.
	Authorized bool
}

// Server is a running smart HTTP git server bound to 127.0.0.1.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	Root string // directory holding the bare repositories

	backend  string
	token    string
	readOnly string
	forge    Forge
	offset   time.Duration
	srv      *http.Server
	done     chan struct{}

	mu       sync.Mutex
	requests []Request
	// dropPushes is how many more receive-pack POSTs are applied and then
	// answered by a dropped connection.
	dropPushes int
}

// DropAfterPush makes the next n pushes land in the repository and then
// lose their answer (the connection is closed), as a network failure after
// the server applied the push would: the client cannot tell whether its
// push happened.
func (s *Server) DropAfterPush(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropPushes = n
}

// Start serves every bare repository under root at URL+"/"+name.
func Start(root string, opts Options) (*Server, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("gitserver: root %q: %w", root, err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("gitserver: root: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("gitserver: root %s is not a directory", abs)
	}
	backend, err := backendPath()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gitserver: listen: %w", err)
	}
	s := &Server{
		URL:      "http://" + ln.Addr().String(),
		Root:     abs,
		backend:  backend,
		token:    opts.Token,
		readOnly: opts.ReadOnlyToken,
		forge:    opts.Forge,
		offset:   opts.ClockOffset,
		done:     make(chan struct{}),
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

func backendPath() (string, error) {
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return "", fmt.Errorf("gitserver: git --exec-path: %w (is git installed?)", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("gitserver: git-http-backend not found: %w", err)
	}
	return p, nil
}

// RepoURL is the clone URL of the repository root/name.
func (s *Server) RepoURL(name string) string {
	return s.URL + "/" + strings.TrimPrefix(name, "/")
}

// Requests returns a copy of every request seen so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ReceivePacks returns the git-receive-pack requests seen so far, in order.
func (s *Server) ReceivePacks() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Service == ReceivePack {
			out = append(out, r)
		}
	}
	return out
}

// Pushes returns the receive-pack POSTs seen so far, in order: the requests
// that carry a pack, one per push attempt (the GETs before them only read
// the refs).
func (s *Server) Pushes() []Request {
	var out []Request
	for _, r := range s.ReceivePacks() {
		if r.Method == http.MethodPost {
			out = append(out, r)
		}
	}
	return out
}

// Close stops the server and waits for it to stop serving.
func (s *Server) Close() {
	_ = s.srv.Close()
	<-s.done
}

// now is the server's clock.
func (s *Server) now() time.Time { return time.Now().Add(s.offset) }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{
		Time:    s.now(),
		Method:  r.Method,
		Path:    r.URL.Path,
		Service: service(r),
	}
	cred := s.credential(r)
	rec.Authorized = s.token == "" || cred == pusher
	sw := &statusWriter{ResponseWriter: w, now: s.now}
	defer func() {
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		rec.Status = sw.status
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
	}()

	if r.URL.Path == "/" {
		// The forge's front page, answered without git: where a clock
		// check asks the time.
		sw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(sw, "embargo sandbox git server")
		return
	}
	if s.refuse(sw, r.URL.Path, rec.Service, cred) {
		return
	}

	env := []string{
		"GIT_PROJECT_ROOT=" + s.Root,
		"GIT_HTTP_EXPORT_ALL=1",
		"PATH=" + os.Getenv("PATH"),
	}
	if h, ok := os.LookupEnv("HOME"); ok {
		env = append(env, "HOME="+h)
	}
	if rec.Service == ReceivePack {
		// http-backend only enables receive-pack for authenticated users;
		// our own check above is the authentication.
		env = append(env,
			"GIT_CONFIG_COUNT=1",
			"GIT_CONFIG_KEY_0=http.receivepack",
			"GIT_CONFIG_VALUE_0=true",
		)
	}
	// The CGI would otherwise see the token as HTTP_AUTHORIZATION.
	r = r.Clone(r.Context())
	r.Header.Del("Authorization")
	h := &cgi.Handler{Path: s.backend, Dir: s.Root, Env: env}
	if rec.Service == ReceivePack && r.Method == http.MethodPost && s.takeDrop() {
		h.ServeHTTP(httptest.NewRecorder(), r)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
		sw.status = -1 // answered by nothing
		return
	}
	h.ServeHTTP(sw, r)
}

func (s *Server) takeDrop() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropPushes > 0 {
		s.dropPushes--
		return true
	}
	return false
}

// credential is who a request says it is.
type credential int

const (
	anonymous credential = iota // no Authorization header
	pusher                      // Options.Token
	reader                      // Options.ReadOnlyToken
	unknown                     // a credential the forge does not know
)

func (s *Server) credential(r *http.Request) credential {
	if r.Header.Get("Authorization") == "" {
		return anonymous
	}
	_, pass, ok := r.BasicAuth()
	switch {
	case !ok:
	case s.token != "" && subtle.ConstantTimeCompare([]byte(pass), []byte(s.token)) == 1:
		return pusher
	case s.readOnly != "" && subtle.ConstantTimeCompare([]byte(pass), []byte(s.readOnly)) == 1:
		return reader
	}
	return unknown
}

// refuse answers a request the forge would not serve as the forge
// answers it, and says whether it did. An open server (no Token) refuses
// only what does not exist.
func (s *Server) refuse(w http.ResponseWriter, urlPath, service string, cred credential) bool {
	repo, exists := s.repository(urlPath)
	push := service == ReceivePack
	if s.token == "" {
		cred = pusher
	}
	refuse := func(status int, realm, said string) bool {
		if realm != "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`"`)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		if said != "" {
			fmt.Fprintln(w, said)
		}
		return true
	}
	if s.forge == Gitea {
		switch {
		case cred == unknown:
			return refuse(http.StatusUnauthorized, "", "Failed to authenticate user")
		case cred == anonymous && (push || !exists):
			return refuse(http.StatusUnauthorized, "Gitea", "Unauthorized")
		case !exists && push:
			return refuse(http.StatusForbidden, "", "Push to create is not enabled for users.")
		case !exists:
			return refuse(http.StatusNotFound, "", "Repository not found")
		case push && cred == reader:
			return refuse(http.StatusForbidden, "", "Forbidden")
		}
		return false
	}
	switch {
	case cred == unknown:
		return refuse(http.StatusUnauthorized, "GitHub", "Invalid username or token. Password authentication is not supported for Git operations.")
	case cred == anonymous && push:
		return refuse(http.StatusUnauthorized, "GitHub", "")
	case !exists:
		return refuse(http.StatusNotFound, "", "Repository not found.")
	case push && cred == reader:
		return refuse(http.StatusForbidden, "", fmt.Sprintf("Permission to %s denied to %s.", repo, ReadOnlyUser))
	}
	return false
}

// repository is the repository a request's path names (the part before
// the smart or dumb protocol's own path) and whether it is a repository
// under the root.
func (s *Server) repository(urlPath string) (name string, exists bool) {
	name = strings.TrimPrefix(urlPath, "/")
	for _, marker := range []string{"/info/", "/" + UploadPack, "/" + ReceivePack, "/HEAD", "/objects/"} {
		if i := strings.Index(name, marker); i >= 0 {
			name = name[:i]
		}
	}
	clean := path.Clean("/" + name)
	if name == "" || clean != "/"+name {
		return name, false
	}
	fi, err := os.Stat(filepath.Join(s.Root, filepath.FromSlash(clean), "HEAD"))
	return name, err == nil && fi.Mode().IsRegular()
}

func service(r *http.Request) string {
	if sv := r.URL.Query().Get("service"); sv == UploadPack || sv == ReceivePack {
		return sv
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/"+UploadPack):
		return UploadPack
	case strings.HasSuffix(r.URL.Path, "/"+ReceivePack):
		return ReceivePack
	}
	return ""
}

// statusWriter records the status and stamps the Date header from the
// server's clock, when the answer is written, as net/http would from the
// machine's.
type statusWriter struct {
	http.ResponseWriter
	status int
	now    func() time.Time
	dated  bool
}

func (w *statusWriter) date() {
	if !w.dated {
		w.dated = true
		if w.Header().Get("Date") == "" {
			w.Header().Set("Date", w.now().UTC().Format(http.TimeFormat))
		}
	}
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.date()
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.date()
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
