package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/sandbox/demo"
	"github.com/async-rs/embargo/sandbox/github"
	"github.com/async-rs/embargo/sandbox/gitserver"
	"github.com/async-rs/embargo/sandbox/registry"
)

// What a release has of the world outside its registry: the public
// repository, the blog and the GitHub advisory.
type publicTargets struct {
	rl   *release
	gh   *github.Server
	blog plumbing.Hash // the blog's tip before the release
}

// tokenRelease is the example with a draft GitHub advisory, its crates
// going to a sandbox registry that answers credentials as flavor's does.
func tokenRelease(t *testing.T, t0 time.Time, flavor registry.Flavor) *publicTargets {
	t.Helper()
	gh, err := github.Start("", github.Options{Token: ghsaToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gh.Close() })
	if err := gh.AddDraft(demo.GHSARepo, demo.Draft()); err != nil {
		t.Fatal(err)
	}
	rl := buildReleaseWith(t, t0, gitserver.Options{}, &registry.Options{Flavor: flavor}, func(o *demo.Options) {
		o.GHSA = &demo.GHSA{API: gh.URL, TokenEnv: ghsaTokenEnv}
	})
	p := &publicTargets{rl: rl, gh: gh}
	p.blog = p.blogTip()
	return p
}

func (p *publicTargets) blogTip() plumbing.Hash {
	return refHash(p.rl.t, filepath.Join(p.rl.dir, "blog.git"), plumbing.NewBranchReferenceName("master"))
}

// assertUntouched checks that nothing of the release went public: no push
// reached the public repository, the blog is as it was, GitHub saw no
// write, and the registry stored no version.
func (p *publicTargets) assertUntouched() {
	t := p.rl.t
	t.Helper()
	if n := p.rl.pushes(); n != 0 {
		t.Errorf("%d push(es) reached the public repository", n)
	}
	p.rl.assertUnreleased()
	if tip := p.blogTip(); tip != p.blog {
		t.Errorf("the blog moved from %s to %s", p.blog, tip)
	}
	for _, q := range p.gh.Requests() {
		if q.Method != http.MethodGet && q.Method != http.MethodHead { // reads, and the gate's look at its clock
			t.Errorf("GitHub received %s %s", q.Method, q.Path)
		}
	}
	for _, nv := range p.rl.versions() {
		name, version, _ := strings.Cut(nv, "@")
		if n := p.rl.registry.Uploads(name, version); n != 0 {
			t.Errorf("%s was stored by the registry", nv)
		}
	}
}

// assertReleasedEverywhere checks every target holds the release.
func (p *publicTargets) assertReleasedEverywhere() {
	t := p.rl.t
	t.Helper()
	p.rl.assertReleased()
	p.rl.assertPublishedOnce()
	if p.blogTip() == p.blog {
		t.Error("the post is not on the blog")
	}
	if a, _ := p.gh.Advisory(demo.GHSARepo, demo.GHSAID); a.State != "published" {
		t.Errorf("the GitHub advisory is %s", a.State)
	}
}

// wantSaid fails unless out says every one of words.
func wantSaid(t *testing.T, what string, res result, words ...string) {
	t.Helper()
	for _, w := range words {
		if !strings.Contains(res.stdout+res.stderr, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, res)
		}
	}
}

// crates.io: no request proves a publish token without spending the
// account's rate limit, so check says the token cannot be proven and is
// ready. At T0 the registry refuses the first upload (403 authentication
// failed): the run fails naming registry.token_env, with nothing public
// anywhere, and once the token is fixed the re-run the hint names
// releases everything.
func TestARegistryTokenRefusedAtT0LeavesEveryPublicTargetUntouched(t *testing.T) {
	t0 := time.Now().Add(12 * time.Second).Truncate(time.Second)
	p := tokenRelease(t, t0, registry.FlavorCratesIO)
	rl := p.rl
	const unknown = "cio-reg-00000000000000ff" // crates.io's form, a token it does not know
	wrong, gh := registryTokenEnv+"="+unknown, ghsaTokenEnv+"="+ghsaToken

	check := rl.run([]string{"check"}, wrong, gh)
	if check.code != 0 {
		t.Fatalf("check with a token the registry will refuse, which nothing can prove before T0: %s", check)
	}
	wantSaid(t, "check", check, "registry token: cannot be proven before T0 on this registry")

	res := rl.run([]string{"run"}, wrong, gh)
	if res.code != 1 {
		t.Fatalf("run with a refused registry token: %s", res)
	}
	wantSaid(t, "the run", res, "registry.token_env", registryTokenEnv, "403 Forbidden: authentication failed",
		"push: nothing pushed: the registry refused the first upload", "next: set "+registryTokenEnv+" (registry.token_env in "+rl.config+")", "--from push`")
	p.assertUntouched()
	if n := len(p.rl.registry.Requests()); n == 0 {
		t.Fatal("the registry was never asked")
	}
	for _, nv := range rl.versions() {
		if name, version, _ := strings.Cut(nv, "@"); rl.registry.PublishAttempts(name, version) > 1 {
			t.Errorf("%s was tried %d times with a refused token", nv, rl.registry.PublishAttempts(name, version))
		}
	}
	rl.assertAbsent([]string{unknown, registryToken, ghsaToken}, check.stdout, check.stderr, res.stdout, res.stderr)

	again := rl.run([]string{"run", "--from", "push"}, gh) // the right token
	if again.code != 0 {
		t.Fatalf("re-run with the token fixed: %s", again)
	}
	p.assertReleasedEverywhere()
}

// Gitea wants `Bearer <token>`: check refuses the token written without
// it, before asking anything, and proves it once written so. A run at T0
// given the bare token (its preflight run earlier, with the right one) is
// refused at the first upload: nothing public, the error saying Gitea
// wants `Bearer <token>`; the re-run with the right token releases
// everything.
func TestABareTokenOnGiteaIsFoundByCheckAndRefusedAtT0WithNothingPublic(t *testing.T) {
	t0 := time.Now().Add(12 * time.Second).Truncate(time.Second)
	p := tokenRelease(t, t0, registry.FlavorGitea)
	rl := p.rl
	bearer, gh := registryTokenEnv+"=Bearer "+registryToken, ghsaTokenEnv+"="+ghsaToken

	bare := rl.run([]string{"check"}, gh) // the token alone, as the release's environment has it
	if bare.code != 1 {
		t.Fatalf("check with the token written without Bearer: %s", bare)
	}
	wantSaid(t, "check", bare, "registry.token_env", registryTokenEnv, "Gitea wants `Bearer <token>`")

	ready := rl.run([]string{"run", "--only", "preflight"}, bearer, gh)
	if ready.code != 0 {
		t.Fatalf("preflight with the token written `Bearer <token>`: %s", ready)
	}
	wantSaid(t, "preflight", ready, "registry token: proven: Gitea lets it write "+registry.GiteaOwner+"'s packages")

	res := rl.run([]string{"run", "--from", "gate"}, gh) // at T0, the bare token
	if res.code != 1 {
		t.Fatalf("run at T0 with the bare token: %s", res)
	}
	wantSaid(t, "the run", res, "registry.token_env", "401 Unauthorized: Failed to authenticate user", "Gitea wants `Bearer <token>`",
		"push: nothing pushed: the registry refused the first upload", "next: set "+registryTokenEnv+" to `Bearer ` followed by the Gitea access token")
	p.assertUntouched()
	rl.assertAbsent([]string{registryToken, ghsaToken}, bare.stdout, bare.stderr, ready.stdout, ready.stderr, res.stdout, res.stderr)

	again := rl.run([]string{"run", "--from", "push"}, bearer, gh)
	if again.code != 0 {
		t.Fatalf("re-run with the token fixed: %s", again)
	}
	p.assertReleasedEverywhere()
}
