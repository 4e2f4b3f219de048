package registry

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// TrustedPublishing makes the registry take part in crates.io's Trusted
// Publishing: it exchanges a CI job's OIDC token (a JWT) for a short-lived
// publish token at POST /api/v1/trusted_publishing/tokens and revokes one
// at DELETE on the same path. It also stands in for the CI runner's OIDC
// endpoint (GitHub Actions' ACTIONS_ID_TOKEN_REQUEST_URL), at OIDCURL, so
// that rehearsals and tests run the same path as a real CI job.
type TrustedPublishing struct {
	// Audience the JWTs must be issued for; default: the registry's host
	// name, as a client derives it from the API URL.
	Audience string
	// Lifetime of an exchanged token; default 30 minutes, crates.io's.
	Lifetime time.Duration
	// JWTLifetime is how long an issued JWT can be exchanged; default 5
	// minutes.
	JWTLifetime time.Duration
	// Claims the stand-in puts into every JWT (repository, workflow,
	// environment, ...), and Publisher the ones the registry's trusted
	// publisher configuration requires: a JWT lacking one is refused, as
	// a workflow crates.io was not told about is.
	Claims    map[string]string
	Publisher map[string]string
}

// Trusted-publishing token prefix, as crates.io's.
const trustpubPrefix = "cio_tp_"

// trustpub is the registry's Trusted Publishing state, under Server.mu.
type trustpub struct {
	opts         TrustedPublishing
	key          *rsa.PrivateKey
	requestToken string
	used         map[string]bool      // jti of every JWT exchanged
	tokens       map[string]time.Time // sha256 of a live token -> expiry
	exchanges    int
	revocations  int
	issued       int
	secrets      []string // every JWT issued and token handed out
}

func newTrustpub(opts TrustedPublishing) (*trustpub, error) {
	if opts.Lifetime <= 0 {
		opts.Lifetime = 30 * time.Minute
	}
	if opts.JWTLifetime <= 0 {
		opts.JWTLifetime = 5 * time.Minute
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &trustpub{opts: opts, key: key, requestToken: randomHex("oidc-request-"),
		used: map[string]bool{}, tokens: map[string]time.Time{}}, nil
}

// OIDCURL is the stand-in for ACTIONS_ID_TOKEN_REQUEST_URL, "" unless
// Trusted Publishing is on. Clients append "&audience=...".
func (s *Server) OIDCURL() string {
	if s.tp == nil {
		return ""
	}
	return s.URL + "/_oidc/token?api-version=2.0"
}

// OIDCRequestToken is the stand-in's ACTIONS_ID_TOKEN_REQUEST_TOKEN.
func (s *Server) OIDCRequestToken() string {
	if s.tp == nil {
		return ""
	}
	return s.tp.requestToken
}

// IssueJWT is an OIDC token for audience, as the stand-in serves it: what
// a GitLab job finds in its id_tokens variable.
func (s *Server) IssueJWT(audience string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tp == nil {
		return "", errors.New("sandbox registry: Trusted Publishing is off")
	}
	return s.tp.issue(audience, s.now())
}

// TrustpubSecrets is every secret of Trusted Publishing the registry has
// handed out: the stand-in's request token, each JWT and each publish
// token, for tests that check none leaked.
func (s *Server) TrustpubSecrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tp == nil {
		return nil
	}
	return append([]string{s.tp.requestToken}, s.tp.secrets...)
}

// SetTokenLifetime changes the lifetime of tokens exchanged from now on.
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tp != nil {
		s.tp.opts.Lifetime = d
	}
}

// TrustpubCounts says how many JWTs the stand-in issued, how many were
// exchanged, how many tokens were revoked, and how many are still live.
func (s *Server) TrustpubCounts() (issued, exchanged, revoked, live int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tp == nil {
		return 0, 0, 0, 0
	}
	now := s.now()
	for _, exp := range s.tp.tokens {
		if now.Before(exp) {
			live++
		}
	}
	return s.tp.issued, s.tp.exchanges, s.tp.revocations, live
}

func (tp *trustpub) audience(s *Server) string {
	if tp.opts.Audience != "" {
		return tp.opts.Audience
	}
	u, _ := url.Parse(s.URL)
	return u.Hostname()
}

// issue signs a JWT (RS256) with the stand-in's key.
func (tp *trustpub) issue(audience string, now time.Time) (string, error) {
	claims := map[string]any{
		"iss": "https://token.actions.githubusercontent.com",
		"aud": audience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(tp.opts.JWTLifetime).Unix(),
		"jti": randomHex(""),
	}
	for k, v := range tp.opts.Claims {
		claims[k] = v
	}
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signed := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, tp.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	tp.issued++
	jwt := signed + "." + b64(sig)
	tp.secrets = append(tp.secrets, jwt)
	return jwt, nil
}

// verify checks a JWT's signature and claims and returns its jti, or
// why it is refused, in crates.io's words.
func (tp *trustpub) verify(jwt, audience string, now time.Time) (jti, refused string) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "", "Failed to decode JWT"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", "Failed to decode JWT"
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&tp.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return "", "Failed to verify JWT signature"
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", "Failed to decode JWT"
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return "", "Failed to decode JWT"
	}
	if aud, _ := claims["aud"].(string); aud != audience {
		return "", fmt.Sprintf("Invalid JWT audience: expected %q", audience)
	}
	if exp, _ := claims["exp"].(float64); now.Unix() >= int64(exp) {
		return "", "JWT has expired"
	}
	jti, _ = claims["jti"].(string)
	if jti == "" {
		return "", "JWT has no jti claim"
	}
	if tp.used[jti] {
		return "", "JWT has already been used"
	}
	for k, want := range tp.opts.Publisher {
		if got, _ := claims[k].(string); got != want {
			return "", "No matching Trusted Publishing config found"
		}
	}
	return jti, ""
}

// oidcToken is the stand-in for the runner's endpoint: GET with the
// request token as bearer, audience in the query, {"value": jwt} back.
func (s *Server) oidcToken(w http.ResponseWriter, r *http.Request) {
	if s.tp == nil {
		http.NotFound(w, r)
		return
	}
	got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(got), []byte(s.tp.requestToken)) != 1 {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}
	s.mu.Lock()
	aud := r.URL.Query().Get("audience")
	jwt, err := s.tp.issue(aud, s.now())
	s.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": 1, "value": jwt})
}

// exchange trades a JWT, once, for a publish token.
func (s *Server) exchange(w http.ResponseWriter, r *http.Request) {
	if s.tp == nil {
		http.NotFound(w, r)
		return
	}
	var body struct {
		JWT string `json:"jwt"`
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil || json.Unmarshal(b, &body) != nil || body.JWT == "" {
		writeError(w, http.StatusBadRequest, "Failed to deserialize request body")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	jti, refused := s.tp.verify(body.JWT, s.tp.audience(s), now)
	if refused != "" {
		writeError(w, http.StatusBadRequest, "%s", refused)
		return
	}
	s.tp.used[jti] = true
	tok := trustpubPrefix + randomHex("")
	s.tp.tokens[hashToken(tok)] = now.Add(s.tp.opts.Lifetime)
	s.tp.exchanges++
	s.tp.secrets = append(s.tp.secrets, tok)
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}

// revoke ends the token given as bearer.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if s.tp == nil {
		http.NotFound(w, r)
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	h := hashToken(tok)
	exp, ok := s.tp.tokens[h]
	if !ok || !s.now().Before(exp) {
		writeError(w, http.StatusUnauthorized, "Invalid authentication token")
		return
	}
	delete(s.tp.tokens, h)
	s.tp.revocations++
	w.WriteHeader(http.StatusNoContent)
}

// trustpubValid is true when tok is a live exchanged token. s.mu held.
func (s *Server) trustpubValid(tok string) bool {
	if s.tp == nil || !strings.HasPrefix(tok, trustpubPrefix) {
		return false
	}
	exp, ok := s.tp.tokens[hashToken(tok)]
	return ok && s.now().Before(exp)
}

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randomHex(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
