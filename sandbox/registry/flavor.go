package registry

import (
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
)

// Flavor is whose registry the sandbox plays: where it serves its index
// and web API, and how it answers a credential it does not take, so that
// what a user sees from cargo and from embargo is what that registry would
// have answered.
type Flavor string

const (
	// Plain (the zero value) serves crates.io's paths and compares the
	// Authorization header with Token as sent; a request without it, or
	// with another, is refused 403 as crates.io refuses an unknown token.
	Plain Flavor = ""
	// FlavorCratesIO authenticates exactly as crates.io does (its
	// AuthHeader and token lookup): the header is the token, bare or
	// after `Bearer `, and any other scheme is refused 401; a token not
	// in crates.io's format (the `cio` prefix) is refused 401 before it
	// is looked up; no header, 403 "this action requires
	// authentication"; an unknown token, 403 "authentication failed".
	FlavorCratesIO Flavor = "crates.io"
	// FlavorGitea is a Gitea (or Forgejo) package registry of the owner
	// GiteaOwner: index and API under /api/packages/OWNER/cargo, as
	// config.json says; no rate limit. Writes (publish, yank, unyank)
	// pass Gitea's reqPackageAccess(write) before the handler runs: a
	// request without a credential is anonymous and refused 401
	// "reqPackageAccess" with a Basic challenge, as is ReadToken; a
	// credential Gitea's package authentication cannot read (a token
	// without its scheme: Gitea wants `Bearer <token>`) or does not know
	// is refused 401 "Failed to authenticate user", in plain text.
	FlavorGitea Flavor = "gitea"
)

// GiteaOwner is the user whose packages a Gitea-flavoured sandbox holds.
const GiteaOwner = "sandbox"

// giteaRoot is where Gitea serves the owner's cargo registry: its sparse
// index, and the API config.json names.
const giteaRoot = "/api/packages/" + GiteaOwner + "/cargo"

// Flavors are the flavours a sandbox registry can play, for flags.
var Flavors = []Flavor{FlavorCratesIO, FlavorGitea}

// root is the path of the registry's API: what config.json's "api" names
// after the host.
func (s *Server) root() string {
	if s.flavor == FlavorGitea {
		return giteaRoot
	}
	return ""
}

// indexRoot is the path of the sparse index, without the trailing slash.
func (s *Server) indexRoot() string {
	if s.flavor == FlavorGitea {
		return giteaRoot
	}
	return "/index"
}

// credential is the token a request carries, as the flavour reads the
// Authorization header; ok is false when the header is there but the
// flavour cannot read a token from it.
func (s *Server) credential(r *http.Request) (tok string, ok bool) {
	h := r.Header.Get("Authorization")
	switch s.flavor {
	case FlavorCratesIO:
		scheme, tok, found := strings.Cut(h, " ")
		if !found {
			return strings.TrimSpace(h), true
		}
		if !strings.EqualFold(scheme, "Bearer") {
			return "", false
		}
		return strings.TrimSpace(tok), true
	case FlavorGitea:
		scheme, tok, found := strings.Cut(h, " ")
		if h == "" {
			return "", true
		}
		if !found {
			return "", false
		}
		switch strings.ToLower(scheme) {
		case "bearer", "token":
			return strings.TrimSpace(tok), true
		case "basic":
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(tok))
			if err != nil {
				return "", false
			}
			_, password, _ := strings.Cut(string(raw), ":")
			return password, true
		}
		return "", false
	}
	return h, true
}

// hasToken is true when the request carries the registry's token.
func (s *Server) hasToken(r *http.Request) bool {
	tok, ok := s.credential(r)
	return ok && equal(tok, s.token)
}

func equal(got, want string) bool {
	return want != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// authorize answers as the registry refuses a write and returns false,
// unless the request carries the token, or a live Trusted Publishing one
// (trustpub is then true). cargo sends the token string itself as the
// Authorization header.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) (ok, trustpub bool) {
	switch s.flavor {
	case FlavorCratesIO:
		return s.authorizeCratesIO(w, r)
	case FlavorGitea:
		return s.authorizeGitea(w, r), false
	}
	got := r.Header.Get("Authorization")
	if s.token == "" && s.tp == nil {
		return true, false
	}
	if got == "" {
		writeError(w, http.StatusForbidden, "this action requires authentication")
		return false, false
	}
	if equal(got, s.token) {
		return true, false
	}
	return s.trustpubOrRefuse(w, got)
}

// trustpubOrRefuse takes a live Trusted Publishing token; anything else is
// refused. An expired Trusted Publishing token is refused like any unknown
// one, as crates.io does.
func (s *Server) trustpubOrRefuse(w http.ResponseWriter, tok string) (ok, trustpub bool) {
	s.mu.Lock()
	valid := s.trustpubValid(tok)
	s.mu.Unlock()
	if valid {
		return true, true
	}
	writeError(w, http.StatusForbidden, "authentication failed")
	return false, false
}

// cratesIOTokenFormat is crates.io's answer to a token not in its format.
const cratesIOTokenFormat = "The given API token does not match the format used by crates.io. " +
	"Tokens generated before 2020-07-14 were generated with an insecure random number generator, and have been revoked. " +
	"You can generate a new token at https://crates.io/me. " +
	"For more information please see https://blog.rust-lang.org/2020/07/14/crates-io-security-advisory.html. " +
	"We apologize for any inconvenience."

func (s *Server) authorizeCratesIO(w http.ResponseWriter, r *http.Request) (ok, trustpub bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		writeError(w, http.StatusForbidden, "this action requires authentication")
		return false, false
	}
	for _, c := range h {
		if c > 127 {
			writeError(w, http.StatusUnauthorized, "Invalid `Authorization` header: Found unexpected non-ASCII characters")
			return false, false
		}
	}
	tok, readable := s.credential(r)
	if !readable {
		scheme, _, _ := strings.Cut(h, " ")
		writeError(w, http.StatusUnauthorized, "Invalid `Authorization` header: Found unexpected authentication scheme `%s`", scheme)
		return false, false
	}
	if !strings.HasPrefix(tok, "cio") {
		writeError(w, http.StatusUnauthorized, "%s", cratesIOTokenFormat)
		return false, false
	}
	if equal(tok, s.token) {
		return true, false
	}
	return s.trustpubOrRefuse(w, tok)
}

func (s *Server) authorizeGitea(w http.ResponseWriter, r *http.Request) bool {
	tok, readable := s.credential(r)
	switch {
	case !readable || (tok != "" && !equal(tok, s.token) && !equal(tok, s.readToken)):
		// Gitea's package authentication failed on the header.
		http.Error(w, "Failed to authenticate user", http.StatusUnauthorized)
		return false
	case tok == "" || equal(tok, s.readToken):
		// Anonymous, or a token that may only read: reqPackageAccess.
		w.Header().Set("WWW-Authenticate", `Basic realm="Gitea Package API"`)
		http.Error(w, "reqPackageAccess", http.StatusUnauthorized)
		return false
	}
	return true
}

// giteaError answers in the shape of Gitea's cargo handlers.
func giteaError(w http.ResponseWriter, status int, msg string) {
	type detail struct {
		Detail string `json:"detail"`
	}
	writeJSON(w, status, struct {
		OK     bool     `json:"ok"`
		Errors []detail `json:"errors"`
	}{false, []detail{{msg}}})
}
