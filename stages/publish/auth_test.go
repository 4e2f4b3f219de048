package publish

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// trustedRun is a run whose registry is a sandbox with Trusted
// Publishing; env is the job's environment.
func trustedRun(t *testing.T, env map[string]string) (*release.Run, *registry.Server, *pipeline.FakeClock, *bytes.Buffer) {
	t.Helper()
	srv, err := registry.Start("", registry.Options{Dir: t.TempDir(), TrustedPublishing: &registry.TrustedPublishing{JWTLifetime: 2 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if env == nil {
		env = map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": srv.OIDCURL(), "ACTIONS_ID_TOKEN_REQUEST_TOKEN": srv.OIDCRequestToken()}
	}
	cfg := &config.Config{Path: "embargo.toml", Registry: config.RegistrySection{Name: "crates-io", Index: srv.IndexURL(), TrustedPublishing: true}}
	clock := pipeline.NewFakeClock(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC))
	out := &bytes.Buffer{}
	secrets := pipeline.NewSecrets(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	j, err := pipeline.OpenJournal(filepath.Join(t.TempDir(), "journal.json"), releasetest.EmbargoOf(cfg), []string{"publish"}, secrets.Scrub)
	if err != nil {
		t.Fatal(err)
	}
	return &release.Run{
		Run: &pipeline.Run{Gate: &pipeline.Gate{T0: clock.Now(), Window: time.Hour, Clock: clock}, Journal: j,
			Out: pipeline.NewReporter(out, false, clock, secrets.Scrub), Secrets: secrets},
		Release: &release.Release{Config: cfg, Targets: release.Real(cfg, secrets)},
	}, srv, clock, out
}

func TestTrustedPublishingTokenIsExchangedAgainWhenTheNextUploadWouldOutlastIt(t *testing.T) {
	t.Parallel()
	r, srv, clock, out := trustedRun(t, nil)
	idx, err := release.OpenIndex(r.Targets.Registry, release.Clock(r.Gate))
	if err != nil {
		t.Fatal(err)
	}
	a := newPublishAuth(r, idx)
	ctx := context.Background()
	first, err := a.token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := a.token(ctx); again != first {
		t.Error("a second upload a moment later got a new token: every upload would spend a JWT")
	}
	// A rate limit's wait: 26 minutes later less than the margin is left.
	clock.Advance(26 * time.Minute)
	renewed, err := a.token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if renewed == first {
		t.Error("26 minutes into a 30-minute token the next upload still got it")
	}
	a.close()
	if _, exchanged, revoked, live := srv.TrustpubCounts(); exchanged != 2 || revoked != 2 || live != 0 {
		t.Errorf("%d exchanged, %d revoked, %d live; want both revoked at the end", exchanged, revoked, live)
	}
	for _, s := range srv.TrustpubSecrets() {
		if strings.Contains(out.String(), s) {
			t.Errorf("a secret of Trusted Publishing is in the output:\n%s", out)
		}
	}
	if !strings.Contains(out.String(), "2 publish token(s) revoked") {
		t.Errorf("the revocation is not reported:\n%s", out)
	}
}

// GitLab gives a job one ID token, and the registry takes it once: the
// token it was exchanged for serves to its end, then the run says a new
// job is needed, quoting neither.
func TestTrustedPublishingWithOneIDTokenSaysANewJobIsNeededOnceItsTokenRanOut(t *testing.T) {
	t.Parallel()
	env := map[string]string{}
	r, srv, clock, out := trustedRun(t, env)
	jwt, err := srv.IssueJWT("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	env["CRATES_IO_ID_TOKEN"] = jwt
	r.Config.Registry.IDTokenEnv = "CRATES_IO_ID_TOKEN"
	idx, _ := release.OpenIndex(r.Targets.Registry, release.Clock(r.Gate))
	a := newPublishAuth(r, idx)
	ctx := context.Background()
	first, err := a.token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(27 * time.Minute)
	if tok, err := a.token(ctx); err != nil || tok != first {
		t.Errorf("with 3 minutes left and no other to be had: %v, same token %v", err, tok == first)
	}
	clock.Advance(4 * time.Minute)
	_, err = a.token(ctx)
	if err == nil || !strings.Contains(err.Error(), "new job") {
		t.Fatalf("after the token ran out: %v", err)
	}
	if msg := r.Secrets.Scrub(err.Error()); strings.Contains(err.Error(), jwt) || strings.Contains(err.Error(), first) || msg != err.Error() {
		t.Errorf("the error quotes a secret: %v", err)
	}
	if a.refused(first) {
		t.Error("a refused token reported replaceable with no other OIDC token to be had")
	}
	a.close()
	if strings.Contains(out.String(), jwt) || strings.Contains(out.String(), first) {
		t.Errorf("a secret is in the output:\n%s", out)
	}
}

func TestUploadsTakeTurnsOnlyOnceLimitedAndThenEarliestLineFirst(t *testing.T) {
	t.Parallel()
	clock := pipeline.NewFakeClock(releasetest.T0)
	u := &uploadTurns{clock: clock}
	ctx := context.Background()
	// Unlimited, every upload goes at once.
	for _, tn := range []turn{{1, 0}, {0, 0}} {
		release, err := u.acquire(ctx, tn)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
	}
	// Limited until a second from now, three uploads wait for that
	// instant, then go one at a time, the earliest line's first.
	u.limit(clock.Now().Add(time.Second))
	got, failed := make(chan turn, 3), make(chan error, 3)
	for _, tn := range []turn{{1, 0}, {0, 1}, {0, 0}} {
		go func() {
			release, err := u.acquire(ctx, tn)
			if err != nil {
				failed <- err
				return
			}
			got <- tn
			release()
		}()
	}
	if err := clock.AwaitWaiters(3, failed, 10*time.Second); err != nil {
		t.Fatalf("the uploads did not all wait for the limit's end: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("an upload took its turn before the limit's end: %v", <-got)
	}
	clock.Advance(time.Second)
	var order []turn
	for range 3 {
		order = append(order, <-got)
	}
	if want := []turn{{0, 0}, {0, 1}, {1, 0}}; order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
		t.Errorf("turns taken %v, want %v: the first line completes first", order, want)
	}
}
