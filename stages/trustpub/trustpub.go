// Package trustpub is crates.io's Trusted Publishing, from the client's
// side: the CI job's OIDC token (a JWT) is asked of the runner, or read
// from the variable the CI fills, and exchanged at the registry for a
// short-lived publish token, which is revoked once done with.
//
// Every secret this package handles (the runner's request token, the JWT,
// the publish token) is handed to Remember as soon as it is known, so that
// the caller can scrub it from anything printed or stored, and none is
// ever part of an error.
package trustpub

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Lifetime is how long crates.io's exchanged tokens live. The exchange's
// answer does not say; crates.io documents 30 minutes.
const Lifetime = 30 * time.Minute

// GitHub Actions' variables for the runner's OIDC endpoint, set in a job
// with `permissions: id-token: write`.
const (
	GitHubRequestURL   = "ACTIONS_ID_TOKEN_REQUEST_URL"
	GitHubRequestToken = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
)

// IDTokens gives the CI job's OIDC token for an audience.
type IDTokens interface {
	IDToken(ctx context.Context, audience string) (string, error)
	// Fresh is true when every call gives a new token (GitHub Actions):
	// crates.io takes each once, so only then can one be exchanged to
	// check the setup and another for the release, or a second for a
	// token that ran out.
	Fresh() bool
	// Describe names the source in messages.
	Describe() string
}

// Runner asks a GitHub Actions runner's endpoint (or a stand-in for it).
type Runner struct {
	URL, RequestToken string
	HTTP              *http.Client
	Remember          func(string)
}

func (r *Runner) Fresh() bool      { return true }
func (r *Runner) Describe() string { return "the runner's OIDC endpoint (" + GitHubRequestURL + ")" }

func (r *Runner) IDToken(ctx context.Context, audience string) (string, error) {
	u := r.URL
	sep := "&"
	if !strings.Contains(u, "?") {
		sep = "?"
	}
	u += sep + "audience=" + url.QueryEscape(audience)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("%s is not a URL", GitHubRequestURL)
	}
	req.Header.Set("Authorization", "Bearer "+r.RequestToken)
	req.Header.Set("Accept", "application/json")
	resp, err := client(r.HTTP).Do(req)
	if err != nil {
		return "", fmt.Errorf("ask the runner for an OIDC token: %w", unwrapURL(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the runner's OIDC endpoint answered %d: does the job have `permissions: id-token: write`?", resp.StatusCode)
	}
	var out struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Value == "" {
		return "", errors.New("the runner's OIDC endpoint answered without a token")
	}
	remember(r.Remember, out.Value)
	return out.Value, nil
}

// Variable is a token the CI put into a variable (GitLab's id_tokens).
type Variable struct {
	Name, Value string
}

func (v *Variable) Fresh() bool      { return false }
func (v *Variable) Describe() string { return "the variable " + v.Name }

func (v *Variable) IDToken(ctx context.Context, audience string) (string, error) {
	if v.Value == "" {
		return "", fmt.Errorf("%s is not set: give the job an `id_tokens:` entry %s with `aud: %s`", v.Name, v.Name, audience)
	}
	return v.Value, nil
}

// Claims are the parts of a JWT's payload that say whether it can be
// exchanged, read without checking its signature (the registry does).
type Claims struct {
	Audience string
	Expires  time.Time
}

// ReadClaims decodes a JWT's payload. The error never quotes the token.
func ReadClaims(jwt string) (Claims, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return Claims{}, errors.New("not a JWT (value not shown)")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return Claims{}, errors.New("not a JWT (value not shown)")
	}
	var c struct {
		Aud any     `json:"aud"`
		Exp float64 `json:"exp"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return Claims{}, errors.New("not a JWT (value not shown)")
	}
	out := Claims{Expires: time.Unix(int64(c.Exp), 0)}
	switch a := c.Aud.(type) {
	case string:
		out.Audience = a
	case []any:
		if len(a) > 0 {
			out.Audience, _ = a[0].(string)
		}
	}
	return out, nil
}

// Audience is what the registry whose API is at api expects a JWT to be
// issued for: its host name ("crates.io").
func Audience(api string) string {
	u, err := url.Parse(api)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// Client exchanges and revokes tokens at a registry's API.
type Client struct {
	API      string // https://crates.io, the index's config.json "api"
	HTTP     *http.Client
	Remember func(string)
}

func (c *Client) endpoint() string {
	return strings.TrimSuffix(c.API, "/") + "/api/v1/trusted_publishing/tokens"
}

// ExchangeError is the registry refusing a JWT, with its words.
type ExchangeError struct {
	Status int
	Detail string
}

func (e *ExchangeError) Error() string {
	return fmt.Sprintf("the registry refused the OIDC token (%d): %s", e.Status, e.Detail)
}

// Exchange trades a JWT for a publish token. The JWT is spent either way.
func (c *Client) Exchange(ctx context.Context, jwt string) (string, error) {
	remember(c.Remember, jwt)
	body, _ := json.Marshal(map[string]string{"jwt": jwt})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(), bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client(c.HTTP).Do(req)
	if err != nil {
		return "", fmt.Errorf("exchange the OIDC token at %s: %w", c.endpoint(), unwrapURL(err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", &ExchangeError{Status: resp.StatusCode, Detail: detail(b)}
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("the registry's exchange at %s answered without a token", c.endpoint())
	}
	remember(c.Remember, out.Token)
	return out.Token, nil
}

// Revoke ends a token before its time. A token the registry no longer
// knows (401: expired, or revoked already) has nothing left to end.
func (c *Client) Revoke(ctx context.Context, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.endpoint(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client(c.HTTP).Do(req)
	if err != nil {
		return fmt.Errorf("revoke the publish token at %s: %w", c.endpoint(), unwrapURL(err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("revoke the publish token at %s: %d: %s", c.endpoint(), resp.StatusCode, detail(b))
	}
	return nil
}

// detail is the message of a crates.io error body, or the body's start.
func detail(b []byte) string {
	var e struct {
		Errors []struct {
			Detail string `json:"detail"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &e) == nil && len(e.Errors) > 0 {
		var ds []string
		for _, d := range e.Errors {
			ds = append(ds, d.Detail)
		}
		return strings.Join(ds, "; ")
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func client(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func remember(f func(string), v string) {
	if f != nil && v != "" {
		f(v)
	}
}

// unwrapURL drops the URL the http client puts into its errors: the
// runner's request URL may carry a token of its own in its query.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
