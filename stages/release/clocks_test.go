package release_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// What check says of the clocks: within 2 s nothing; beyond, a warning
// with the fix; beyond the window an error; a target without a Date named.
func TestClocksFarOffAreWarnedAboutAndBeyondTheWindowRefused(t *testing.T) {
	t.Parallel()
	at := func(name string, est time.Duration) pipeline.Offset {
		return pipeline.Offset{Target: name, URL: "https://" + name + ".example/", Low: est - time.Millisecond, High: est + time.Millisecond, Samples: 12}
	}
	offs := []pipeline.Offset{
		at("git", 1900*time.Millisecond),
		at("registry", -30*time.Second),
		at("images", 7*time.Hour),
		{Target: "blog", URL: "https://blog.example/", Unmeasured: "it sends no Date header"},
	}
	warnings, findings := release.JudgeClocks(offs, 6*time.Hour)
	if len(warnings) != 2 {
		t.Fatalf("warnings %q, want the registry 30 s behind and the blog without a Date", warnings)
	}
	reg := warnings[0]
	for _, s := range []string{"registry.example", "30s behind", "holds every public write until T0 on it", "timedatectl set-ntp"} {
		if !strings.Contains(reg, s) {
			t.Errorf("warning %q does not say %q", reg, s)
		}
	}
	if !strings.Contains(warnings[1], "blog.example") || !strings.Contains(warnings[1], "no Date header") || !strings.Contains(warnings[1], "local clock") {
		t.Errorf("warning %q does not name the blog and say the local clock stands for it", warnings[1])
	}
	if len(findings) != 1 || !strings.Contains(findings[0].Subject, "images.example") ||
		!strings.Contains(findings[0].Msg, "more than the disclosure window") || !strings.Contains(findings[0].Fix, "chronyc makestep") {
		t.Errorf("findings %+v, want the image registry 7 h ahead as an error with the fix", findings)
	}
}

// The clock of a remote is its HTTP host's; a local path or file:// is
// this machine.
func TestHostRootIsWhereARemotesClockIsAsked(t *testing.T) {
	t.Parallel()
	for remote, want := range map[string]string{
		"https://user:tok@github.com/async-rs/async-std.git": "https://github.com/",
		"http://127.0.0.1:8080/public.git":                   "http://127.0.0.1:8080/",
		"git@github.com:async-rs/async.rs.git":               "https://github.com/",
		"ssh://git@gitlab.example:2222/a/b.git":              "https://gitlab.example/",
		"file:///srv/git/public.git":                         "",
		"/srv/git/public.git":                                "",
		"../public.git":                                      "",
	} {
		if got := release.HostRoot(remote); got != want {
			t.Errorf("hostRoot(%q) = %q, want %q", remote, got, want)
		}
	}
}

// Every public target the release writes to is measured, one probe a host:
// the git remote, the registry's API (where cargo uploads), the blog, the
// image registries.
func TestClockTargetsAreEveryPublicTarget(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{
		Source:   config.SourceSection{Public: "https://github.com/async-rs/async-std.git"},
		Registry: config.RegistrySection{Index: "sparse+http://127.0.0.1:1/index/"},
		Blog:     &config.BlogSection{Repo: "https://github.com/async-rs/async.rs.git"},
		Images:   []config.Image{{From: "ghcr.io/async-rs/private/app@sha256:" + strings.Repeat("a", 64), To: "ghcr.io/async-rs/app:1.13.1"}},
	}
	got := release.ClockTargets(context.Background(), releasetest.Looking(cfg))
	want := []string{
		"git remote, blog remote https://github.com/",
		"registry API http://127.0.0.1:1/", // config.json unreadable: the index's host
		"image registry https://ghcr.io/v2/",
	}
	if len(got) != len(want) {
		t.Fatalf("targets %+v, want %q", got, want)
	}
	for i := range want {
		if s := got[i].Name + " " + got[i].URL; s != want[i] {
			t.Errorf("target %d = %q, want %q", i, s, want[i])
		}
	}
}

// The GitHub API the advisory is published to keeps a clock of its own,
// and so does GitHub Enterprise's; a rehearsal measures its sandbox copy.
func TestTheGitHubAPIIsAClockTarget(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{
		Source:   config.SourceSection{Public: "https://github.com/async-rs/async-std.git"},
		Registry: config.RegistrySection{Index: "sparse+http://127.0.0.1:1/index/"},
		GHSA:     &config.GHSASection{API: "https://api.github.com"},
	}
	got := release.ClockTargets(context.Background(), releasetest.Looking(cfg))
	if n := len(got); n != 3 || got[2].Name != "GitHub API" || got[2].URL != "https://api.github.com/" {
		t.Fatalf("targets %+v, want the GitHub API https://api.github.com/ last", got)
	}
	cfg.GHSA.API = "https://github.example.com/api/v3"
	if got := release.ClockTargets(context.Background(), releasetest.Looking(cfg)); got[2].URL != "https://github.example.com/api/v3/" {
		t.Errorf("GitHub Enterprise target %q, want its API root", got[2].URL)
	}
	rehearsal := releasetest.Looking(cfg)
	releasetest.Rehearse(rehearsal, release.Sandbox{Public: "public.git", GitHubAPI: "http://127.0.0.1:2"})
	got = release.ClockTargets(context.Background(), rehearsal)
	for _, tg := range got {
		if strings.Contains(tg.URL, "github.example.com") {
			t.Errorf("a rehearsal measures the real GitHub API %s", tg.URL)
		}
	}
	if got[len(got)-1].URL != "http://127.0.0.1:2/" {
		t.Errorf("rehearsal targets %+v, want its sandbox GitHub", got)
	}
}
