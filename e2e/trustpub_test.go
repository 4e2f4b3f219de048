package e2e

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/stages/seal"
)

// trustedRelease is the example release to a sandbox registry with Trusted
// Publishing, its config saying trusted_publishing = true (plus extra
// [registry] keys) instead of token_env. seed puts an earlier version of
// every crate on the registry: Trusted Publishing cannot create a crate.
func trustedRelease(t *testing.T, tp registry.TrustedPublishing, seed bool, extra string) *release {
	t.Helper()
	rl := newPublishRelease(t, time.Now().Add(-time.Second), registry.Options{TrustedPublishing: &tp, IndexDelay: 2 * time.Second})
	if seed {
		rl.seedCrates()
	}
	b, err := os.ReadFile(rl.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), `token_env = "`+registryTokenEnv+`"`, "trusted_publishing = true\n"+extra, 1)
	if cfg == string(b) {
		t.Fatal("test setup: no registry token_env in the example config")
	}
	if err := os.WriteFile(rl.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return rl
}

// seedCrates gives every crate of the example an old version on the
// registry, as a crate published long ago has.
func (rl *release) seedCrates() {
	rl.t.Helper()
	for _, c := range rl.ex.World.Crates {
		if err := rl.registry.Seed(registry.IndexEntry{Name: c, Vers: "0.0.1", Cksum: strings.Repeat("0", 64)}, nil); err != nil {
			rl.t.Fatal(err)
		}
	}
}

// runner is the environment of a GitHub Actions job with
// `permissions: id-token: write`, its endpoint the sandbox's stand-in.
func (rl *release) runner() []string {
	return []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + rl.registry.OIDCURL(), "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + rl.registry.OIDCRequestToken()}
}

// assertNoTrustpubSecret checks that no JWT, request token or publish
// token the registry handed out appears in the outputs or the state.
func (rl *release) assertNoTrustpubSecret(outputs ...string) {
	rl.t.Helper()
	secrets := rl.registry.TrustpubSecrets()
	if len(secrets) < 2 {
		rl.t.Fatalf("the registry handed out %d Trusted Publishing secrets; the test checks nothing", len(secrets))
	}
	rl.assertAbsent(append(secrets, token, registryToken), outputs...)
}

// From a GitHub Actions job: preflight exchanges one OIDC token and revokes
// the token at once; publish exchanges its own just before the first
// upload and, when the registry says it ran out (a lifetime of 2 s here,
// 30 min on crates.io), exchanges again; every upload carries an exchanged
// token and none the long-lived one; every token is revoked at the end.
func TestTrustedPublishingReleasesWithExchangedTokensOnly(t *testing.T) {
	t.Parallel()
	rl := trustedRelease(t, registry.TrustedPublishing{Lifetime: 2 * time.Second}, true, "")
	res := rl.run([]string{"run"}, rl.runner()...)
	if res.code != 0 {
		t.Fatal(res)
	}
	rl.assertReleased()
	rl.assertPublishedOnce()
	issued, exchanged, revoked, live := rl.registry.TrustpubCounts()
	// One for preflight's check, one before the first upload, and one at
	// least after the 2 s token ran out during the index waits.
	if exchanged < 3 {
		t.Errorf("%d exchanges (of %d JWTs), want preflight's, publish's first and at least one after the token ran out", exchanged, issued)
	}
	if live != 0 || revoked < 1 {
		t.Errorf("after the run: %d token(s) still live, %d revoked", live, revoked)
	}
	if !strings.Contains(res.stdout, "refused the publish token") {
		t.Errorf("the re-exchange after the token ran out is not reported:\n%s", res.stdout)
	}
	for _, r := range rl.registry.Requests() {
		if r.Method == http.MethodPut && r.Token {
			t.Errorf("an upload carried the long-lived registry token: %s %s", r.Method, r.Path)
		}
	}
	rl.assertNoTrustpubSecret(res.stdout, res.stderr)
}

// From a GitLab job: the OIDC token is in the variable id_token_env names;
// the registry takes it once, so preflight only reads it, and publish
// exchanges it.
func TestTrustedPublishingFromAGitLabIDTokenVariable(t *testing.T) {
	t.Parallel()
	rl := trustedRelease(t, registry.TrustedPublishing{}, true, `id_token_env = "CRATES_IO_ID_TOKEN"`+"\n")
	jwt, err := rl.registry.IssueJWT("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	res := rl.run([]string{"run"}, "CRATES_IO_ID_TOKEN="+jwt)
	if res.code != 0 {
		t.Fatal(res)
	}
	rl.assertReleased()
	rl.assertPublishedOnce()
	if _, exchanged, revoked, live := rl.registry.TrustpubCounts(); exchanged != 1 || revoked != 1 || live != 0 {
		t.Errorf("%d exchange(s), %d revoked, %d live; want the one JWT exchanged once, at publish, and revoked", exchanged, revoked, live)
	}
	rl.assertNoTrustpubSecret(res.stdout, res.stderr)
}

// In a CI job that offers no OIDC token, and with crates the registry does
// not have yet, check says both plainly before T0; on the release
// manager's machine the missing token is only a warning, so that check and
// seal work there.
func TestCheckSaysTrustedPublishingNeedsAnOIDCTokenAndExistingCrates(t *testing.T) {
	t.Parallel()
	rl := trustedRelease(t, registry.TrustedPublishing{}, true, "")
	res := rl.run([]string{"check"}, "GITHUB_ACTIONS=", "GITLAB_CI=")
	if res.code != 0 || !strings.Contains(res.stdout+res.stderr, "not a CI job") {
		t.Errorf("check outside CI: %s", res)
	}
	rl = trustedRelease(t, registry.TrustedPublishing{}, false, "")
	res = rl.run([]string{"check"}, "GITHUB_ACTIONS=true")
	if res.code != 1 {
		t.Fatalf("check: %s", res)
	}
	out := res.stdout + res.stderr
	for _, want := range []string{"ACTIONS_ID_TOKEN_REQUEST_URL", "id-token: write", "cannot create a new crate", strings.Join(sorted(rl.ex.World.Crates), ", ")} {
		if !strings.Contains(out, want) {
			t.Errorf("check does not say %q:\n%s", want, out)
		}
	}
	// With the runner's endpoint but a workflow the registry does not
	// trust, the exchange fails in preflight, before T0.
	rl2 := trustedRelease(t, registry.TrustedPublishing{Claims: map[string]string{"repository": "someone/else"}, Publisher: map[string]string{"repository": "async-rs/demo"}}, true, "")
	res = rl2.run([]string{"check"}, append(rl2.runner(), "GITHUB_ACTIONS=true")...)
	if res.code != 1 || !strings.Contains(res.stdout+res.stderr, "No matching Trusted Publishing config") {
		t.Errorf("check with an untrusted workflow: %s", res)
	}
	rl2.assertNoTrustpubSecret(res.stdout, res.stderr)
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// A sealed release with Trusted Publishing: sealed where the runner offers
// an OIDC token (preflight exchanges one), released from the bundle by a
// fresh runner; neither the bundle nor the journal stored beside it holds
// a JWT, the request token or a publish token.
func TestTrustedPublishingLeavesNoSecretInTheSealedBundle(t *testing.T) {
	t.Parallel()
	requireTool(t, "docker-registry")
	sr := withSeal(t, trustedRelease(t, registry.TrustedPublishing{}, true, ""))
	res := sr.run([]string{"seal", "--push"}, sr.runner()...)
	if res.code != 0 {
		t.Fatalf("seal --push: %s", res)
	}
	m := bundleRefRE.FindStringSubmatch(res.stdout)
	if m == nil {
		t.Fatalf("seal --push printed no reference: %s", res)
	}
	runner := sr.freshRunner()
	run := runner.run([]string{"run", "--bundle", m[1]}, append(sr.runner(), sr.identityVar())...)
	if run.code != 0 {
		t.Fatalf("run --bundle: %s", run)
	}
	ids, err := seal.ParseIdentity(sr.identity.String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := seal.Pull(t.Context(), m[1], ids, seal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := seal.ParseRef(m[1])
	journal, ok, err := seal.PullJournal(t.Context(), d, ids, seal.Options{})
	if err != nil || !ok {
		t.Fatalf("the journal beside the bundle: %v (found %v)", err, ok)
	}
	contents := [][]byte{b.Manifest, b.Git, b.Description, journal}
	for _, files := range []map[string][]byte{b.Crates, b.Lockfiles, b.Advisory} {
		for _, f := range files {
			contents = append(contents, f)
		}
	}
	secrets := sr.registry.TrustpubSecrets()
	if len(secrets) < 3 {
		t.Fatalf("%d Trusted Publishing secrets handed out; the test checks nothing", len(secrets))
	}
	for _, c := range contents {
		for _, s := range secrets {
			if bytes.Contains(c, []byte(s)) {
				t.Errorf("a Trusted Publishing secret is in the bundle or its journal")
			}
		}
	}
	runner.assertNoTrustpubSecret(res.stdout, res.stderr, run.stdout, run.stderr)
}
