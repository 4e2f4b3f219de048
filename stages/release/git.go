package release

import (
	"errors"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// FirstLine is the first line of a server's words, cut short: a proxy
// may answer with a whole page.
func FirstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.TrimSpace(s)
}

// Transient is false for refusals a retry cannot change (credentials, a
// rejected or non-fast-forward update, a missing repository). Anything else
// (a dropped connection, a timeout, a 5xx) may or may not have landed:
// the retry re-reads the remote first and pushes only what is missing.
func Transient(err error) bool {
	if errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed) ||
		errors.Is(err, transport.ErrRepositoryNotFound) {
		return false
	}
	msg := err.Error()
	for _, s := range []string{"non-fast-forward", "rejected", "denied", "protected branch", "hook declined"} {
		if strings.Contains(msg, s) {
			return false
		}
	}
	return true
}
