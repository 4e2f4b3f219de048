package e2e

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/sandbox/demo"
	"github.com/async-rs/embargo/sandbox/github"
	"github.com/async-rs/embargo/sandbox/gitserver"
	"github.com/async-rs/embargo/sandbox/registry"
)

const (
	ghsaTokenEnv = "EMBARGO_GHSA_TOKEN"
	ghsaToken    = "ghp_e2eGitHubTokenNeverShown7351"
)

// newGHSARelease is the example with a draft GitHub advisory in a sandbox
// GitHub API that wants ghsaToken.
func newGHSARelease(t *testing.T, t0 time.Time) (*release, *github.Server) {
	t.Helper()
	gh, err := github.Start("", github.Options{Token: ghsaToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gh.Close() })
	if err := gh.AddDraft(demo.GHSARepo, demo.Draft()); err != nil {
		t.Fatal(err)
	}
	rl := buildReleaseWith(t, t0, gitserver.Options{}, &registry.Options{}, func(o *demo.Options) {
		o.GHSA = &demo.GHSA{API: gh.URL, TokenEnv: ghsaTokenEnv}
	})
	return rl, gh
}

func TestRunPublishesTheGHSAAfterPublishAndVerifyReadsItBack(t *testing.T) {
	t0 := time.Now().Add(6 * time.Second).Truncate(time.Second)
	rl, gh := newGHSARelease(t, t0)
	res := rl.run([]string{"run"}, ghsaTokenEnv+"="+ghsaToken)
	if res.code != 0 {
		t.Fatal(res)
	}
	a, _ := gh.Advisory(demo.GHSARepo, demo.GHSAID)
	if a.State != "published" {
		t.Fatalf("the advisory is %s after the run:\n%s", a.State, res)
	}
	patched := map[string]bool{}
	for _, v := range a.Vulnerabilities {
		patched[*v.PatchedVersions] = true
	}
	for _, l := range rl.ex.World.Lines {
		if !patched[l.FixVersion] {
			t.Errorf("no vulnerability of the advisory is patched by line %s's %s: %+v", l.Line, l.FixVersion, a.Vulnerabilities)
		}
	}
	if len(a.Vulnerabilities) != len(rl.ex.World.Lines) {
		t.Errorf("%d vulnerabilities, want one per line (%d)", len(a.Vulnerabilities), len(rl.ex.World.Lines))
	}

	// The one PATCH came at or after T0 and after every crate was on
	// the registry: the advisory names versions that exist.
	var lastUpload time.Time
	for _, r := range rl.registry.Requests() {
		if r.Method == http.MethodPut && r.Status == http.StatusOK && r.Time.After(lastUpload) {
			lastUpload = r.Time
		}
	}
	var patches []github.Request
	for _, r := range gh.Requests() {
		if r.Method == http.MethodPatch {
			patches = append(patches, r)
		}
	}
	if len(patches) != 1 {
		t.Fatalf("%d PATCHes, want one", len(patches))
	}
	if p := patches[0]; p.Time.Before(t0) || p.Time.Before(lastUpload) {
		t.Errorf("the PATCH came at %s: before T0 %s or before the last upload %s", p.Time, t0, lastUpload)
	}
	if !strings.Contains(res.stdout, "published "+demo.GHSAID) {
		t.Errorf("the run does not say it published the advisory:\n%s", res.stdout)
	}
	if got := rl.stepResults("verify", "ghsa")["ghsa"]["state"]; got != "published" {
		t.Errorf("verify read the advisory as %q, want published", got)
	}
	rl.assertAbsent([]string{token, registryToken, ghsaToken}, res.stdout, res.stderr)

	// A re-run of the stage finds it published as the release says.
	again := rl.run([]string{"run", "--from", "ghsa"}, ghsaTokenEnv+"="+ghsaToken)
	if again.code != 0 {
		t.Fatal(again)
	}
	if n := gh.Patches(); n != 1 {
		t.Errorf("%d PATCHes after the re-run, want still one", n)
	}
	rl.assertAbsent([]string{ghsaToken}, again.stdout, again.stderr)
}

// Without the token, check names the variable and the key, and nothing is
// asked of GitHub with a token it does not have.
func TestCheckWithoutTheGHSATokenNamesTheKey(t *testing.T) {
	t.Parallel()
	rl, _ := newGHSARelease(t, time.Now().Add(time.Hour))
	res := rl.run([]string{"check"})
	if res.code != 1 || !strings.Contains(res.stdout+res.stderr, "ghsa.token_env") || !strings.Contains(res.stdout+res.stderr, ghsaTokenEnv) {
		t.Fatalf("check without %s: want exit 1 naming ghsa.token_env and the variable:\n%s", ghsaTokenEnv, res)
	}
}

// A rehearsal publishes a sandbox copy of the draft: the configured GitHub
// API is never called, not even read, and no GitHub token is needed.
func TestRehearseWithAGHSANeverCallsGitHub(t *testing.T) {
	t.Parallel()
	rl, gh := newGHSARelease(t, time.Now().Add(24*time.Hour))
	cmd := rl.command([]string{"rehearse"})
	var env []string
	for _, kv := range cmd.Env {
		if !strings.HasPrefix(kv, ghsaTokenEnv+"=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	res := execute(t, cmd)
	if res.code != 0 {
		t.Fatal(res)
	}
	if !strings.Contains(res.stdout, "github    "+demo.GHSAID+" published, 2 vulnerable range(s)") {
		t.Errorf("the rehearsal report does not show the advisory published in its sandbox:\n%s", res.stdout)
	}
	if reqs := gh.Requests(); len(reqs) != 0 {
		t.Errorf("the rehearsal called the configured GitHub API %d time(s), first %s %s", len(reqs), reqs[0].Method, reqs[0].Path)
	}
	if a, _ := gh.Advisory(demo.GHSARepo, demo.GHSAID); a.State != "draft" {
		t.Errorf("the real draft is %s after a rehearsal", a.State)
	}
	if _, err := os.Stat(rl.dir + "/.embargo/journal.json"); err == nil {
		t.Error("the rehearsal wrote the real journal")
	}
}
