package stages

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
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

// ghsaWorld is a sandbox GitHub holding the release's draft, and a run of
// a two-line release at now on a fake clock, with [ghsa] pointing at it.
type ghsaWorld struct {
	srv   *sandbox.Server
	r     *release.Run
	out   *bytes.Buffer
	clock *pipeline.FakeClock
}

func newGHSAWorld(t *testing.T, now time.Time, opts sandbox.Options) *ghsaWorld {
	t.Helper()
	if opts.Token == "" {
		opts.Token = releasetest.GHSAToken
	}
	srv, err := sandbox.Start("", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.AddDraft(releasetest.GHSARepo, sandbox.Draft{GHSAID: releasetest.GHSAID, Summary: releasetest.GHSATitle, Description: "A read past the end."}); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		Embargo:  config.EmbargoSection{ID: "DEMO-SA-2026-001", At: releasetest.T0, Handler: "Jane Doe <jane@example.org>"},
		Releases: []config.Release{{Line: "1.1", Tag: "v1.1.1"}, {Line: "1.0", Tag: "v1.0.4"}},
		Advisory: config.AdvisorySection{Title: releasetest.GHSATitle, Package: "demo-core", Severity: "high", Aliases: []string{"CVE-2026-00001"}},
		GHSA:     &config.GHSASection{Repo: releasetest.GHSARepo, ID: releasetest.GHSAID, API: srv.URL, TokenEnv: releasetest.GHSATokenEnv, Credits: []string{"octocat", "hubot:reporter"}},
		Window:   6 * time.Hour,
		Path:     "embargo.toml",
	}
	r, clock, out := releasetest.Run(t, cfg, now, map[string]string{releasetest.GHSATokenEnv: releasetest.GHSAToken})
	r.Mode.Late = !now.Before(releasetest.T0) // nothing prepared these runs before T0: the operator's word
	return &ghsaWorld{srv: srv, out: out, clock: clock, r: r}
}

// run runs the ghsa stage alone, as `embargo run --only ghsa` would.
func (w *ghsaWorld) run(t *testing.T) error {
	t.Helper()
	return releasetest.Execute(t, w.r, pipeline.Selection{Only: release.GHSA}, GHSA{GitHub: release.RealClients().GitHub})
}

func (w *ghsaWorld) advisory(t *testing.T) sandbox.Advisory {
	t.Helper()
	a, ok := w.srv.Advisory(releasetest.GHSARepo, releasetest.GHSAID)
	if !ok {
		t.Fatal("the draft is gone")
	}
	return a
}

// assertNoToken checks the token is in neither the output nor the journal.
func (w *ghsaWorld) assertNoToken(t *testing.T, texts ...string) {
	t.Helper()
	j, _ := os.ReadFile(filepath.Join(w.r.StateDir, "journal.json"))
	for _, s := range append(texts, w.out.String(), string(j)) {
		if strings.Contains(s, releasetest.GHSAToken) {
			t.Errorf("the GitHub token leaked:\n%s", s)
		}
	}
}

func TestGHSAIsNotPublishedBeforeT0(t *testing.T) {
	w := newGHSAWorld(t, releasetest.T0.Add(-time.Minute), sandbox.Options{})
	err := w.run(t)
	var early *pipeline.EarlyError
	if !errors.As(err, &early) {
		t.Fatalf("run before T0: %v, want the gate's refusal", err)
	}
	if n := w.srv.Patches(); n != 0 || w.advisory(t).State != "draft" {
		t.Errorf("%d PATCH(es) before T0, state %s: nothing may be written before T0", n, w.advisory(t).State)
	}
	w.assertNoToken(t, err.Error())
}

func TestGHSAIsPublishedAtT0WithEveryLinesRangeOnceAndReRunsWriteNothing(t *testing.T) {
	w := newGHSAWorld(t, releasetest.T0.Add(time.Second), sandbox.Options{})
	if err := w.run(t); err != nil {
		t.Fatalf("%v\n%s", err, w.out)
	}
	a := w.advisory(t)
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
	if got, _ := pipeline.Load(w.r.Journal, ghsaPublishedKey); got.PublishedAt.IsZero() {
		t.Error("the journal does not record when the advisory was published")
	}

	// Run again (a re-run after a crash, another machine): it looks, finds
	// it published as the release says, and writes nothing.
	w.out.Reset()
	if err := w.run(t); err != nil {
		t.Fatalf("re-run: %v\n%s", err, w.out)
	}
	if n := w.srv.Patches(); n != 1 {
		t.Errorf("%d PATCHes after the re-run, want the first run's 1", n)
	}
	if got, _ := pipeline.Load(w.r.Journal, ghsaPublishedKey); !strings.Contains(got.Summary(), "nothing written") {
		t.Errorf("re-run's summary %q, want it to say nothing was written", got.Summary())
	}
	w.assertNoToken(t)
}

// An advisory someone edited after it was published is never overwritten
// without --force, and verify says it differs.
func TestGHSAPublishedWithOtherContentIsNotOverwritten(t *testing.T) {
	w := newGHSAWorld(t, releasetest.T0.Add(time.Second), sandbox.Options{})
	if err := w.run(t); err != nil {
		t.Fatal(err)
	}
	w.r.Config.Releases[0].Tag = "v1.1.2" // the release now says another fix
	err := w.run(t)
	if err == nil || !strings.Contains(err.Error(), "--force") || w.srv.Patches() != 1 {
		t.Fatalf("re-run with other content: %v (%d PATCHes), want a refusal naming --force and no write", err, w.srv.Patches())
	}
	w.r.Mode.Force = true
	if err := w.run(t); err != nil {
		t.Fatalf("--force: %v", err)
	}
	if a := w.advisory(t); w.srv.Patches() != 2 || *a.Vulnerabilities[1].PatchedVersions != "1.1.2" || a.State != "published" {
		t.Errorf("after --force: %d PATCHes, %+v", w.srv.Patches(), a.Vulnerabilities)
	}
}

// GitHub's refusals become findings naming the config key to fix, and
// none of them repeats the token.
func TestGHSARefusalsNameTheKeyToFix(t *testing.T) {
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
			w := newGHSAWorld(t, releasetest.T0.Add(time.Second), c.opts)
			if c.edit != nil {
				c.edit(w.r.Config)
			}
			err := w.run(t)
			fs := pipeline.AsFindings(err)
			if len(fs) != 1 || fs[0].Subject != c.subject || !strings.Contains(fs[0].Msg, c.says) || fs[0].Fix == "" {
				t.Fatalf("%v, want one finding on %s saying %s, with a fix", err, c.subject, c.says)
			}
			if w.advisory(t).State != "draft" {
				t.Error("a refused run changed the draft")
			}
			w.assertNoToken(t, err.Error())
		})
	}
}

func TestPreflightFindsADraftThatDisagreesWithTheAdvisory(t *testing.T) {
	w := newGHSAWorld(t, releasetest.T0.Add(-time.Hour), sandbox.Options{})
	w.srv.AddDraft(releasetest.GHSARepo, sandbox.Draft{GHSAID: releasetest.GHSAID, Summary: "Something else", Description: "d", CVEID: "CVE-2026-99999"})
	m, err := release.AdvisoryModel(w.r.Config)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	add := func(subject, fix, format string, args ...any) { subjects = append(subjects, subject) }
	if err := checkGHSA(t.Context(), w.r, release.RealClients().GitHub, m, false, &GHSAChecked{}, add); err != nil {
		t.Fatal(err)
	}
	if want := []string{"ghsa.id", "advisory.aliases"}; !slices.Equal(subjects, want) {
		t.Errorf("findings on %q, want the summary (%s) and the CVE (%s)", subjects, want[0], want[1])
	}

	// Published before T0: the advisory leaked.
	w.srv.AddDraft(releasetest.GHSARepo, sandbox.Draft{GHSAID: releasetest.GHSAID, Summary: releasetest.GHSATitle, Description: "d", State: "published"})
	subjects = nil
	var msgs []string
	add = func(subject, fix, format string, args ...any) {
		subjects, msgs = append(subjects, subject), append(msgs, format)
	}
	if err := checkGHSA(t.Context(), w.r, release.RealClients().GitHub, m, false, &GHSAChecked{}, add); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], "LEAK") {
		t.Errorf("published before T0: %q, want a LEAK", msgs)
	}
}

// GitHub replaces the credits with the list sent: the one the draft has
// already (GitHub credits the reporter of a private report) stays.
func TestGHSAKeepsTheCreditsTheDraftHas(t *testing.T) {
	w := newGHSAWorld(t, releasetest.T0.Add(time.Second), sandbox.Options{})
	c := github.New(w.srv.URL, github.Options{Token: releasetest.GHSAToken})
	if _, err := c.Update(t.Context(), releasetest.GHSARepo, releasetest.GHSAID, github.Update{Credits: []github.Credit{{Login: "reporter-x", Type: "reporter"}}}); err != nil {
		t.Fatal(err)
	}
	if err := w.run(t); err != nil {
		t.Fatal(err)
	}
	want := []sandbox.Credit{{Login: "reporter-x", Type: "reporter"}, {Login: "octocat", Type: "finder"}, {Login: "hubot", Type: "reporter"}}
	if got := w.advisory(t).Credits; !slices.Equal(got, want) {
		t.Errorf("credits %+v, want the draft's and [ghsa]'s %+v", got, want)
	}
}

// The affected functions of [advisory] functions go to GitHub too, on
// every line's vulnerability, as RustSec lists them for every range.
func TestGHSACarriesTheAffectedFunctions(t *testing.T) {
	w := newGHSAWorld(t, releasetest.T0.Add(time.Second), sandbox.Options{})
	w.r.Config.Advisory.Functions = []string{"demo_core::window", "demo_core::get"}
	if err := w.run(t); err != nil {
		t.Fatalf("%v\n%s", err, w.out)
	}
	a := w.advisory(t)
	if len(a.Vulnerabilities) != 2 {
		t.Fatalf("%d vulnerabilities, want one per line", len(a.Vulnerabilities))
	}
	for _, v := range a.Vulnerabilities {
		if !slices.Equal(v.VulnerableFunctions, w.r.Config.Advisory.Functions) {
			t.Errorf("vulnerable functions %q, want %q", v.VulnerableFunctions, w.r.Config.Advisory.Functions)
		}
	}
	// Read back as published: a re-run finds nothing to change.
	if err := w.run(t); err != nil || w.srv.Patches() != 1 {
		t.Errorf("re-run: %v, %d PATCHes, want the first run's 1", err, w.srv.Patches())
	}
}
