package publish

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/release"
)

// The registry's refusal of the publish credential at T0. Whatever
// preflight could prove of the token (registryauth.go), the first upload's
// answer settles registryTakes: push and promote make nothing public until
// the registry has taken the credential, and nothing at all when it
// refuses it, so that a credential refused at T0 never leaves a half
// release (the fix on the public branch, no patched crate to upgrade to).

var (
	// cargo's words for a registry's JSON error (crates.io's shape):
	// "the remote server responded with an error (status 403
	// Forbidden): authentication failed".
	apiErrorRE = regexp.MustCompile(`\(status (\d{3})[^)]*\): (.+)`)
	// and for any other answer, such as Gitea's plain text: "failed to
	// get a 200 OK response, got 401", its headers, then "body:" and
	// the body.
	codeErrorRE = regexp.MustCompile(`got (\d{3})`)
)

// uploadRefused reads a failed upload: the registry refused its
// credential (401 or 403), and what it answered; ok is false for any
// other failure.
func uploadRefused(pe *cargo.PublishError) (status int, answer string, ok bool) {
	out := pe.Output
	if m := apiErrorRE.FindStringSubmatch(out); m != nil {
		fmt.Sscanf(m[1], "%d", &status)
		answer = strings.TrimSpace(m[2])
	} else if m := codeErrorRE.FindStringSubmatch(out); m != nil {
		fmt.Sscanf(m[1], "%d", &status)
		if _, body, found := strings.Cut(out, "body:"); found {
			answer = release.FirstLine(strings.TrimSpace(body))
		}
	}
	if status != http.StatusUnauthorized && status != http.StatusForbidden {
		return 0, "", false
	}
	return status, answer, true
}

// isRefused is true when the registry refused the upload's credential.
func isRefused(pe *cargo.PublishError) bool {
	_, _, ok := uploadRefused(pe)
	return ok
}

// refusalAt is the registry's refusal of the first upload at T0 as a
// *pipeline.Refusal: what it answered, why where the token's form says
// (Gitea wants `Bearer <token>`), and what to fix: never the token.
func refusalAt(r *release.Run, nv, tok string, status int, answer string) *pipeline.Refusal {
	what := fmt.Sprintf("%d %s", status, http.StatusText(status))
	if answer != "" {
		what += ": " + answer
	}
	if r.Config.Registry.TrustedPublishing {
		return &pipeline.Refusal{
			Err: fmt.Errorf("%s: not uploaded: the registry refused the Trusted Publishing token (%s)", nv, what),
			Fix: "check the trusted publisher the registry has for each crate (repository, workflow file, environment: this job's), then re-run in a new job",
		}
	}
	src, api := release.RegistryTokenSource(r.Config), release.APIOf(r.Targets.Registry.Index)
	if form := release.RefusedForm(api, tok); form != "" {
		return &pipeline.Refusal{
			Err: fmt.Errorf("%s: not uploaded: the registry refused the publish token in %s (%s): %s", nv, src, what, form),
			Fix: release.FormFix(api, r.Config.Registry.TokenEnv) + " (registry.token_env)",
		}
	}
	return &pipeline.Refusal{
		Err: fmt.Errorf("%s: not uploaded: the registry refused the publish token in %s (%s)", nv, src, what),
		Fix: fmt.Sprintf("set %s to a token the registry takes for publishing these crates", src),
	}
}

// exchangeRefusal is a Trusted Publishing exchange that failed at T0: no
// upload can be made, so nothing else goes public either.
func exchangeRefusal(nv string, err error) *pipeline.Refusal {
	return &pipeline.Refusal{
		Err: fmt.Errorf("%s: not uploaded: %w", nv, err),
		Fix: "check the trusted publisher the registry has for each crate and the job's OIDC token (registry.trusted_publishing), then re-run in a new job",
	}
}
