package publish

import (
	"testing"

	"github.com/async-rs/embargo/stages/cargo"
)

// What cargo 1.95 prints when the registry refuses an upload, as JSON
// errors (crates.io) or plain text (Gitea), read for its status and words;
// other failures are not refusals.
func TestCargosWordsForARefusedUploadAreRead(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		out    string
		status int
		answer string
	}{
		{"error: failed to publish a v0.1.0 to registry at http://127.0.0.1:42157\n\nCaused by:\n  the remote server responded with an error (status 403 Forbidden): authentication failed\n", 403, "authentication failed"},
		{"error: failed to publish a v0.1.0 to registry at http://127.0.0.1:40621\n\nCaused by:\n  the remote server responded with an error (status 401 Unauthorized): The given API token does not match the format used by crates.io. Tokens generated before 2020-07-14 were generated with an insecure random number generator, and have been revoked.\n", 401,
			"The given API token does not match the format used by crates.io. Tokens generated before 2020-07-14 were generated with an insecure random number generator, and have been revoked."},
		{"error: failed to publish a v0.1.0 to registry at http://127.0.0.1:33177/api/packages/sandbox/cargo\n\nCaused by:\n  failed to get a 200 OK response, got 401\n  headers:\n  \tHTTP/1.1 401 Unauthorized\n  \tContent-Type: text/plain; charset=utf-8\n  \tContent-Length: 28\n  \t\n  body:\n  Failed to authenticate user\n", 401, "Failed to authenticate user"},
		{"error: failed to publish a v0.1.0 to registry at http://127.0.0.1:40621\n\nCaused by:\n  the remote server responded with an error (status 503 Service Unavailable): try later\n", 0, ""},
		{"error: failed to publish a v0.1.0 to registry at http://127.0.0.1:40621\n\nCaused by:\n  the remote server responded with an error (status 400 Bad Request): crate version `0.1.0` is already uploaded\n", 0, ""},
	} {
		status, answer, ok := uploadRefused(&cargo.PublishError{Output: c.out})
		if ok != (c.status != 0) || status != c.status || answer != c.answer {
			t.Errorf("%q: %d %q (refused %v), want %d %q", c.out, status, answer, ok, c.status, c.answer)
		}
	}
}
