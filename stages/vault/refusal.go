package vault

import (
	"errors"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// Refusal reads a git remote's answer out of an error of a fetch, a list
// or a push session: the HTTP status (401, 403 and 404, which go-git
// turns into errors of their own, or any other a server answered with)
// and the server's own words, which say more than go-git's (GitHub:
// "Repository not found.", "Permission to OWNER/REPO.git denied to
// USER."). A repository missing at a local path is a 404 with no words.
// ok is false when no answer came (the network, a timeout, a bad URL).
func Refusal(err error) (status int, said string, ok bool) {
	for _, known := range []struct {
		err    error
		status int
	}{
		{transport.ErrAuthenticationRequired, 401},
		{transport.ErrAuthorizationFailed, 403},
		{transport.ErrRepositoryNotFound, 404},
	} {
		if errors.Is(err, known.err) {
			// go-git appends the server's body: "<its error>: <body>".
			_, said, _ = strings.Cut(err.Error(), known.err.Error()+": ")
			return known.status, strings.TrimSpace(said), true
		}
	}
	var unexpected *plumbing.UnexpectedError
	if errors.As(err, &unexpected) {
		var answer *githttp.Err
		if errors.As(unexpected.Err, &answer) && answer.Response != nil {
			return answer.Response.StatusCode, strings.TrimSpace(answer.Reason), true
		}
	}
	return 0, "", false
}
