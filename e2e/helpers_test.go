// Package e2e drives the built embargo binary against real git servers and
// generated worlds, as a user or a CI job would.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	core "github.com/async-rs/embargo/stages/release"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/internal/testenv"
	"github.com/async-rs/embargo/sandbox/demo"
	"github.com/async-rs/embargo/sandbox/gitserver"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/sandbox/world"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "embargo-e2e-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "embargo")
	build := exec.Command("go", "build", "-o", binary, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building embargo:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The token the test git server requires for pushes.
const (
	tokenEnv         = "EMBARGO_GIT_TOKEN"
	token            = "tok-7d3f0c1e9a5b4e21"
	registryTokenEnv = "EMBARGO_REGISTRY_TOKEN"
	registryToken    = "cio-reg-5b1d9e77c2a04f38"
)

// release is a generated world whose public repository is served over
// smart HTTP, with its config written for embargo; with a registry, its
// crates go to a sandbox registry standing in for crates.io.
type release struct {
	t        *testing.T
	dir      string
	config   string
	ex       *demo.Example
	server   *gitserver.Server
	registry *registry.Server
	// late: T0 had passed when the world was built, so nothing could have
	// prepared the release before it. Such a world stands for a release
	// whose embargo the operator knows is over: its runs and checks carry
	// --late, as the operator's would (without it a run after T0 that
	// nothing prepared is refused, and check is not ready; late_test.go
	// tests that rule).
	late bool
}

// newRelease builds the example world with T0 at t0, its public repository
// behind the token-protected smart-HTTP server and a sandbox registry as
// crates-io.
func newRelease(t *testing.T, t0 time.Time) *release {
	return buildRelease(t, t0, &registry.Options{}, nil)
}

// privateRegistry is the registry name of a release to an auth-required
// sandbox registry.
const privateRegistry = "company"

// newPublishRelease adds a token-protected sandbox registry as crates-io,
// or, with opts.AuthRequired, as the private registry "company".
func newPublishRelease(t *testing.T, t0 time.Time, opts registry.Options) *release {
	return buildRelease(t, t0, &opts, nil)
}

// buildRelease builds the example world; blog, when set, replaces the
// example's blog.
func buildRelease(t *testing.T, t0 time.Time, regOpts *registry.Options, blog *world.Blog) *release {
	t.Helper()
	return buildReleaseWith(t, t0, gitserver.Options{}, regOpts, func(o *demo.Options) { o.Blog = blog })
}

// buildReleaseWith builds the example world as edit shapes it, with the
// git server's options (its token is always the test's).
func buildReleaseWith(t *testing.T, t0 time.Time, gitOpts gitserver.Options, regOpts *registry.Options, edit func(*demo.Options)) *release {
	t.Helper()
	requireTool(t, "cargo")
	dir := t.TempDir()
	gitOpts.Token = token
	srv, err := gitserver.Start(dir, gitOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	rl := &release{t: t, dir: dir, server: srv, late: t0.Before(time.Now())}
	opts := demo.Options{T0: t0, TokenEnv: tokenEnv, Public: srv.RepoURL("public.git")}
	if edit != nil {
		edit(&opts)
	}
	if regOpts != nil {
		regOpts.Dir = filepath.Join(t.TempDir(), "registry")
		regOpts.Token = registryToken
		// A private registry (auth-required) and a Gitea owner's are
		// alternative registries to cargo, the company's own, as is one
		// edit names; any other stands in for crates.io.
		if (regOpts.AuthRequired || regOpts.Flavor == registry.FlavorGitea) && opts.RegistryName == "" {
			opts.RegistryName = privateRegistry
		}
		regOpts.CratesIO = opts.RegistryName == "" || opts.RegistryName == "crates-io"
		rl.registry, err = registry.Start("", *regOpts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rl.registry.Close() })
		opts.RegistryIndex, opts.RegistryTokenEnv = rl.registry.IndexURL(), registryTokenEnv
	}
	if opts.Blog == nil && opts.BlogURL == "" {
		// The example blog's deploy, instantly: a site that serves each
		// post pushed to the blog repository at its blog.url path.
		site := httptest.NewServer(deployedSite(filepath.Join(dir, "blog.git")))
		t.Cleanup(site.Close)
		opts.BlogURL = site.URL + "/blog/{{.Slug}}/"
	}
	rl.ex, err = demo.Build(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	rl.config = rl.ex.Config
	return rl
}

// requireTool skips without a tool, unless the end-to-end suite is required.
func requireTool(t *testing.T, name string) {
	t.Helper()
	testenv.NeedTool(t, name, "the end-to-end suite runs it")
}

type result struct {
	code           int
	stdout, stderr string
	killed         bool
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// run runs embargo with the release's config and the push token set.
func (rl *release) run(args []string, env ...string) result {
	rl.t.Helper()
	return execute(rl.t, rl.command(args, env...))
}

// execute runs an embargo command and reads its outcome: exit code, output,
// and whether a signal (a crash point's kill -9) ended it.
func execute(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.killed = true
		}
	default:
		t.Fatal(err)
	}
	return res
}

func (rl *release) command(args []string, env ...string) *exec.Cmd {
	full := append([]string{}, args...)
	if rl.late && len(args) > 0 && (args[0] == "run" || args[0] == "check") && !slices.Contains(args, "--late") {
		full = append(full, "--late")
	}
	full = append(full, "-c", rl.config)
	cmd := exec.CommandContext(context.Background(), binary, full...)
	cmd.Env = append(os.Environ(), tokenEnv+"="+token, registryTokenEnv+"="+registryToken)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// held is the held tip of a line in the source repository.
func (rl *release) held(branch string) plumbing.Hash {
	rl.t.Helper()
	return refHash(rl.t, rl.ex.World.Source, plumbing.NewBranchReferenceName(branch))
}

func refHash(t *testing.T, repoPath string, name plumbing.ReferenceName) plumbing.Hash {
	t.Helper()
	repo, err := git.PlainOpen(repoPath)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := repo.Reference(name, true)
	if err != nil {
		return plumbing.ZeroHash
	}
	return ref.Hash()
}

// publicRef reads a ref of the public repository, peeling annotated tags.
func (rl *release) publicRef(name string) (hash, commit plumbing.Hash, annotated bool) {
	rl.t.Helper()
	repo, err := git.PlainOpen(rl.ex.World.Public)
	if err != nil {
		rl.t.Fatal(err)
	}
	ref, err := repo.Reference(plumbing.ReferenceName(name), true)
	if err != nil {
		return plumbing.ZeroHash, plumbing.ZeroHash, false
	}
	if tag, err := repo.TagObject(ref.Hash()); err == nil {
		return ref.Hash(), tag.Target, true
	}
	return ref.Hash(), ref.Hash(), false
}

// assertReleased checks every line's branch and annotated tag are public
// at the held tips.
func (rl *release) assertReleased() {
	rl.t.Helper()
	for _, l := range rl.ex.World.Lines {
		want := rl.held(l.HeldBranch)
		if got, _, _ := rl.publicRef("refs/heads/" + l.PublicBranch); got != want {
			rl.t.Errorf("public %s = %s, want held tip %s", l.PublicBranch, got, want)
		}
		if _, got, annotated := rl.publicRef("refs/tags/" + l.Tag); got != want || !annotated {
			rl.t.Errorf("public tag %s -> %s (annotated %v), want annotated tag of %s", l.Tag, got, annotated, want)
		}
	}
}

// assertUnreleased checks nothing of the fix is public.
func (rl *release) assertUnreleased() {
	rl.t.Helper()
	for _, l := range rl.ex.World.Lines {
		if got, _, _ := rl.publicRef("refs/heads/" + l.PublicBranch); got == rl.held(l.HeldBranch) {
			rl.t.Errorf("public %s is at the held tip", l.PublicBranch)
		}
		if got, _, _ := rl.publicRef("refs/tags/" + l.Tag); !got.IsZero() {
			rl.t.Errorf("tag %s is public", l.Tag)
		}
	}
}

// pushes counts the receive-pack POSTs: actual push attempts.
func (rl *release) pushes() int { return len(rl.server.Pushes()) }

// assertNoSecret checks the token appears nowhere in the output or in any
// file under the state directory.
func (rl *release) assertNoSecret(outputs ...string) {
	rl.t.Helper()
	rl.assertAbsent([]string{token, registryToken}, outputs...)
}

// assertAbsent checks no secret appears in the outputs or in any file of
// the state directory.
func (rl *release) assertAbsent(secrets []string, outputs ...string) {
	rl.t.Helper()
	for _, o := range outputs {
		for _, tok := range secrets {
			if strings.Contains(o, tok) {
				rl.t.Errorf("a secret leaked into output:\n%s", o)
			}
		}
	}
	state := filepath.Join(rl.dir, ".embargo")
	filepath.Walk(state, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.Contains(p, "vault.git/objects") {
			return nil
		}
		if strings.Contains(p, "/target/") {
			return nil // build output of the crates
		}
		b, _ := os.ReadFile(p)
		for _, tok := range secrets {
			if bytes.Contains(b, []byte(tok)) {
				rl.t.Errorf("a secret leaked into %s", p)
			}
		}
		return nil
	})
}

// git runs the real git binary, for test set-ups that simulate other people
// (a colleague pushing, a leaked branch).
func gitCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// deployedSite serves /blog/<slug>/ from the middleman blog repository's
// master tip (source/blog/<date>-<slug>.html.md), as the blog's own deploy
// would once it has built the pushed post.
func deployedSite(repoPath string) http.Handler { return world.Site(repoPath, "master") }

// postURL is where the release's post is served: blog.url of its config,
// expanded.
func (rl *release) postURL() string {
	rl.t.Helper()
	cfg, err := config.Load(rl.config)
	if err != nil {
		rl.t.Fatal(err)
	}
	m, err := core.AdvisoryModel(cfg)
	if err != nil {
		rl.t.Fatal(err)
	}
	return m.URL
}
