package stages

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/stages/gate"
	"github.com/async-rs/embargo/stages/publish"
	"github.com/async-rs/embargo/stages/push"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// What cargo 1.95 prints when a Gitea registry refuses the upload of a
// token written without `Bearer `.
const giteaRefusal = "error: failed to publish demo-core v1.13.1 to registry at https://git.example.org/api/packages/demo/cargo\n\nCaused by:\n  failed to get a 200 OK response, got 401\n  headers:\n  \tHTTP/1.1 401 Unauthorized\n  \tContent-Type: text/plain; charset=utf-8\n  \t\n  body:\n  Failed to authenticate user\n"

// releaseWorld is the two-line release of the publish tests, to a Gitea
// registry, with the fake git world's public repository: push and
// publish in one run, as at T0.
type releaseWorld struct {
	*releasetest.PublishWorld
	git *releasetest.Git
}

func newReleaseWorld(t *testing.T) *releaseWorld {
	t.Helper()
	w := releasetest.NewPublishWorld(t)
	cfg := w.R.Config
	cfg.Source.Public = "https://git.example.org/demo/demo.git"
	cfg.Registry.Index = "sparse+https://git.example.org/api/packages/demo/cargo/"
	git := releasetest.NewGit(w.Clock)
	for i := range cfg.Releases {
		cfg.Releases[i].PublicBranch = []string{"main", "release-1.12"}[i]
		git.Line(cfg.Releases[i], []string{"1.13.0", "1.12.4"}[i])
	}
	releasetest.Retarget(w.R)
	w.Clients.PushVault = git.Opener()
	return &releaseWorld{PublishWorld: w, git: git}
}

// publishStage is the publish stage given w's index and cargo.
func publishStage(w *releasetest.PublishWorld) publish.Stage {
	return publish.Stage{Vault: w.Clients.Vault, Index: w.Clients.Index, Cargo: w.Clients.Cargo}
}

// release runs the gate, push and publish, as `embargo run` does once
// preflight is done, started an hour before T0 and driven to it.
func (w *releaseWorld) release(t *testing.T) error {
	t.Helper()
	ended := make(chan error, 1)
	go func() {
		ended <- releasetest.Execute(t, w.R, pipeline.Selection{From: release.Gate}, releasetest.Prepared, gate.Stage{}, push.Stage{Vault: w.Clients.PushVault}, publishStage(w.PublishWorld))
	}()
	releasetest.AwaitWaiters(t, w.Clock, 3, ended) // the gate; push and publish, to prepare close to T0
	w.Clock.Set(releasetest.T0.Add(10 * time.Millisecond))
	return <-ended
}

// At T0 the registry refuses the first upload's token (Gitea, a token
// written without `Bearer `): the push never sends a byte, the line
// uploads nothing after the refusal, and the run fails at push with the
// fix for registry.token_env. Once the token is fixed, a re-run releases
// everything.
func TestARefusedFirstUploadAtT0LeavesThePushUnsent(t *testing.T) {
	t.Parallel()
	w := newReleaseWorld(t)
	before := w.git.PublicRefs()
	w.Cargo.Refusing = giteaRefusal

	err := w.release(t)
	if p := w.git.Landed(); len(p) != 0 {
		t.Fatalf("%d push(es) after the registry refused the first upload: %+v", len(p), p)
	}
	if !maps.Equal(w.git.PublicRefs(), before) {
		t.Errorf("the public repository changed: %v, was %v", w.git.PublicRefs(), before)
	}
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != "push" {
		t.Fatalf("run: %v, want push failed", err)
	}
	for _, want := range []string{"nothing pushed", "401 Unauthorized: Failed to authenticate user", releasetest.PublishTokenEnv + " (registry.token_env in embargo.toml)", "Gitea wants `Bearer <token>`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the run's error does not say %q:\n%v", want, err)
		}
	}
	if !releasetest.Mentions(se.Fix, releasetest.PublishTokenEnv, "registry.token_env", "Bearer") {
		t.Errorf("the fix is %q, want it to say how to write %s (registry.token_env)", se.Fix, releasetest.PublishTokenEnv)
	}
	if n := w.Cargo.Refused; n < 1 || n > len(w.R.Config.Releases) {
		t.Errorf("%d upload(s) refused, want each line's first at most: none after a refusal", n)
	}
	if strings.Contains(err.Error(), releasetest.PublishToken) {
		t.Errorf("the token is in the error: %v", err)
	}

	// The token fixed, the re-run waits for the registry again, and
	// releases everything: one push, every version once.
	w.Cargo.Refusing = ""
	w.Clock.Advance(time.Minute)
	if err := releasetest.Execute(t, w.R, pipeline.Selection{From: "push"}, releasetest.Prepared, gate.Stage{}, push.Stage{Vault: w.Clients.PushVault}, publishStage(w.PublishWorld)); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if p := w.git.Landed(); len(p) != 1 {
		t.Fatalf("%d pushes after the re-run, want one", len(p))
	}
	if got, want := w.Cargo.Versions(), []string{"demo-core@1.13.1", "demo@1.12.5", "demo@1.13.1"}; !slices.Equal(got, want) {
		t.Errorf("uploaded %q, want %q", got, want)
	}
	if res, _ := pipeline.Load(w.R.Journal, push.RefsPushedKey); len(res.Pushed) != 4 {
		t.Errorf("the re-run's push: %+v", res)
	}
}

// A version of the release already on the registry (an earlier run's
// upload, which the registry took) settles the registry's answer: the
// push goes without waiting for another upload, even one refused.
func TestAReleaseAlreadyOnTheRegistryDoesNotHoldThePushBack(t *testing.T) {
	t.Parallel()
	w := newReleaseWorld(t)
	w.Idx.Put("demo-core@1.13.1", releasetest.SealedBytes("demo-core@1.13.1"), false)
	w.Idx.Put("demo@1.12.5", releasetest.SealedBytes("demo@1.12.5"), false)
	w.Cargo.Refusing = giteaRefusal // the token went bad since
	err := w.release(t)
	if p := w.git.Landed(); len(p) != 1 {
		t.Fatalf("%d pushes, want the one: the registry holds the release's first versions already", len(p))
	}
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != "publish" || !strings.Contains(err.Error(), "demo@1.13.1: not uploaded") {
		t.Errorf("run: %v, want publish failed on the one version left", err)
	}
}

// crates.io's refusal of a token it does not take, as cargo 1.95 says it.
const cratesIORefusal = "error: failed to publish demo-core v1.13.1 to registry at https://crates.io\n\nCaused by:\n  the remote server responded with an error (status 403 Forbidden): authentication failed\n"

// trustedRelease is the release with Trusted Publishing from a GitHub
// Actions job: its publish tokens exchanged at a sandbox registry's
// endpoint, for the fake cargo's uploads.
func trustedRelease(t *testing.T) (*releaseWorld, *registry.Server) {
	t.Helper()
	srv, err := registry.Start("", registry.Options{Dir: t.TempDir(), TrustedPublishing: &registry.TrustedPublishing{JWTLifetime: 2 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	w := newReleaseWorld(t)
	w.R.Config.Registry = config.RegistrySection{Name: "crates-io", Index: "sparse+https://index.crates.io/", TrustedPublishing: true}
	w.Idx.API = srv.URL
	env := map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": srv.OIDCURL(), "ACTIONS_ID_TOKEN_REQUEST_TOKEN": srv.OIDCRequestToken()}
	w.R.Secrets = pipeline.NewSecrets(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	releasetest.Retarget(w.R)
	return w, srv
}

// A Trusted Publishing token the registry refuses once (it ran out sooner
// than its 30 minutes) is exchanged again, and the upload with the new one
// is the answer the push waits for: only a final refusal holds it back.
func TestATrustedPublishingTokenRefusedThenExchangedAgainLetsThePushGo(t *testing.T) {
	t.Parallel()
	w, srv := trustedRelease(t)
	w.Cargo.Refusing, w.Cargo.Refusals = cratesIORefusal, 1
	if err := w.release(t); err != nil {
		t.Fatalf("run: %v", err)
	}
	if p := w.git.Landed(); len(p) != 1 {
		t.Fatalf("%d pushes, want the one", len(p))
	}
	if got, want := w.Cargo.Versions(), []string{"demo-core@1.13.1", "demo@1.12.5", "demo@1.13.1"}; !slices.Equal(got, want) {
		t.Errorf("uploaded %q, want %q", got, want)
	}
	if _, exchanged, _, _ := srv.TrustpubCounts(); exchanged != 2 {
		t.Errorf("%d exchanges, want 2: one refused, one taken", exchanged)
	}
}

// A registry that refuses every Trusted Publishing token, however often
// exchanged: nothing pushed, and the fix is the trusted publisher's.
func TestATrustedPublishingTokenRefusedForGoodLeavesThePushUnsent(t *testing.T) {
	t.Parallel()
	w, _ := trustedRelease(t)
	w.Cargo.Refusing = cratesIORefusal
	err := w.release(t)
	if p := w.git.Landed(); len(p) != 0 {
		t.Fatalf("%d push(es) after the registry refused every publish token", len(p))
	}
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != "push" || !releasetest.Mentions(err.Error(), "nothing pushed", "refused the Trusted Publishing token (403 Forbidden: authentication failed)") || !strings.Contains(se.Fix, "trusted publisher") {
		t.Fatalf("run: %v (fix %q), want push failed, nothing pushed, the fix the trusted publisher's", err, se.Fix)
	}
	if len(w.Cargo.Uploaded()) != 0 {
		t.Errorf("uploads stored: %+v", w.Cargo.Uploaded())
	}
}
