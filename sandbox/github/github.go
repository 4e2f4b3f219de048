// Package github is the sandbox's GitHub: the REST endpoints of repository
// security advisories that a release uses (GET and PATCH
// /repos/{owner}/{repo}/security-advisories/{ghsa_id}), as GitHub's REST
// description gives them: the fields, the states and their transitions,
// bearer tokens, and GitHub's refusals (401, 403, 404, 422 with the fields
// at fault), with a Date header from a clock that may be set off this
// machine's. Rehearsals and tests publish to it; it never talks to GitHub.
package github

import (
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
)

// APIVersion is the REST API version the sandbox serves, and the only one
// besides the newest that GitHub accepts in X-GitHub-Api-Version.
const APIVersion = "2022-11-28"

var apiVersions = []string{APIVersion, "2026-03-10"}

// Options configure a Server.
type Options struct {
	// Token is the token that may read and write the advisories; another
	// one is refused with 401 Bad credentials. Empty, any token may (as
	// the sandbox registry takes any), but one is still needed to write.
	Token string
	// ReadToken, when set, may read but not write: a PATCH with it is
	// refused 403, as GitHub refuses a token without the
	// repository_advisories:write permission.
	ReadToken string
	// ClockOffset sets the server's clock this far ahead of this machine's
	// (negative: behind): its Date headers, published_at and its request
	// log read it.
	ClockOffset time.Duration
	// Dir, when set, keeps the advisories in Dir/advisories.json across
	// restarts.
	Dir string
	// Users, when set, are the logins that exist: a credit to another is
	// refused 422. Unset, any well-formed login exists.
	Users []string
}

// Request is one entry of the request log.
type Request struct {
	Method string
	Path   string
	Status int
	Time   time.Time // arrival, on the server's clock
	// Token is true when the request carried the server's token.
	Token bool
	// Fields are the top-level keys of a PATCH body.
	Fields []string
}

// Server is a running sandbox GitHub API.
type Server struct {
	URL string // http://127.0.0.1:PORT, the API root, no trailing slash

	opts Options
	http *http.Server
	ln   net.Listener

	mu         sync.Mutex
	advisories map[string]*Advisory // key: owner/repo/GHSA-id, lower case
	log        []Request
}

// Start serves the API on addr ("" means 127.0.0.1:0).
func Start(addr string, opts Options) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	s := &Server{opts: opts, advisories: map[string]*Advisory{}}
	if err := s.load(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox github: listen: %w", err)
	}
	s.ln, s.URL = ln, "http://"+ln.Addr().String()
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln)
	return s, nil
}

// Close stops the server; a Dir keeps the advisories.
func (s *Server) Close() error { return s.http.Close() }

func (s *Server) now() time.Time { return time.Now().Add(s.opts.ClockOffset) }

// Draft is what a repository's maintainers wrote in a draft advisory.
type Draft struct {
	GHSAID, Summary, Description string
	CVEID                        string // "" for none
	Severity                     string // critical, high, medium, low, or ""
	// State is draft unless set (triage: an unaccepted private report).
	State string
}

// AddDraft creates a draft advisory in repo (owner/name), as maintainers
// do on GitHub before the embargo; an existing one is replaced.
func (s *Server) AddDraft(repo string, d Draft) error {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || !ghsaIDPattern.MatchString(d.GHSAID) {
		return fmt.Errorf("sandbox github: draft %q in %q: want owner/name and a GHSA id", d.GHSAID, repo)
	}
	now := s.now().UTC().Truncate(time.Second)
	a := &Advisory{
		GHSAID: d.GHSAID, Summary: d.Summary, Description: d.Description, State: "draft",
		CreatedAt: now, UpdatedAt: now, Vulnerabilities: []Vulnerability{}, Credits: []Credit{},
		owner: owner, repo: name,
	}
	if d.State != "" {
		a.State = d.State
	}
	if d.CVEID != "" {
		a.CVEID = &d.CVEID
	}
	if d.Severity != "" {
		a.Severity = &d.Severity
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advisories[key(owner, name, d.GHSAID)] = a
	return s.saveLocked()
}

// Advisory returns a copy of the advisory as GitHub would serve it.
func (s *Server) Advisory(repo, id string) (Advisory, bool) {
	owner, name, _ := strings.Cut(repo, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.advisories[key(owner, name, id)]
	if !ok {
		return Advisory{}, false
	}
	return a.clone(), true
}

// Requests returns the request log.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Patches counts the PATCH requests that changed an advisory.
func (s *Server) Patches() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == http.MethodPatch && r.Status == http.StatusOK {
			n++
		}
	}
	return n
}

func key(owner, repo, id string) string {
	return strings.ToLower(owner + "/" + repo + "/" + id)
}

const advisoryPath = "/repos/{owner}/{repo}/security-advisories/{ghsa_id}"

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.root)
	mux.HandleFunc("GET "+advisoryPath, s.get)
	mux.HandleFunc("PATCH "+advisoryPath, s.patch)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFound(w) })
	return s.logged(mux)
}

// root is the API's root document, as GitHub's begins.
func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"current_user_url":        s.URL + "/user",
		"repository_url":          s.URL + "/repos/{owner}/{repo}",
		"repository_advisory_url": s.URL + "/repos/{owner}/{repo}/security-advisories/{ghsa_id}",
	})
}

// access is who a request is.
type access int

const (
	anonymous access = iota
	reader
	writer
)

// caller reads the Authorization header: no header is anonymous; a token
// GitHub does not know is refused 401, and the caller gets false.
func (s *Server) caller(w http.ResponseWriter, r *http.Request) (access, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return anonymous, true
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if strings.EqualFold(scheme, "bearer") || strings.EqualFold(scheme, "token") {
		switch tok = strings.TrimSpace(tok); {
		case tok == "":
		case tok == s.opts.ReadToken:
			return reader, true
		case tok == s.opts.Token || s.opts.Token == "":
			return writer, true
		}
	}
	writeError(w, http.StatusUnauthorized, "Bad credentials", "https://docs.github.com/rest")
	return anonymous, false
}

// apiVersion refuses an X-GitHub-Api-Version GitHub does not serve.
func apiVersion(w http.ResponseWriter, r *http.Request) bool {
	v := r.Header.Get("X-GitHub-Api-Version")
	if v == "" {
		return true
	}
	for _, ok := range apiVersions {
		if v == ok {
			return true
		}
	}
	writeError(w, http.StatusBadRequest, fmt.Sprintf("Unsupported 'X-GitHub-Api-Version' header. Supported versions are: %s", strings.Join(apiVersions, ", ")),
		"https://docs.github.com/rest/overview/api-versions")
	return false
}

// find is the advisory of the request's path. A draft is hidden (404)
// from who may not read it, as GitHub hides what a caller cannot see.
func (s *Server) find(r *http.Request, who access) (*Advisory, bool) {
	a, ok := s.advisories[key(r.PathValue("owner"), r.PathValue("repo"), r.PathValue("ghsa_id"))]
	if !ok || (who == anonymous && a.State != "published") {
		return nil, false
	}
	return a, true
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	if !apiVersion(w, r) {
		return
	}
	who, ok := s.caller(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.find(r, who)
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, s.render(a))
}

func (s *Server) patch(w http.ResponseWriter, r *http.Request) {
	if !apiVersion(w, r) {
		return
	}
	who, ok := s.caller(w, r)
	if !ok {
		return
	}
	if who == anonymous {
		writeError(w, http.StatusUnauthorized, "Requires authentication", docUpdate)
		return
	}
	var body map[string]json.RawMessage
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", docUpdate)
		return
	}
	if lr, ok := r.Context().Value(logKey{}).(*Request); ok {
		for k := range body {
			lr.Fields = append(lr.Fields, k)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.find(r, who)
	if !ok {
		notFound(w)
		return
	}
	if who != writer {
		writeError(w, http.StatusForbidden, "Resource not accessible by personal access token", docUpdate)
		return
	}
	u, msg := parseUpdate(body)
	if msg != "" {
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n"+msg, docUpdate)
		return
	}
	next := a.clone()
	if errs := s.apply(&next, u); len(errs) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Message: "Validation Failed", Errors: errs, DocumentationURL: docUpdate, Status: "422"})
		return
	}
	next.UpdatedAt = s.now().UTC().Truncate(time.Second)
	*a = next
	if err := s.saveLocked(); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error(), "")
		return
	}
	writeJSON(w, http.StatusOK, s.render(a))
}

const docUpdate = "https://docs.github.com/rest/security-advisories/repository-advisories#update-a-repository-security-advisory"

// apiError is GitHub's error body.
type apiError struct {
	Message          string       `json:"message"`
	Errors           []FieldError `json:"errors,omitempty"`
	DocumentationURL string       `json:"documentation_url,omitempty"`
	Status           string       `json:"status"`
}

// FieldError is one entry of a 422's errors.
type FieldError struct {
	Resource string `json:"resource"`
	Code     string `json:"code"`
	Field    string `json:"field"`
	Message  string `json:"message,omitempty"`
}

func writeError(w http.ResponseWriter, status int, msg, doc string) {
	writeJSON(w, status, apiError{Message: msg, DocumentationURL: doc, Status: fmt.Sprint(status)})
}

func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest/security-advisories/repository-advisories#get-a-repository-security-advisory")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-GitHub-Api-Version-Selected", APIVersion)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

type logKey struct{}

// statusWriter records the status and stamps the Date header from the
// server's clock, as net/http would from the machine's.
type statusWriter struct {
	http.ResponseWriter
	status int
	now    func() time.Time
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.Header().Set("Date", w.now().UTC().Format(http.TimeFormat))
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer"), "token"))
		lr := &Request{Method: r.Method, Path: r.URL.Path, Time: s.now(), Token: tok == s.opts.Token}
		sw := &statusWriter{ResponseWriter: w, now: s.now}
		h.ServeHTTP(sw, r.WithContext(contextWith(r, lr)))
		if sw.status == 0 {
			sw.WriteHeader(http.StatusOK)
		}
		lr.Status = sw.status
		s.mu.Lock()
		s.log = append(s.log, *lr)
		s.mu.Unlock()
	})
}

// load reads Dir/advisories.json, when there is one.
func (s *Server) load() error {
	if s.opts.Dir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(s.opts.Dir, "advisories.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sandbox github: %w", err)
	}
	var stored []storedAdvisory
	if err := json.Unmarshal(b, &stored); err != nil {
		return fmt.Errorf("sandbox github: %s: %w", filepath.Join(s.opts.Dir, "advisories.json"), err)
	}
	for _, st := range stored {
		a := st.Advisory
		a.owner, a.repo = st.Owner, st.Repo
		s.advisories[key(a.owner, a.repo, a.GHSAID)] = &a
	}
	return nil
}

type storedAdvisory struct {
	Owner, Repo string
	Advisory    Advisory
}

func (s *Server) saveLocked() error {
	if s.opts.Dir == "" {
		return nil
	}
	var stored []storedAdvisory
	for _, a := range s.advisories {
		stored = append(stored, storedAdvisory{Owner: a.owner, Repo: a.repo, Advisory: a.clone()})
	}
	b, err := json.MarshalIndent(stored, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.opts.Dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(s.opts.Dir, "advisories.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.opts.Dir, "advisories.json"))
}
