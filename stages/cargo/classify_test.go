package cargo

import "testing"

// A failed publish is retried when the registry answered a rate limit or
// a server error, whichever way cargo words the answer: the registry
// API's JSON errors ("the remote server responded with an error (status
// 503 ...)") or any other body, a plain-text one (Gitea's) or a proxy's
// page ("failed to get a 200 OK response, got 503"). A refusal is not.
func TestAFailedPublishIsClassifiedByTheRegistrysStatus(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		status    int
		retry     bool
	}{
		{"api error", "error: failed to publish demo v1.0.0 to registry at http://127.0.0.1:9/\n\nCaused by:\n  the remote server responded with an error (status 503 Service Unavailable): busy\n", 503, true},
		{"plain text server error", "error: failed to publish demo v1.0.0 to registry at http://127.0.0.1:9/\n\nCaused by:\n  failed to get a 200 OK response, got 502\n  headers:\n  \tHTTP/1.1 502 Bad Gateway\n  body:\n  <html>bad gateway</html>\n", 502, true},
		{"plain text rate limit", "Caused by:\n  failed to get a 200 OK response, got 429\n  headers:\n  \tHTTP/1.1 429 Too Many Requests\n  body:\n  slow down\n", 429, true},
		{"plain text refusal", "Caused by:\n  failed to get a 200 OK response, got 401\n  headers:\n  \tHTTP/1.1 401 Unauthorized\n  body:\n  Failed to authenticate user\n", 401, false},
		{"no answer", "Caused by:\n  [7] Couldn't connect to server\n", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pe := classify(tc.out, nil)
			if pe.Status != tc.status || pe.Retryable() != tc.retry {
				t.Fatalf("classified as status %d (retry %v), want %d (retry %v)", pe.Status, pe.Retryable(), tc.status, tc.retry)
			}
		})
	}
}
