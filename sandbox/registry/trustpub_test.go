package registry_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/registry"
)

func startTrustpub(t *testing.T, tp registry.TrustedPublishing) *registry.Server {
	t.Helper()
	return startTrustpubOn(t, tp, nil)
}

// startTrustpubOn is startTrustpub on clock (the wall clock when nil).
func startTrustpubOn(t *testing.T, tp registry.TrustedPublishing, clock registry.Clock) *registry.Server {
	t.Helper()
	srv, err := registry.Start("", registry.Options{Dir: t.TempDir(), Token: testToken, TrustedPublishing: &tp, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// askRunner asks the stand-in for a JWT as a GitHub Actions job does.
func askRunner(t *testing.T, srv *registry.Server, audience string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.OIDCURL()+"&audience="+audience, nil)
	req.Header.Set("Authorization", "Bearer "+srv.OIDCRequestToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Value string }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil || out.Value == "" {
		t.Fatalf("OIDC stand-in answered %d", resp.StatusCode)
	}
	return out.Value
}

func exchange(t *testing.T, srv *registry.Server, jwt string) (int, string, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"jwt": jwt})
	resp := do(t, http.MethodPost, srv.URL+"/api/v1/trusted_publishing/tokens", "", body)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct{ Token string }
	json.Unmarshal(b, &out)
	return resp.StatusCode, out.Token, string(b)
}

func TestTrustedPublishingExchangesAJWTOnceForATokenThatPublishes(t *testing.T) {
	srv := startTrustpub(t, registry.TrustedPublishing{})
	mustPublish(t, srv, meta("demo", "1.0.0")) // the crate exists, made with a user token
	jwt := askRunner(t, srv, "127.0.0.1")
	status, tok, body := exchange(t, srv, jwt)
	if status != http.StatusOK || !strings.HasPrefix(tok, "cio_tp_") {
		t.Fatalf("exchange: %d %s", status, body)
	}
	if status, _, body := exchange(t, srv, jwt); status != http.StatusBadRequest || !strings.Contains(body, "already been used") {
		t.Errorf("second exchange of one JWT: %d %s, want it refused", status, body)
	}
	m := meta("demo", "1.0.1")
	if status, body := put(t, srv, tok, publishBody(t, m, fakeCrate(t, "demo", "1.0.1"))); status != http.StatusOK {
		t.Fatalf("publish with the exchanged token: %d %s", status, body)
	}
	// Revoked, it publishes no more.
	resp := do(t, http.MethodDelete, srv.URL+"/api/v1/trusted_publishing/tokens", "Bearer "+tok, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	m = meta("demo", "1.0.2")
	if status, _ := put(t, srv, tok, publishBody(t, m, fakeCrate(t, "demo", "1.0.2"))); status != http.StatusForbidden {
		t.Errorf("publish with a revoked token: %d, want 403", status)
	}
	if issued, exchanged, revoked, live := srv.TrustpubCounts(); issued != 1 || exchanged != 1 || revoked != 1 || live != 0 {
		t.Errorf("counts = %d issued, %d exchanged, %d revoked, %d live", issued, exchanged, revoked, live)
	}
}

func TestTrustedPublishingRefusesAnotherAudienceAnUnknownWorkflowAndAForgery(t *testing.T) {
	srv := startTrustpub(t, registry.TrustedPublishing{
		Claims:    map[string]string{"repository": "async-rs/embargo-release"},
		Publisher: map[string]string{"repository": "async-rs/async-std"},
	})
	if status, _, body := exchange(t, srv, askRunner(t, srv, "crates.io")); status != http.StatusBadRequest || !strings.Contains(body, "audience") {
		t.Errorf("JWT for another audience: %d %s", status, body)
	}
	if status, _, body := exchange(t, srv, askRunner(t, srv, "127.0.0.1")); status != http.StatusBadRequest || !strings.Contains(body, "No matching Trusted Publishing config") {
		t.Errorf("JWT of a workflow the registry does not trust: %d %s", status, body)
	}
	jwt := askRunner(t, srv, "127.0.0.1")
	forged := jwt[:strings.LastIndex(jwt, ".")+1] + "AAAA"
	if status, _, body := exchange(t, srv, forged); status != http.StatusBadRequest || !strings.Contains(body, "signature") {
		t.Errorf("forged JWT: %d %s", status, body)
	}
}

func TestTrustedPublishingTokenExpiresAndCannotCreateACrate(t *testing.T) {
	clock := pipeline.NewFakeClock(testNow)
	srv := startTrustpubOn(t, registry.TrustedPublishing{Lifetime: time.Second}, clock)
	mustPublish(t, srv, meta("demo", "1.0.0"))
	_, tok, _ := exchange(t, srv, askRunner(t, srv, "127.0.0.1"))
	m := meta("brand-new", "0.1.0")
	status, body := put(t, srv, tok, publishBody(t, m, fakeCrate(t, "brand-new", "0.1.0")))
	if status != http.StatusForbidden || !strings.Contains(errorDetail(t, body), "do not support creating new crates") {
		t.Errorf("new crate with a Trusted Publishing token: %d %s", status, body)
	}
	clock.Advance(time.Second)
	m = meta("demo", "1.0.1")
	if status, body := put(t, srv, tok, publishBody(t, m, fakeCrate(t, "demo", "1.0.1"))); status != http.StatusForbidden || errorDetail(t, body) != "authentication failed" {
		t.Errorf("publish with an expired token: %d %s", status, body)
	}
	jwt, err := srv.IssueJWT("127.0.0.1") // a GitLab job's id_tokens variable
	if err != nil {
		t.Fatal(err)
	}
	if status, _, body := exchange(t, srv, jwt); status != http.StatusOK {
		t.Errorf("exchange of an issued JWT: %d %s", status, body)
	}
}

func TestRateLimitLetsABurstThroughThenAnswers429WithCratesIOsWordsAndADate(t *testing.T) {
	clock := pipeline.NewFakeClock(testNow)
	srv, err := registry.Start("", registry.Options{Dir: t.TempDir(), Token: testToken, Clock: clock,
		RateLimit: &registry.RateLimit{Versions: registry.Bucket{Burst: 2, Refill: 2 * time.Second}, Crates: registry.Bucket{Burst: 1, Refill: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	mustPublish(t, srv, meta("demo", "1.0.0")) // the one new crate the bucket allows
	m := meta("other", "1.0.0")
	resp := do(t, http.MethodPut, srv.URL+"/api/v1/crates/new", testToken, publishBody(t, m, fakeCrate(t, "other", "1.0.0")))
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(b), "too many new crates") {
		t.Errorf("second new crate: %d %s", resp.StatusCode, b)
	}
	mustPublish(t, srv, meta("demo", "1.0.1"))
	mustPublish(t, srv, meta("demo", "1.0.2"))
	m = meta("demo", "1.0.3")
	resp = do(t, http.MethodPut, srv.URL+"/api/v1/crates/new", testToken, publishBody(t, m, fakeCrate(t, "demo", "1.0.3")))
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third new version in the burst of 2: %d %s", resp.StatusCode, b)
	}
	after, err := http.ParseTime(resp.Header.Get("Retry-After"))
	if err != nil {
		t.Fatalf("Retry-After %q is not an HTTP date", resp.Header.Get("Retry-After"))
	}
	detail := errorDetail(t, b)
	if !strings.Contains(detail, "You have published too many new versions in a short period of time. Please try again after "+after.UTC().Format(http.TimeFormat)) ||
		!strings.Contains(detail, "help@crates.io") {
		t.Errorf("429 says %q", detail)
	}
	// The next version comes 2 s after the burst began; an HTTP date is
	// rounded up to the next whole second, never early.
	if d := after.Sub(clock.Now()); d != 3*time.Second {
		t.Errorf("Retry-After %s is %s away, want the 2 s refill, rounded up", after, d)
	}
	clock.Set(after)
	mustPublish(t, srv, meta("demo", "1.0.3"))
}
