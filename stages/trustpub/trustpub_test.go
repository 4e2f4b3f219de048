package trustpub_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/stages/trustpub"
)

func TestAudienceIsTheAPIsHostName(t *testing.T) {
	for api, want := range map[string]string{"https://crates.io": "crates.io", "http://127.0.0.1:8080": "127.0.0.1"} {
		if got := trustpub.Audience(api); got != want {
			t.Errorf("Audience(%s) = %q, want %q", api, got, want)
		}
	}
}

func TestReadClaimsReadsAudienceAndExpiryAndNeverQuotesTheToken(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"crates.io","exp":1796133600}`))
	c, err := trustpub.ReadClaims("eyJhbGciOiJSUzI1NiJ9." + payload + ".c2ln")
	if err != nil || c.Audience != "crates.io" || !c.Expires.Equal(time.Unix(1796133600, 0)) {
		t.Errorf("claims %+v, %v", c, err)
	}
	bad := "not-a-jwt-but-a-secret-value"
	if _, err := trustpub.ReadClaims(bad); err == nil || strings.Contains(err.Error(), bad) {
		t.Errorf("a token that is no JWT: %v", err)
	}
}

// A runner that refuses (no id-token: write) is named with the fix, and
// neither the request token nor the request URL's query is quoted.
func TestRunnerRefusalSaysWhatTheJobLacksAndQuotesNoSecret(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"Unable to get ACTIONS_ID_TOKEN_REQUEST_URL env variable"}`, http.StatusForbidden)
	}))
	defer srv.Close()
	var remembered []string
	r := &trustpub.Runner{URL: srv.URL + "/token?api-version=2.0&sig=secret-in-url", RequestToken: "request-token-secret", Remember: func(s string) { remembered = append(remembered, s) }}
	_, err := r.IDToken(context.Background(), "crates.io")
	if err == nil || !strings.Contains(err.Error(), "id-token: write") {
		t.Fatalf("refused: %v", err)
	}
	if strings.Contains(err.Error(), "request-token-secret") || strings.Contains(err.Error(), "secret-in-url") {
		t.Errorf("the error quotes a secret: %v", err)
	}
	srv.Close()
	if _, err := r.IDToken(context.Background(), "crates.io"); err == nil || strings.Contains(err.Error(), "secret-in-url") {
		t.Errorf("unreachable runner: %v", err)
	}
}
