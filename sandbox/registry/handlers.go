package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxPublishBytes bounds a publish body; crates.io's default crate limit is
// 10 MB, and the sandbox is a little more generous.
const maxPublishBytes = 64 << 20

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := s.root()
	mux.HandleFunc("GET "+s.indexRoot()+"/{path...}", s.readable(s.serveIndex))
	mux.HandleFunc("PUT "+api+"/api/v1/crates/new", s.publish)
	mux.HandleFunc("GET "+api+"/api/v1/crates/{name}/{version}/download", s.readable(s.download))
	mux.HandleFunc("DELETE "+api+"/api/v1/crates/{name}/{version}/yank", s.yank(true))
	mux.HandleFunc("PUT "+api+"/api/v1/crates/{name}/{version}/unyank", s.yank(false))
	if s.flavor == FlavorGitea {
		// Gitea's cargo registry has no crates.io API beside cargo's,
		// nor Trusted Publishing.
		return s.logged(mux)
	}
	mux.HandleFunc("GET /api/v1/crates/{name}", s.readable(s.crateInfo))
	mux.HandleFunc("GET /api/v1/crates/{name}/{version}", s.readable(s.versionInfo))
	mux.HandleFunc("POST /api/v1/trusted_publishing/tokens", s.exchange)
	mux.HandleFunc("DELETE /api/v1/trusted_publishing/tokens", s.revoke)
	mux.HandleFunc("GET /_oidc/token", s.oidcToken)
	return s.logged(mux)
}

type logKey struct{}

// statusWriter records the status and stamps the Date header from the
// registry's clock, when the answer is written (after the latency), as
// net/http would from the machine's.
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

// logged applies the latency knob and records every request.
func (s *Server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entry := &Request{Method: r.Method, Path: r.URL.Path, Time: s.now(), Token: s.hasToken(r), UserAgent: r.UserAgent()}
		s.mu.Lock()
		latency := s.latency
		s.mu.Unlock()
		if latency > 0 {
			select {
			case <-s.clock.After(latency):
			case <-r.Context().Done():
			}
		}
		sw := &statusWriter{ResponseWriter: w, now: s.now}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), logKey{}, entry)))
		entry.Status = sw.status
		if entry.Status == 0 {
			entry.Status = http.StatusOK
		}
		entry.Duration = s.now().Sub(entry.Time)
		s.mu.Lock()
		s.log = append(s.log, *entry)
		s.mu.Unlock()
	})
}

func logEntry(r *http.Request) *Request {
	if e, ok := r.Context().Value(logKey{}).(*Request); ok {
		return e
	}
	return &Request{}
}

// writeError answers in the crates.io error shape, which cargo prints.
func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]any{
		"errors": []map[string]string{{"detail": fmt.Sprintf(format, args...)}},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f, failing := s.failIndex.take()
	s.mu.Unlock()
	if failing {
		http.Error(w, "sandbox registry: injected index failure", f.status)
		return
	}
	p := r.PathValue("path")
	if p == "config.json" {
		cfg := map[string]any{
			"dl":  s.URL + s.root() + "/api/v1/crates",
			"api": s.URL + s.root(),
		}
		if s.authRequired || s.flavor == FlavorGitea {
			cfg["auth-required"] = s.authRequired // Gitea always says
		}
		writeJSON(w, http.StatusOK, cfg)
		return
	}
	name := p[strings.LastIndex(p, "/")+1:]
	if validName(name) != nil || Path(name) != p {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	body, err := s.store.indexFile(name, s.now())
	s.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if len(body) == 0 {
		http.NotFound(w, r)
		return
	}
	// An ETag lets cargo revalidate its index cache cheaply while it polls
	// for a freshly published version.
	sum := sha256.Sum256(body)
	etag := fmt.Sprintf(`"%x"`, sum[:16])
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(body)
}

// parsePublish splits cargo's publish body: u32 LE metadata length, the JSON
// metadata, u32 LE crate length, the .crate bytes.
func parsePublish(body []byte) (*newCrate, []byte, error) {
	next := func(what string) ([]byte, error) {
		if len(body) < 4 {
			return nil, fmt.Errorf("publish body truncated before the %s length", what)
		}
		n := binary.LittleEndian.Uint32(body)
		body = body[4:]
		if uint64(n) > uint64(len(body)) {
			return nil, fmt.Errorf("publish body truncated: %s claims %d bytes, %d left", what, n, len(body))
		}
		b := body[:n]
		body = body[n:]
		return b, nil
	}
	metaJSON, err := next("metadata")
	if err != nil {
		return nil, nil, err
	}
	var meta newCrate
	if err := json.Unmarshal(metaJSON, &meta); err != nil {
		return nil, nil, fmt.Errorf("invalid publish metadata: %w", err)
	}
	crate, err := next("crate")
	if err != nil {
		return &meta, nil, err
	}
	if len(body) != 0 {
		return &meta, nil, fmt.Errorf("publish body has %d trailing bytes", len(body))
	}
	return &meta, crate, nil
}

// checkTarball verifies, like crates.io, that the .crate is a gzipped tar
// whose every entry lives under name-version/.
func checkTarball(crate []byte, name, vers string) error {
	zr, err := gzip.NewReader(bytes.NewReader(crate))
	if err != nil {
		return fmt.Errorf("uploaded tarball is malformed: %w", err)
	}
	prefix := name + "-" + vers + "/"
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("uploaded tarball is malformed: %w", err)
		}
		if !strings.HasPrefix(h.Name, prefix) {
			return fmt.Errorf("invalid path found: %s", h.Name)
		}
	}
}

// readable guards a read of an auth-required registry: without the token
// the answer is 401 with the challenge cargo recognises (RFC 3139), which
// makes cargo ask its credential provider for the token and try again.
func (s *Server) readable(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.authRequired && !s.hasToken(r) {
			w.Header().Set("WWW-Authenticate", `Cargo login_url="`+s.URL+`/me"`)
			writeError(w, http.StatusUnauthorized, "this registry requires a token to read it")
			return
		}
		next(w, r)
	}
}

func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	entry := logEntry(r)
	// Read the whole body first so that even a refusal reaches cargo as a
	// response rather than a reset connection.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPublishBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "publish body too large or unreadable: %v", err)
		return
	}
	meta, crate, perr := parsePublish(body)
	if meta != nil {
		entry.Crate, entry.Version = meta.Name, meta.Vers
	}

	s.mu.Lock()
	if meta != nil {
		s.attempts[versionKey(meta.Name, meta.Vers)]++
	}
	f, failing := s.failPublish.take()
	s.mu.Unlock()
	if failing {
		if f.retryAfter > 0 {
			secs := (f.retryAfter + time.Second - 1) / time.Second
			w.Header().Set("Retry-After", strconv.Itoa(int(secs)))
		}
		if f.status == http.StatusTooManyRequests && f.retryAfter > 0 {
			// crates.io's wording: cargo shows the body, and the date in
			// it is the only retry hint a cargo user gets.
			until := s.now().Add(f.retryAfter).UTC().Format(http.TimeFormat)
			writeError(w, f.status, "You have published too many new versions in a short period of time. Please try again after %s or email help@crates.io to have your limit increased.", until)
			return
		}
		writeError(w, f.status, "sandbox registry: injected publish failure (status %d)", f.status)
		return
	}
	authorized, trustpub := s.authorize(w, r)
	if !authorized {
		return
	}
	if perr != nil {
		writeError(w, http.StatusBadRequest, "%v", perr)
		return
	}
	if err := validName(meta.Name); err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if err := validVersion(meta.Vers); err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if err := checkTarball(crate, meta.Name, meta.Vers); err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if other := s.store.conflict(meta.Name); other != "" {
		writeError(w, http.StatusBadRequest, "crate was previously named `%s`", other)
		return
	}
	if s.store.find(meta.Name, meta.Vers) != nil {
		if s.flavor == FlavorGitea {
			giteaError(w, http.StatusConflict, "package version already exists")
			return
		}
		writeError(w, http.StatusBadRequest, "crate version `%s` is already uploaded", meta.Vers)
		return
	}
	newCrate := !s.store.exists(meta.Name)
	if newCrate && trustpub {
		writeError(w, http.StatusForbidden, "Trusted Publishing tokens do not support creating new crates. Publish the crate manually, first")
		return
	}
	for i, d := range meta.Deps {
		if s.cratesIO && isCratesIOIndex(d.Registry) {
			d.Registry = ""
			meta.Deps[i] = d
		}
		// A dependency on another registry cannot be checked here; one on
		// this registry must already exist, as on crates.io.
		if d.Registry == "" && !s.store.exists(d.Name) && s.flavor != FlavorGitea {
			writeError(w, http.StatusBadRequest, "no known crate named `%s`", d.Name)
			return
		}
	}
	if !trustpub {
		bucket := s.versionBucket
		if newCrate {
			bucket = s.crateBucket
		}
		if ok, until := bucket.take(s.now()); !ok {
			rateLimited(w, until, newCrate)
			return
		}
	}
	now := s.now().UTC()
	rec := &record{
		Entry:       meta.indexEntry(sha256hex(crate)),
		Published:   now,
		VisibleAt:   now.Add(s.indexDelay),
		Description: meta.Description,
		License:     meta.License,
		Repository:  meta.Repository,
	}
	if err := s.store.add(rec, crate); err != nil {
		writeError(w, http.StatusInternalServerError, "storing %s@%s: %v", meta.Name, meta.Vers, err)
		return
	}
	s.uploads[versionKey(meta.Name, meta.Vers)]++
	if s.flavor == FlavorGitea {
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"warnings": map[string][]string{"invalid_categories": {}, "invalid_badges": {}, "other": {}},
	})
}

// isCratesIOIndex recognises the index URLs cargo uses for crates.io in
// publish metadata.
func isCratesIOIndex(u string) bool {
	switch strings.TrimSuffix(u, "/") {
	case "https://github.com/rust-lang/crates.io-index", "sparse+https://index.crates.io":
		return true
	}
	return false
}
