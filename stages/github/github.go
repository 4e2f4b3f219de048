// Package github reads and updates a GitHub repository security advisory
// through the REST API (GET and PATCH
// /repos/{owner}/{repo}/security-advisories/{ghsa_id}): what the ghsa
// stage publishes at T0, and what preflight and verify read.
package github

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strings"
	"time"

	"github.com/async-rs/embargo/stages/retry"
)

// APIVersion is the REST API version the requests ask for.
const APIVersion = "2022-11-28"

// Options tune a Client.
type Options struct {
	// Token is sent as a bearer token on every request. It never appears
	// in errors.
	Token string
	// RetryMax is how often a request that failed on the way (a lost
	// connection, a 5xx, a 429) is tried again: 0 means 3, negative never.
	// Both requests are safe to repeat: a GET reads, and the PATCH sets
	// fields to values, the same each time.
	RetryMax int
	// HTTPClient makes the requests; the default has a 30s timeout.
	HTTPClient *http.Client
	// Clock times the waits between tries; the default is this machine's.
	// A release passes the gate's (pipeline.Clock).
	Clock retry.Clock
}

// Client talks to one GitHub API.
type Client struct {
	api   string
	token string
	http  *http.Client
	// How a request is tried again, on clock: waits from 250ms doubling
	// to 5s, or as long as GitHub's Retry-After asks (a secondary rate
	// limit's minute).
	retry retry.Policy
	clock retry.Clock
}

// New makes a client of the API at api (https://api.github.com, or
// https://HOST/api/v3 for GitHub Enterprise Server).
func New(api string, opts Options) *Client {
	retries := 3
	switch {
	case opts.RetryMax < 0:
		retries = 0
	case opts.RetryMax > 0:
		retries = opts.RetryMax
	}
	c := &Client{
		api: strings.TrimSuffix(api, "/"), token: opts.Token, http: opts.HTTPClient,
		retry: retry.Policy{Attempts: retries + 1, First: 250 * time.Millisecond, Max: 5 * time.Second},
		clock: opts.Clock,
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	if c.clock == nil {
		c.clock = retry.Wall{}
	}
	return c
}

// Advisory is a repository security advisory, the fields a release reads.
type Advisory struct {
	GHSAID          string          `json:"ghsa_id"`
	CVEID           *string         `json:"cve_id"`
	Summary         string          `json:"summary"`
	Severity        *string         `json:"severity"`
	CVSS            *CVSS           `json:"cvss"`
	State           string          `json:"state"`
	PublishedAt     *time.Time      `json:"published_at"`
	HTMLURL         string          `json:"html_url"`
	URL             string          `json:"url"`
	Vulnerabilities []Vulnerability `json:"vulnerabilities"`
	Credits         []Credit        `json:"credits"`
}

// CVSS is the advisory's vector and the score GitHub computed.
type CVSS struct {
	VectorString string   `json:"vector_string"`
	Score        *float64 `json:"score"`
}

// Vulnerability is one affected package.
type Vulnerability struct {
	Package                Package  `json:"package"`
	VulnerableVersionRange string   `json:"vulnerable_version_range"`
	PatchedVersions        string   `json:"patched_versions"`
	VulnerableFunctions    []string `json:"vulnerable_functions,omitempty"`
}

// Package names a package in its ecosystem ("rust" for crates).
type Package struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
}

// Credit is a GitHub user credited, and how.
type Credit struct {
	Login string `json:"login"`
	Type  string `json:"type"`
}

// Update is the body of the PATCH: only the fields set are sent.
type Update struct {
	CVEID            string          `json:"cve_id,omitempty"`
	Vulnerabilities  []Vulnerability `json:"vulnerabilities,omitempty"`
	Severity         string          `json:"severity,omitempty"`
	CVSSVectorString string          `json:"cvss_vector_string,omitempty"`
	Credits          []Credit        `json:"credits,omitempty"`
	State            string          `json:"state,omitempty"`
}

// Error is a refusal of GitHub's: its status, its message, and for a 422
// the fields it names.
type Error struct {
	Method, URL string
	Status      int
	Message     string
	Fields      []string // the fields of a 422's errors
	Details     []string // the messages of a 422's errors
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		s += ": " + strings.ReplaceAll(strings.TrimSpace(e.Message), "\n\n", " ")
	}
	if len(e.Details) > 0 {
		s += " (" + strings.Join(e.Details, "; ") + ")"
	}
	return s
}

// StatusOf is the HTTP status of a refusal of GitHub's, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// AdvisoryURL is the API address of an advisory.
func (c *Client) AdvisoryURL(repo, id string) string {
	return fmt.Sprintf("%s/repos/%s/security-advisories/%s", c.api, repo, id)
}

// Advisory reads the advisory id of repo (owner/name).
func (c *Client) Advisory(ctx context.Context, repo, id string) (*Advisory, error) {
	return c.do(ctx, http.MethodGet, c.AdvisoryURL(repo, id), nil)
}

// Update changes the advisory as u says, and returns it as GitHub then
// serves it.
func (c *Client) Update(ctx context.Context, repo, id string, u Update) (*Advisory, error) {
	body, err := json.Marshal(u)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, http.MethodPatch, c.AdvisoryURL(repo, id), body)
}

// maxBody bounds an answer read; an advisory is a few kilobytes.
const maxBody = 4 << 20

// do makes the request, trying again on the client's clock after a lost
// connection, a 5xx or a 429: both requests are safe to repeat (see
// Options.RetryMax). The last answer is the error, GitHub's words in it.
func (c *Client) do(ctx context.Context, method, url string, body []byte) (*Advisory, error) {
	var status int
	var b []byte
	var lastErr error
	err := retry.Do(ctx, c.clock, c.retry, func(int) error {
		status, b, lastErr = 0, nil, nil
		var rdr io.Reader
		if body != nil {
			rdr = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, rdr)
		if err != nil {
			lastErr = err
			return err
		}
		req.Header.Set("Accept", "application/vnd.github+json")
		req.Header.Set("X-GitHub-Api-Version", APIVersion)
		req.Header.Set("User-Agent", "embargo")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			lastErr = fmt.Errorf("%s %s: %w", method, url, unwrap(err))
			return retry.RequestError(ctx, err)
		}
		defer resp.Body.Close()
		if b, err = io.ReadAll(io.LimitReader(resp.Body, maxBody)); err != nil {
			lastErr = fmt.Errorf("%s %s: read the answer: %w", method, url, err)
			return retry.RequestError(ctx, err)
		}
		status = resp.StatusCode
		if status == http.StatusOK {
			return nil
		}
		return retry.Answer(resp, c.clock.Now())
	})
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s %s: %w", method, url, ctx.Err())
	case status != 0:
		return nil, refusal(method, url, status, b)
	default:
		return nil, lastErr
	}
	var a Advisory
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%s %s: the answer is not an advisory: %w", method, url, err)
	}
	return &a, nil
}

// refusal reads GitHub's error body: {"message", "errors": [...]}, where
// an entry of errors is an object naming a field, or a plain string.
func refusal(method, url string, status int, body []byte) *Error {
	e := &Error{Method: method, URL: url, Status: status}
	var doc struct {
		Message string            `json:"message"`
		Errors  []json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return e
	}
	e.Message = doc.Message
	for _, raw := range doc.Errors {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			e.Details = append(e.Details, s)
			continue
		}
		var fe struct{ Field, Code, Message string }
		if json.Unmarshal(raw, &fe) == nil {
			if fe.Field != "" {
				e.Fields = append(e.Fields, fe.Field)
			}
			switch {
			case fe.Message != "":
				e.Details = append(e.Details, fe.Message)
			case fe.Field != "":
				e.Details = append(e.Details, fe.Field+" "+fe.Code)
			}
		}
	}
	return e
}

// unwrap drops the url.Error wrapping, whose text repeats the URL.
func unwrap(err error) error {
	var ue *neturl.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
