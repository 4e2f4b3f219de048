package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/sandbox/world"
	core "github.com/async-rs/embargo/stages/release"
)

// Each broken release is caught by preflight: exit 1, the culprit named,
// and not a single push reaches the public server.
func TestPreflightFailuresNameTheCulprit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(t *testing.T, rl *release)
		want  []string
	}{
		{
			name: "missing held branch",
			setup: func(t *testing.T, rl *release) {
				rl.editConfig(t, `branch        = "embargo/1.12"`, `branch        = "embargo/1.21"`)
			},
			want: []string{"release 1.12", "held branch embargo/1.21 does not exist"},
		},
		{
			name: "public tip moved",
			setup: func(t *testing.T, rl *release) {
				if _, err := world.CommitFile(rl.ex.World.Public, "main", "NEWS.md", "news\n", "Public work"); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"release 1.13", "does not fast-forward public main"},
		},
		{
			name: "leak through a pull request ref",
			setup: func(t *testing.T, rl *release) {
				gitCmd(t, rl.ex.World.Source, "push", "-q", rl.ex.World.Public, "embargo/1.13:refs/pull/7/head")
			},
			want: []string{"release 1.13", "LEAK", "refs/pull/7/head"},
		},
		{
			name: "tag already public elsewhere",
			setup: func(t *testing.T, rl *release) {
				gitCmd(t, rl.ex.World.Public, "tag", "v1.12.5", "release-1.12")
			},
			want: []string{"release 1.12", "tag v1.12.5 already exists publicly"},
		},
		{
			name: "version not bumped",
			setup: func(t *testing.T, rl *release) {
				// The held fix forgot the bump: versions stay at the public
				// 1.12.4, and the tag was named after it.
				for _, c := range []string{"demo-core", "demo"} {
					src := readAt(t, rl.ex.World.Source, "embargo/1.12", c+"/Cargo.toml")
					src = strings.ReplaceAll(src, "1.12.5", "1.12.4")
					if _, err := world.CommitFile(rl.ex.World.Source, "embargo/1.12", c+"/Cargo.toml", src, "Unbump "+c); err != nil {
						t.Fatal(err)
					}
				}
				gitCmd(t, rl.ex.World.Source, "tag", "-d", "v1.12.5")
				gitCmd(t, rl.ex.World.Public, "tag", "-d", "v1.12.4")
				rl.editConfig(t, `tag           = "v1.12.5"`, `tag           = "v1.12.4"`)
			},
			want: []string{"release 1.12", "crate demo-core is not bumped: 1.12.4"},
		},
		{
			name: "crate version differs from the tag",
			setup: func(t *testing.T, rl *release) {
				rl.editConfig(t, `tag           = "v1.13.1"`, `tag           = "v1.13.2"`)
			},
			want: []string{"release 1.13", "crate demo-core is 1.13.1 at the held tip but the tag v1.13.2 says 1.13.2"},
		},
		{
			name: "token variable not set",
			setup: func(t *testing.T, rl *release) {
				rl.editConfig(t, `token_env = "EMBARGO_GIT_TOKEN"`, `token_env = "EMBARGO_UNSET_TOKEN"`)
			},
			want: []string{"source.token_env", "EMBARGO_UNSET_TOKEN is not set"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// T0 ahead: every problem must be caught before anything waits.
			rl := newRelease(t, time.Now().Add(time.Hour))
			tc.setup(t, rl)
			for _, cmd := range []string{"check", "run"} {
				res := rl.run([]string{cmd})
				if res.code != 1 {
					t.Fatalf("%s: want exit 1, got %s", cmd, res)
				}
				for _, w := range tc.want {
					if !strings.Contains(res.stdout+res.stderr, w) {
						t.Errorf("%s output lacks %q:\n%s", cmd, w, res)
					}
				}
			}
			if n := rl.pushes(); n != 0 {
				t.Errorf("the public server saw %d pushes", n)
			}
		})
	}
}

// The public branch moves while the run waits for T0 (a colleague merged):
// the push stops, nothing is pushed, the message says to rebase.
func TestPublicTipMovedDuringGateStopsThePush(t *testing.T) {
	rl := newRelease(t, time.Now().Add(3*time.Second))
	cmd := rl.command([]string{"run"})
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, func() bool { return strings.Contains(out.String(), "holding until T0") })
	if _, err := world.CommitFile(rl.ex.World.Public, "release-1.12", "NEWS.md", "news\n", "Public work"); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if err == nil {
		t.Fatalf("run succeeded though the public branch moved:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "public release-1.12 moved since preflight") {
		t.Errorf("output does not name the moved branch:\n%s", out.String())
	}
	// The re-run must check the rebased branch: it starts at preflight,
	// not at the push that failed.
	if !strings.Contains(out.String(), "next: fix the cause above, then `embargo run -c "+rl.config+" --from preflight`") {
		t.Errorf("the next step is not a re-run from preflight:\n%s", out.String())
	}
	if n := rl.pushes(); n != 0 {
		t.Errorf("%d pushes reached the server", n)
	}
}

// check on a sound release: exit 0, ready, and nothing written.
func TestCheckReadyChangesNothing(t *testing.T) {
	t.Parallel()
	rl := newRelease(t, time.Now().Add(time.Hour))
	res := rl.run([]string{"check"})
	if res.code != 0 || !strings.Contains(res.stdout, "ready") {
		t.Fatalf("check: %s", res)
	}
	if _, err := os.Stat(filepath.Join(rl.dir, ".embargo", "journal.json")); err == nil {
		t.Errorf("check wrote a journal")
	}
	if rl.pushes() != 0 {
		t.Errorf("check pushed")
	}
}

// Bad input: exit 2, the file, line and key named, nothing touched.
func TestConfigMistakesExit2AndTouchNothing(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, from, to, want string }{
		{"local time", `at      = `, `at      = 2026-12-01T14:00:00 #`, `embargo.toml:4: embargo.at: has no UTC offset`},
		{"unknown key", `public_branch = "main"`, `publc_branch = "main"`, `embargo.toml:16: release[1].publc_branch: unknown key (did you mean "public_branch"?)`},
		{"duplicate line", `line          = "1.12"`, `line          = "1.13"`, `release[2].line: line "1.13" is already release[1]`},
		{"shared tag", `tag           = "v1.12.5"`, `tag           = "v1.13.1"`, `release[2].tag: tag "v1.13.1" is also release[1]'s`},
		{"missing description", `description = "advisory.md"`, `description = "missing.md"`, `advisory.description: cannot read missing.md`},
		{"bad window", `window  = "6h"`, `window  = "6 hours"`, `embargo.toml:5: embargo.window: "6 hours" is not a duration`},
		{"window not a string", `window  = "6h"`, `window  = 6`, `embargo.toml:5: embargo.window: 6 is a number, not a string (a duration in quotes with its unit, e.g. window = "6h")`},
		{"quoted local time", `at      = `, `at      = "2026-12-01T14:00:00" #`, `embargo.toml:4: embargo.at: "2026-12-01T14:00:00" is quoted and has no UTC offset`},
		{"cvss vector of no metric", `severity    = "medium"`, `cvss        = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/X:Y"`, `advisory.cvss: CVSS:3.1: unknown metric "X"`},
		{"cvss vector without a base metric", `severity    = "medium"`, `cvss        = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N"`, `advisory.cvss: CVSS:4.0: the base metric(s) SA are missing`},
		{"malformed public url", `public = "`, `public = "htps://example.org/demo.git" #`, `embargo.toml:10: source.public: "htps://example.org/demo.git": htps:// is not a scheme git reaches a remote by`},
		{"malformed reference", `credits     = ["A. Reporter"]`, "credits     = [\"A. Reporter\"]\nreferences  = [\"https//example.org/report\"]", `advisory.references: entry 1: "https//example.org/report" is not an http(s) URL`},
		{"alias of no database", `aliases     = [`, `aliases     = ["CVE-2026-123"] #`, `advisory.aliases: entry 1: "CVE-2026-123" is not a CVE id`},
		{"unaffected range in another syntax", `credits     = ["A. Reporter"]`, "credits     = [\"A. Reporter\"]\nunaffected  = [\"~> 1.0\"]", `advisory.unaffected: entry 1: "~> 1.0"`},
		{"binary description", `description = "advisory.md"`, `description = "` + binary + `"`, `advisory.description: ` + binary + ` is an ELF binary, not Markdown text`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rl := newRelease(t, time.Now().Add(-time.Second))
			rl.editConfig(t, tc.from, tc.to)
			for _, cmd := range []string{"check", "plan", "run", "status"} {
				res := rl.run([]string{cmd})
				if res.code != 2 {
					t.Fatalf("%s: want exit 2, got %s", cmd, res)
				}
				if !strings.Contains(res.stderr, tc.want) {
					t.Errorf("%s: stderr lacks %q:\n%s", cmd, tc.want, res.stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(rl.dir, ".embargo")); err == nil {
				t.Errorf("a state directory was created")
			}
			if n := len(rl.server.Requests()); n != 0 {
				t.Errorf("the public server saw %d requests", n)
			}
		})
	}
}

func TestBadUsageExits2(t *testing.T) {
	t.Parallel()
	rl := newRelease(t, time.Now().Add(-time.Second))
	for _, args := range [][]string{{"run", "--only", "pubish"}, {"run", "--from", "push", "--only", "push"}, {"run", "--nope"}, {"status", "extra"}} {
		if res := rl.run(args); res.code != 2 {
			t.Errorf("%v: want exit 2, got %s", args, res)
		}
	}
	if rl.pushes() != 0 {
		t.Errorf("bad usage pushed")
	}
}

func (rl *release) editConfig(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(rl.config)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), from) {
		t.Fatalf("config has no %q:\n%s", from, b)
	}
	s := strings.Replace(string(b), from, to, 1)
	if strings.HasSuffix(to, "#") { // replace the rest of the line
		s = regexp.MustCompile(regexp.QuoteMeta(to)+`.*`).ReplaceAllString(s, strings.TrimSuffix(to, " #"))
	}
	if err := os.WriteFile(rl.config, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readAt(t *testing.T, repo, rev, path string) string {
	t.Helper()
	return gitCmd(t, repo, "show", rev+":"+path) + "\n"
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The advisory already on the blog before T0 is a leak, caught by check.
func TestAdvisoryOnTheBlogBeforeT0IsALeak(t *testing.T) {
	t.Parallel()
	rl := newRelease(t, time.Now().Add(time.Hour))
	cfg, err := config.Load(rl.config)
	if err != nil {
		t.Fatal(err)
	}
	m, err := core.AdvisoryModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := world.CommitFile(filepath.Join(rl.dir, "blog.git"), "master", m.PostPath, "---\ntitle: early\n---\n", "Early post"); err != nil {
		t.Fatal(err)
	}
	res := rl.run([]string{"check"})
	if res.code != 1 || !strings.Contains(res.stdout, "LEAK: "+m.PostPath+" is already on the blog") {
		t.Fatalf("want a leak finding: %s", res)
	}
}

// check proves, days before T0, that the pushes of T0 will be let in: the
// public repository and the blog's exist and can be read, and the forge
// lets each one's token push to it (what a push asks first, asked with
// the token; nothing is sent). Each refusal names its config key, and
// the variable of a refused token, and exits 1; `run` refuses the same
// before anything is public; nothing is pushed anywhere, and no token is
// shown or stored.
func TestCheckProvesTheGitPushes(t *testing.T) {
	t.Parallel()
	const wrong = "tok-wrong-0a9e44d2c7b1"
	cases := []struct {
		name string
		// setup breaks the release and says with what variables to run,
		// and what check must say.
		setup func(t *testing.T, bl *servedBlog) (env, want []string)
		ready bool
	}{
		{
			name: "every token may push",
			setup: func(t *testing.T, bl *servedBlog) ([]string, []string) {
				return nil, []string{
					"source.token_env: " + tokenEnv + " may push to " + bl.server.RepoURL("public.git"),
					"blog.token_env: " + blogTokenEnv + " may push to " + bl.server.RepoURL("blog.git"),
				}
			},
			ready: true,
		},
		{
			name: "a wrong git token",
			setup: func(t *testing.T, bl *servedBlog) ([]string, []string) {
				return []string{tokenEnv + "=" + wrong}, []string{
					"source.token_env: " + tokenEnv + " was refused by " + bl.server.RepoURL("public.git") + " (401 Invalid username or token.",
					"fix: put in " + tokenEnv + " a valid token with push (write) rights to that repository",
				}
			},
		},
		{
			name: "a wrong blog token",
			setup: func(t *testing.T, bl *servedBlog) ([]string, []string) {
				return []string{blogTokenEnv + "=" + wrong}, []string{
					"blog.token_env: " + blogTokenEnv + " was refused by " + bl.server.RepoURL("blog.git") + " (401 Invalid username or token.",
				}
			},
		},
		{
			name: "a public repository that does not exist",
			setup: func(t *testing.T, bl *servedBlog) ([]string, []string) {
				bl.editConfig(t, bl.server.RepoURL("public.git"), bl.server.RepoURL("pubilc.git"))
				return nil, []string{
					"source.public: " + bl.server.RepoURL("pubilc.git") + " does not exist or cannot be read (404 Repository not found.)",
					"fix: check source.public in " + bl.config,
				}
			},
		},
		{
			name: "a blog repository that does not exist",
			setup: func(t *testing.T, bl *servedBlog) ([]string, []string) {
				bl.editConfig(t, bl.server.RepoURL("blog.git"), bl.server.RepoURL("blgo.git"))
				return nil, []string{
					"blog.repo: " + bl.server.RepoURL("blgo.git") + " does not exist, or the token in " + blogTokenEnv + " may not see it (404 Repository not found.)",
				}
			},
		},
		{
			name: "a blog branch that does not exist",
			setup: func(t *testing.T, bl *servedBlog) ([]string, []string) {
				bl.editConfig(t, `branch = "master"`, `branch = "main"`)
				return nil, []string{"blog.branch: " + bl.server.RepoURL("blog.git") + " has no branch main", "fix: check blog.branch in " + bl.config}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bl := newServedBlogRelease(t, time.Now().Add(time.Hour))
			env, want := tc.setup(t, bl)
			cmds := []string{"check", "run"}
			if tc.ready {
				cmds = cmds[:1]
			}
			for _, cmd := range cmds {
				res := bl.run([]string{cmd}, env...)
				if tc.ready != (res.code == 0) || !tc.ready && res.code != 1 {
					t.Fatalf("%s: want exit %d, got %s", cmd, map[bool]int{true: 0, false: 1}[tc.ready], res)
				}
				for _, w := range want {
					if !strings.Contains(res.stdout+res.stderr, w) {
						t.Errorf("%s output lacks %q:\n%s", cmd, w, res)
					}
				}
				if !tc.ready && strings.Count(res.stdout, "fix:") != 1 {
					t.Errorf("%s: want the one problem, got:\n%s", cmd, res)
				}
				bl.assertAbsent([]string{token, registryToken, wrong}, res.stdout, res.stderr)
			}
			if n := len(bl.server.Pushes()); n != 0 {
				t.Errorf("the git server saw %d pushes", n)
			}
			bl.assertUnreleased()
		})
	}
}
