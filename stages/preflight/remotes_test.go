package preflight

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/gitserver"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

const (
	pushToken = "push-token-51c0e7"
	readToken = "read-token-9b2d44"
	gitEnv    = "EMBARGO_GIT_TOKEN"
	blogEnv   = "EMBARGO_BLOG_TOKEN"
)

// gitWorld is a forge holding the public repository and the blog's, each
// pushed to with pushToken, and a config that names them.
type gitWorld struct {
	srv *gitserver.Server
	cfg *config.Config
	dir string
}

func newGitWorld(t *testing.T, forge gitserver.Forge) *gitWorld {
	t.Helper()
	root := t.TempDir()
	for _, name := range []string{"public.git", "blog.git"} {
		bareWithACommit(t, filepath.Join(root, name))
	}
	srv, err := gitserver.Start(root, gitserver.Options{Token: pushToken, ReadOnlyToken: readToken, Forge: forge})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	source := t.TempDir()
	if _, err := git.PlainInit(source, false); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		Path:     "embargo.toml",
		Dir:      t.TempDir(),
		Embargo:  config.EmbargoSection{ID: "DEMO-SA-2026-001", At: releasetest.T0},
		Source:   config.SourceSection{Repo: source, Public: srv.RepoURL("public.git"), TokenEnv: gitEnv},
		Registry: config.RegistrySection{Name: "crates-io"},
		Blog:     &config.BlogSection{Repo: srv.RepoURL("blog.git"), Branch: "master", TokenEnv: blogEnv},
	}
	return &gitWorld{srv: srv, cfg: cfg, dir: root}
}

// bareWithACommit makes a bare repository at dir whose master holds one
// commit.
func bareWithACommit(t *testing.T, dir string) {
	t.Helper()
	work := t.TempDir()
	repo, err := git.PlainInit(work, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "README.md"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add("README.md"); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Jane Doe", Email: "jane@example.org", When: releasetest.T0.Add(-48 * time.Hour)}
	if _, err := wt.Commit("Start", &git.CommitOptions{Author: sig, Committer: sig}); err != nil {
		t.Fatal(err)
	}
	if _, err := git.PlainClone(dir, true, &git.CloneOptions{URL: work}); err != nil {
		t.Fatal(err)
	}
}

// check runs preflight's fetch of the public repository and its
// credentials step, with the variables env, before T0; it returns the
// findings and the credentials step's summary.
func (w *gitWorld) check(t *testing.T, env map[string]string, rehearsal bool) ([]pipeline.Finding, string) {
	t.Helper()
	r, _, out := releasetest.Run(t, w.cfg, releasetest.T0.Add(-24*time.Hour), env)
	if rehearsal {
		releasetest.Rehearse(r, release.Sandbox{Public: w.cfg.Source.Public, Blog: w.cfg.Blog.Repo})
	}
	stage := Stage{Index: release.RealClients().Index}
	v, err := release.RealClients().Vault(filepath.Join(r.StateDir, "vault.git"))
	if err != nil {
		t.Fatal(err)
	}
	var c *checking
	check := releasetest.Stage{Fn: func(r *release.Run) error {
		c = &checking{Stage: stage, r: r, cfg: w.cfg, v: v, missingBranch: map[string]bool{}, problemLines: map[string]bool{}, unread: map[string]bool{}}
		return release.RunSteps(context.Background(), c.fetch, c.credentials)
	}}
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "preflight"}, check); err != nil {
		t.Fatalf("preflight: %v\n%s", err, out)
	}
	said, _ := pipeline.Load(r.Journal, credentialsKey)
	for _, f := range c.findings {
		if strings.Contains(f.String(), pushToken) || strings.Contains(f.String(), readToken) || strings.Contains(f.String(), "wrong-token") {
			t.Errorf("a finding shows a token: %s", f)
		}
	}
	if strings.Contains(string(said), pushToken) || strings.Contains(out.String(), pushToken) {
		t.Errorf("the output shows the token: %s\n%s", said, out)
	}
	if n := len(w.srv.Pushes()); n != 0 {
		t.Errorf("check sent %d pushes", n)
	}
	return c.findings, string(said)
}

// Before T0, check proves the push credential of the public repository
// and of the blog's as the forge will judge the push at T0, and names the
// key and the variable of each it refuses, and the URL's key of a
// repository that is not there.
func TestCheckProvesTheGitPushCredentials(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		forge gitserver.Forge
		edit  func(w *gitWorld)
		env   map[string]string
		// want is a finding (subject, then words of its message and its
		// fix); said is words of the summary. No want: no finding.
		want []string
		said []string
	}{
		{name: "both tokens may push", env: map[string]string{gitEnv: pushToken, blogEnv: pushToken},
			said: []string{"source.token_env: EMBARGO_GIT_TOKEN may push to http://", "/public.git", "blog.token_env: EMBARGO_BLOG_TOKEN may push to http://", "/blog.git"}},
		{name: "a wrong git token", env: map[string]string{gitEnv: "wrong-token", blogEnv: pushToken},
			want: []string{"source.token_env", "EMBARGO_GIT_TOKEN was refused by http://", "/public.git (401 Invalid username or token.", "a valid token with push (write) rights"}},
		{name: "a read-only git token", env: map[string]string{gitEnv: readToken, blogEnv: pushToken},
			want: []string{"source.token_env", "EMBARGO_GIT_TOKEN may not push to http://", "(403 Permission to public.git denied to sandbox-reader.)", "push (write) rights"}},
		{name: "a wrong blog token", env: map[string]string{gitEnv: pushToken, blogEnv: "wrong-token"},
			want: []string{"blog.token_env", "EMBARGO_BLOG_TOKEN was refused by http://", "/blog.git (401"}},
		{name: "no git token where the forge wants one", edit: func(w *gitWorld) { w.cfg.Source.TokenEnv = "" }, env: map[string]string{blogEnv: pushToken},
			want: []string{"source.token_env", "missing: http://", "/public.git refuses a push without a credential (401)", "set source.token_env in embargo.toml"}},
		{name: "an unknown blog repository", edit: func(w *gitWorld) { w.cfg.Blog.Repo = w.srv.RepoURL("nowhere.git") }, env: map[string]string{gitEnv: pushToken, blogEnv: pushToken},
			want: []string{"blog.repo", "/nowhere.git does not exist, or the token in EMBARGO_BLOG_TOKEN may not see it (404 Repository not found.)", "check blog.repo in embargo.toml"}},
		{name: "an unknown public repository", edit: func(w *gitWorld) { w.cfg.Source.Public = w.srv.RepoURL("nowhere.git") }, env: map[string]string{gitEnv: pushToken, blogEnv: pushToken},
			want: []string{"source.public", "/nowhere.git does not exist or cannot be read (404 Repository not found.)", "check source.public in embargo.toml"}},
		{name: "Gitea: a read-only git token", forge: gitserver.Gitea, env: map[string]string{gitEnv: readToken, blogEnv: pushToken},
			want: []string{"source.token_env", "EMBARGO_GIT_TOKEN may not push to http://", "(403 Forbidden)", "write:repository"}},
		{name: "Gitea: a wrong git token", forge: gitserver.Gitea, env: map[string]string{gitEnv: "wrong-token", blogEnv: pushToken},
			want: []string{"source.token_env", "EMBARGO_GIT_TOKEN was refused by http://", "(401 Failed to authenticate user)"}},
		{name: "Gitea: an unknown public repository", forge: gitserver.Gitea, edit: func(w *gitWorld) { w.cfg.Source.Public = w.srv.RepoURL("nowhere.git") }, env: map[string]string{gitEnv: pushToken, blogEnv: pushToken},
			want: []string{"source.public", "/nowhere.git does not exist or cannot be read without a credential (401 Unauthorized)"}},
		{name: "a public repository at a missing local path", edit: func(w *gitWorld) { w.cfg.Source.Public = filepath.Join(w.dir, "nowhere.git") }, env: map[string]string{gitEnv: pushToken, blogEnv: pushToken},
			want: []string{"source.public", "/nowhere.git does not exist or cannot be read (404)"}},
		{name: "a host that refuses", edit: func(w *gitWorld) { w.cfg.Source.Public = "http://127.0.0.1:1/public.git" }, env: map[string]string{gitEnv: pushToken, blogEnv: pushToken},
			want: []string{"source.public", "http://127.0.0.1:1/public.git cannot be read: ", "connection refused", "check source.public in embargo.toml, and that its host answers from here"}},
		{name: "a local public repository takes no credential", edit: func(w *gitWorld) { w.cfg.Source.Public, w.cfg.Source.TokenEnv = filepath.Join(w.dir, "public.git"), "" },
			env: map[string]string{blogEnv: pushToken}, said: []string{"blog.token_env: EMBARGO_BLOG_TOKEN may push to"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newGitWorld(t, tc.forge)
			if tc.edit != nil {
				tc.edit(w)
			}
			findings, said := w.check(t, tc.env, false)
			switch {
			case tc.want == nil && len(findings) > 0:
				t.Errorf("findings %q, want none", findings)
			case tc.want != nil && len(findings) != 1:
				t.Errorf("findings %q, want one about %s", findings, tc.want[0])
			case tc.want != nil:
				f := findings[0]
				if f.Subject != tc.want[0] {
					t.Errorf("finding about %q, want %q: %s", f.Subject, tc.want[0], f)
				}
				for _, w := range tc.want[1:] {
					if !strings.Contains(f.Msg+"\n"+f.Fix, w) {
						t.Errorf("finding lacks %q: %s", w, f)
					}
				}
			}
			for _, w := range tc.said {
				if !strings.Contains(said, w) {
					t.Errorf("credentials say %q, lacking %q", said, w)
				}
			}
			if _, set, _ := strings.Cut(said, "set: "); strings.Contains(said, gitEnv+" may push") && strings.Contains(set, gitEnv) {
				t.Errorf("a proven credential is listed as only set: %q", said)
			}
		})
	}
}

// A remote that takes pushes without a credential is proven so, and the
// summary says pushes go without one.
func TestCheckSaysPushesGoWithoutACredential(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	bareWithACommit(t, filepath.Join(root, "public.git"))
	srv, err := gitserver.Start(root, gitserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	w := newGitWorld(t, gitserver.GitHub)
	w.srv, w.cfg.Source.Public, w.cfg.Source.TokenEnv, w.cfg.Blog = srv, srv.RepoURL("public.git"), "", nil
	findings, said := w.check(t, nil, false)
	if len(findings) != 0 {
		t.Errorf("findings %q, want none", findings)
	}
	if want := "source.token_env: none: pushes to " + srv.RepoURL("public.git") + " go without a credential, which it allows"; said != want {
		t.Errorf("credentials say %q, want %q", said, want)
	}
}

// A rehearsal reads no real token and asks the real forge nothing about
// pushes.
func TestRehearsalProvesNoCredential(t *testing.T) {
	t.Parallel()
	w := newGitWorld(t, gitserver.GitHub)
	findings, said := w.check(t, map[string]string{gitEnv: "wrong-token", blogEnv: "wrong-token"}, true)
	if len(findings) != 0 || said != "" {
		t.Errorf("a rehearsal's credentials: findings %q, summary %q", findings, said)
	}
	if n := len(w.srv.ReceivePacks()); n != 0 {
		t.Errorf("a rehearsal asked %d receive-pack questions", n)
	}
}
