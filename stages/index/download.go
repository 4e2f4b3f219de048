package index

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Download copies the .crate at rawURL (CrateURL of config.json's dl) into
// w, at most MaxCrateBytes.
//
// Like cargo, it sends the token when the registry wants it to be read
// (config.json, read from the registry itself, says where its crates are,
// and may name another host than the index's); a redirect to any other host
// than the one asked drops it. A download never teaches the client that a
// token is wanted: a 401 here is an error, so the token goes nowhere the
// index did not ask for it.
func (c *Client) Download(ctx context.Context, rawURL string, w io.Writer) error {
	shown := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		shown = u.Redacted()
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("download %s: %w", shown, err)
	}
	req.Header.Set("User-Agent", "embargo")
	if c.sendsToken() {
		req.Header.Set("Authorization", c.token)
	}
	resp, err := c.send(ctx, c.dl, c.dlRetry, downloadAgain, req)
	if err != nil {
		return fmt.Errorf("download %s: %w", shown, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: %s%s", shown, resp.Status, c.authHint(resp.StatusCode))
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, MaxCrateBytes+1))
	if err != nil {
		return fmt.Errorf("download %s: %w", shown, unwrapURLError(err))
	}
	if n > MaxCrateBytes {
		return fmt.Errorf("download %s: larger than %d bytes", shown, MaxCrateBytes)
	}
	return nil
}

// PublishedAt asks the registry's web API (config.json's "api") when a
// version was published: crates.io's GET /api/v1/crates/NAME/VERSION,
// whose version.created_at says so. ok is false when the registry has no
// API or does not say.
func (c *Client) PublishedAt(ctx context.Context, name, version string) (at time.Time, ok bool, err error) {
	cfg, err := c.Config(ctx)
	if err != nil || cfg.API == "" {
		return time.Time{}, false, err
	}
	u := strings.TrimSuffix(cfg.API, "/") + "/api/v1/crates/" + url.PathEscape(name) + "/" + url.PathEscape(version)
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return time.Time{}, false, err
	}
	req.Header.Set("User-Agent", "embargo")
	if c.sendsToken() {
		req.Header.Set("Authorization", c.token)
	}
	resp, err := c.send(ctx, c.dl, c.dlRetry, downloadAgain, req)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("ask %s: %w", u, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return time.Time{}, false, nil
	}
	var body struct {
		Version struct {
			CreatedAt time.Time `json:"created_at"`
		} `json:"version"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil || body.Version.CreatedAt.IsZero() {
		return time.Time{}, false, nil
	}
	return body.Version.CreatedAt, true, nil
}
