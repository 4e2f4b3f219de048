package preflight

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/vault"
)

// The git repositories the release pushes to at T0, the public one and
// the blog's, as preflight proves them: each is read, and asked with the
// push credential what a push asks first, so that a wrong URL or a
// credential the forge refuses is a problem named by its config key days
// before T0, not a refused push at T0.

// gitRemote is a git repository the release pushes to, as the config
// names it: the key of its URL and of its push credential, the variable
// holding the credential ("" when none is configured, or none was sent),
// and where it is, with the credential the targets hold for it.
type gitRemote struct {
	urlKey, tokenKey string
	env              string
	release.Remote
}

func publicRemote(r *release.Run) gitRemote {
	return gitRemote{urlKey: "source.public", tokenKey: "source.token_env", env: r.Config.Source.TokenEnv, Remote: r.Targets.Public}
}

func blogRemote(r *release.Run) gitRemote {
	return gitRemote{urlKey: "blog.repo", tokenKey: "blog.token_env", env: r.Config.Blog.TokenEnv, Remote: r.Targets.Blog}
}

// pushRemotes are the repositories the release pushes to.
func pushRemotes(r *release.Run) []gitRemote {
	out := []gitRemote{publicRemote(r)}
	if r.Config.Blog != nil {
		out = append(out, blogRemote(r))
	}
	return out
}

// anonymous is the remote as a request without a credential reaches it.
func (g gitRemote) anonymous() gitRemote {
	g.env, g.Auth = "", nil
	return g
}

// overHTTP says whether a forge judges the remote's push credential: an
// http(s) URL. A local path or file:// URL takes none, and an SSH remote
// is pushed to with the keys of the machine, not a token.
func overHTTP(url string) bool {
	u := strings.ToLower(url)
	return strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")
}

// provePushes asks each HTTP remote the release pushes to, with the
// credential its push will use, for the refs it advertises to a push (the
// receive-pack advertisement, a GET), and sends nothing after. A forge
// answers it only for a credential it lets push; a refusal is a finding
// naming the key to fix. proven says, a line a remote, what was proven;
// judged holds the credential keys whose use was proven or refused. A
// rehearsal's remotes are the sandbox's copies: no forge judges them.
func (c *checking) provePushes(ctx context.Context) (proven []string, judged map[string]bool) {
	r := c.r
	judged = map[string]bool{}
	for _, g := range pushRemotes(r) {
		if g.Sandbox || !overHTTP(g.URL) || c.unread[g.urlKey] {
			continue // no credential to prove, or the remote's problem is listed already
		}
		if g.env != "" && !r.Secrets.Present(g.env) {
			continue // listed as not set
		}
		judged[g.tokenKey] = true
		if err := c.v.ProbePush(ctx, g.URL, g.Auth); err != nil {
			f := remoteFinding(r, g, true, err)
			c.add(f.Subject, f.Fix, "%s", f.Msg)
			continue
		}
		if g.env == "" {
			proven = append(proven, fmt.Sprintf("%s: none: pushes to %s go without a credential, which it allows", g.tokenKey, g.URL))
		} else {
			proven = append(proven, fmt.Sprintf("%s: %s may push to %s", g.tokenKey, g.env, g.URL))
		}
	}
	return proven, judged
}

// remoteFinding names the config key behind a remote's refusal of a push
// (asked before T0, push) or of a read: the credential's when the forge
// refused the one sent (g.env) or wants one where none is configured,
// the URL's when the repository is not there or cannot be reached. The
// forge's own words come with its status: they say more than go-git's.
func remoteFinding(r *release.Run, g gitRemote, push bool, err error) pipeline.Finding {
	file := r.Config.Path
	status, said, answered := vault.Refusal(err)
	if !answered {
		return pipeline.Finding{Subject: g.urlKey, Msg: fmt.Sprintf("%s cannot be read: %v", g.URL, err),
			Fix: fmt.Sprintf("check %s in %s, and that its host answers from here (`git ls-remote %s`)", g.urlKey, file, g.URL)}
	}
	answer := strconv.Itoa(status)
	if said = release.FirstLine(said); said != "" {
		answer += " " + said
	}
	rights := "give the token in " + g.env + " push (write) rights to that repository (GitHub: a fine-grained token with Contents: write, or a classic one with repo; Gitea: a token with write:repository of an account that may write), or put one that has them in " + g.env
	switch {
	case status == 404 && g.env != "":
		return pipeline.Finding{Subject: g.urlKey, Msg: fmt.Sprintf("%s does not exist, or the token in %s may not see it (%s)", g.URL, g.env, answer),
			Fix: fmt.Sprintf("check %s in %s against the repository's clone URL; a forge answers 404 too to a token whose account may not see the repository", g.urlKey, file)}
	case status == 404:
		return pipeline.Finding{Subject: g.urlKey, Msg: fmt.Sprintf("%s does not exist or cannot be read (%s)", g.URL, answer),
			Fix: fmt.Sprintf("check %s in %s against the repository's clone URL (`git ls-remote %s`)", g.urlKey, file, g.URL)}
	case (status == 401 || status == 403) && g.env == "" && push:
		return pipeline.Finding{Subject: g.tokenKey, Msg: fmt.Sprintf("missing: %s refuses a push without a credential (%s)", g.URL, answer),
			Fix: fmt.Sprintf("set %s in %s to the variable holding a token with push (write) rights to that repository", g.tokenKey, file)}
	case (status == 401 || status == 403) && g.env == "":
		return pipeline.Finding{Subject: g.urlKey, Msg: fmt.Sprintf("%s does not exist or cannot be read without a credential (%s)", g.URL, answer),
			Fix: fmt.Sprintf("check %s in %s against the repository's clone URL; the public repository must be readable by anyone (`git ls-remote %s`)", g.urlKey, file, g.URL)}
	case status == 401:
		return pipeline.Finding{Subject: g.tokenKey, Msg: fmt.Sprintf("%s was refused by %s (%s)", g.env, g.URL, answer),
			Fix: fmt.Sprintf("put in %s a valid token with push (write) rights to that repository; an expired or revoked token is refused", g.env)}
	case status == 403 && push:
		return pipeline.Finding{Subject: g.tokenKey, Msg: fmt.Sprintf("%s may not push to %s (%s)", g.env, g.URL, answer), Fix: rights}
	case status == 403:
		return pipeline.Finding{Subject: g.tokenKey, Msg: fmt.Sprintf("%s may not read %s (%s)", g.env, g.URL, answer), Fix: rights}
	}
	return pipeline.Finding{Subject: g.urlKey, Msg: fmt.Sprintf("%s answered %s", g.URL, answer),
		Fix: fmt.Sprintf("check %s in %s; when the forge is down, run `embargo check` again later", g.urlKey, file)}
}

// errUnread ends a check step whose remote could not be read, its finding
// listed: the steps after it do not ask the remote again.
var errUnread = fmt.Errorf("the remote could not be read: %w", errLineProblems)

// isUnread says whether a check step ended on an unreadable remote.
func isUnread(err error) bool { return errors.Is(err, errUnread) }
