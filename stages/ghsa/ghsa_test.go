package ghsa

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	sandbox "github.com/async-rs/embargo/sandbox/github"
	"github.com/async-rs/embargo/stages/github"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// runGHSA runs the ghsa stage alone, as `embargo run --only ghsa` would.
func runGHSA(t *testing.T, w *releasetest.GHSAWorld) error {
	t.Helper()
	return releasetest.Execute(t, w.R, pipeline.Selection{Only: release.GHSA}, Stage{GitHub: release.RealClients().GitHub})
}

func TestGHSAIsNotPublishedBeforeT0(t *testing.T) {
	t.Parallel()
	w := releasetest.NewGHSAWorld(t, releasetest.T0.Add(-time.Minute), sandbox.Options{})
	err := runGHSA(t, w)
	var early *pipeline.EarlyError
	if !errors.As(err, &early) {
		t.Fatalf("run before T0: %v, want the gate's refusal", err)
	}
	if n := w.Srv.Patches(); n != 0 || w.Advisory(t).State != "draft" {
		t.Errorf("%d PATCH(es) before T0, state %s: nothing may be written before T0", n, w.Advisory(t).State)
	}
	w.AssertNoToken(t, err.Error())
}

func TestGHSAIsPublishedAtT0WithEveryLinesRangeOnceAndReRunsWriteNothing(t *testing.T) {
	t.Parallel()
	w := releasetest.NewGHSAWorld(t, releasetest.T0.Add(time.Second), sandbox.Options{})
	if err := runGHSA(t, w); err != nil {
		t.Fatalf("%v\n%s", err, w.Out)
	}
	a := w.Advisory(t)
	if a.State != "published" || a.PublishedAt == nil || a.Severity == nil || *a.Severity != "high" || a.CVEID == nil || *a.CVEID != "CVE-2026-00001" {
		t.Fatalf("after the run: %+v, want it published, severity high, the CVE of the aliases", a)
	}
	var ranges []string
	for _, v := range a.Vulnerabilities {
		if v.Package.Ecosystem != "rust" || v.Package.Name == nil || *v.Package.Name != "demo-core" {
			t.Errorf("vulnerability of %+v, want rust/demo-core", v.Package)
		}
		ranges = append(ranges, *v.VulnerableVersionRange+" -> "+*v.PatchedVersions)
	}
	if want := []string{"< 1.0.4 -> 1.0.4", ">= 1.1.0, < 1.1.1 -> 1.1.1"}; !slices.Equal(ranges, want) {
		t.Errorf("vulnerabilities %q, want one per line %q", ranges, want)
	}
	if want := []sandbox.Credit{{Login: "octocat", Type: "finder"}, {Login: "hubot", Type: "reporter"}}; !slices.Equal(a.Credits, want) {
		t.Errorf("credits %+v, want %+v", a.Credits, want)
	}
	if got, _ := pipeline.Load(w.R.Journal, publishedKey); got.PublishedAt.IsZero() {
		t.Error("the journal does not record when the advisory was published")
	}

	// Run again (a re-run after a crash, another machine): it looks, finds
	// it published as the release says, and writes nothing.
	w.Out.Reset()
	if err := runGHSA(t, w); err != nil {
		t.Fatalf("re-run: %v\n%s", err, w.Out)
	}
	if n := w.Srv.Patches(); n != 1 {
		t.Errorf("%d PATCHes after the re-run, want the first run's 1", n)
	}
	if got, _ := pipeline.Load(w.R.Journal, publishedKey); !strings.Contains(got.Summary(), "nothing written") {
		t.Errorf("re-run's summary %q, want it to say nothing was written", got.Summary())
	}
	w.AssertNoToken(t)
}

// An advisory someone edited after it was published is never overwritten
// without --force, and verify says it differs.
func TestGHSAPublishedWithOtherContentIsNotOverwritten(t *testing.T) {
	t.Parallel()
	w := releasetest.NewGHSAWorld(t, releasetest.T0.Add(time.Second), sandbox.Options{})
	if err := runGHSA(t, w); err != nil {
		t.Fatal(err)
	}
	w.R.Config.Releases[0].Tag = "v1.1.2" // the release now says another fix
	err := runGHSA(t, w)
	if err == nil || !strings.Contains(err.Error(), "--force") || w.Srv.Patches() != 1 {
		t.Fatalf("re-run with other content: %v (%d PATCHes), want a refusal naming --force and no write", err, w.Srv.Patches())
	}
	w.R.Mode.Force = true
	if err := runGHSA(t, w); err != nil {
		t.Fatalf("--force: %v", err)
	}
	if a := w.Advisory(t); w.Srv.Patches() != 2 || *a.Vulnerabilities[1].PatchedVersions != "1.1.2" || a.State != "published" {
		t.Errorf("after --force: %d PATCHes, %+v", w.Srv.Patches(), a.Vulnerabilities)
	}
}

// GitHub's refusals become findings naming the config key to fix, and
// none of them repeats the token.
func TestGHSARefusalsNameTheKeyToFix(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		opts    sandbox.Options
		edit    func(*config.Config)
		subject string
		says    string
	}{
		{"a revoked token", sandbox.Options{Token: "another-token-0000"}, nil, "ghsa.token_env", "401"},
		{"a read-only token", sandbox.Options{Token: "another-token-0000", ReadToken: releasetest.GHSAToken}, nil, "ghsa.token_env", "403"},
		{"another id", sandbox.Options{}, func(cfg *config.Config) { cfg.GHSA.ID = "GHSA-aaaa-bbbb-cccc" }, "ghsa.id", "404"},
		{"a credit to no account", sandbox.Options{Users: []string{"octocat"}}, nil, "ghsa.credits", "422"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := releasetest.NewGHSAWorld(t, releasetest.T0.Add(time.Second), c.opts)
			if c.edit != nil {
				c.edit(w.R.Config)
			}
			err := runGHSA(t, w)
			fs := pipeline.AsFindings(err)
			if len(fs) != 1 || fs[0].Subject != c.subject || !strings.Contains(fs[0].Msg, c.says) || fs[0].Fix == "" {
				t.Fatalf("%v, want one finding on %s saying %s, with a fix", err, c.subject, c.says)
			}
			if w.Advisory(t).State != "draft" {
				t.Error("a refused run changed the draft")
			}
			w.AssertNoToken(t, err.Error())
		})
	}
}

// GitHub replaces the credits with the list sent: the one the draft has
// already (GitHub credits the reporter of a private report) stays.
func TestGHSAKeepsTheCreditsTheDraftHas(t *testing.T) {
	t.Parallel()
	w := releasetest.NewGHSAWorld(t, releasetest.T0.Add(time.Second), sandbox.Options{})
	c := github.New(w.Srv.URL, github.Options{Token: releasetest.GHSAToken})
	if _, err := c.Update(t.Context(), releasetest.GHSARepo, releasetest.GHSAID, github.Update{Credits: []github.Credit{{Login: "reporter-x", Type: "reporter"}}}); err != nil {
		t.Fatal(err)
	}
	if err := runGHSA(t, w); err != nil {
		t.Fatal(err)
	}
	want := []sandbox.Credit{{Login: "reporter-x", Type: "reporter"}, {Login: "octocat", Type: "finder"}, {Login: "hubot", Type: "reporter"}}
	if got := w.Advisory(t).Credits; !slices.Equal(got, want) {
		t.Errorf("credits %+v, want the draft's and [ghsa]'s %+v", got, want)
	}
}

// The affected functions of [advisory] functions go to GitHub too, on
// every line's vulnerability, as RustSec lists them for every range.
func TestGHSACarriesTheAffectedFunctions(t *testing.T) {
	t.Parallel()
	w := releasetest.NewGHSAWorld(t, releasetest.T0.Add(time.Second), sandbox.Options{})
	w.R.Config.Advisory.Functions = []string{"demo_core::window", "demo_core::get"}
	if err := runGHSA(t, w); err != nil {
		t.Fatalf("%v\n%s", err, w.Out)
	}
	a := w.Advisory(t)
	if len(a.Vulnerabilities) != 2 {
		t.Fatalf("%d vulnerabilities, want one per line", len(a.Vulnerabilities))
	}
	for _, v := range a.Vulnerabilities {
		if !slices.Equal(v.VulnerableFunctions, w.R.Config.Advisory.Functions) {
			t.Errorf("vulnerable functions %q, want %q", v.VulnerableFunctions, w.R.Config.Advisory.Functions)
		}
	}
	// Read back as published: a re-run finds nothing to change.
	if err := runGHSA(t, w); err != nil || w.Srv.Patches() != 1 {
		t.Errorf("re-run: %v, %d PATCHes, want the first run's 1", err, w.Srv.Patches())
	}
}
