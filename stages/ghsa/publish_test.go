package ghsa

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/github"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// The ghsa stage against a fake GitHub: what is written, when, and how
// often, without a server.

func draftAdvisory() github.Advisory {
	return github.Advisory{GHSAID: releasetest.GHSAID, Summary: releasetest.GHSATitle, State: "draft", HTMLURL: "https://github.example/" + releasetest.GHSARepo + "/security/advisories/" + releasetest.GHSAID}
}

// fakeGHSA is a run of the two-line release at now, with the stages
// talking to gh.
func fakeGHSA(t *testing.T, now time.Time, adv github.Advisory) (*release.Run, *pipeline.FakeClock, *releasetest.GitHub) {
	t.Helper()
	r, clock, _ := releasetest.Run(t, releasetest.AdvisoryConfig(), now, map[string]string{releasetest.GHSATokenEnv: releasetest.GHSAToken})
	gh := releasetest.NewGitHub(clock, adv)
	return r, clock, gh
}

// Prepared an hour before T0, the run reads the draft but writes nothing
// while T0 is ahead; at T0 it sends one PATCH that publishes it with every
// line's range, and a re-run sends none.
func TestGHSAWaitsForT0ThenPublishesOnceWithEveryLine(t *testing.T) {
	t.Parallel()
	r, clock, gh := fakeGHSA(t, releasetest.T0.Add(-time.Hour), draftAdvisory())
	err := releasetest.Execute(t, r, pipeline.Selection{}, releasetest.Prepared, Stage{GitHub: gh.Client})
	var early *pipeline.EarlyError
	if !errors.As(err, &early) {
		t.Fatalf("run before T0: %v, want the gate's refusal", err)
	}
	if gh.Reads == 0 {
		t.Error("the draft was not read before T0: a problem with it would be found only at T0")
	}
	if p := gh.Patches(); len(p) != 0 || gh.Current().State != "draft" {
		t.Fatalf("before T0: %d PATCH(es), the advisory %s; want nothing written", len(p), gh.Current().State)
	}

	clock.Set(releasetest.T0.Add(2 * time.Second))
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "ghsa"}, Stage{GitHub: gh.Client}); err != nil {
		t.Fatalf("run at T0: %v", err)
	}
	p := gh.Patches()
	if len(p) != 1 {
		t.Fatalf("%d PATCHes at T0, want 1", len(p))
	}
	if p[0].At.Before(releasetest.T0) {
		t.Errorf("the PATCH was sent at %s, before T0 %s", p[0].At, releasetest.T0)
	}
	u := p[0].Update
	var ranges []string
	for _, v := range u.Vulnerabilities {
		ranges = append(ranges, v.Package.Ecosystem+"/"+v.Package.Name+" "+v.VulnerableVersionRange+" -> "+v.PatchedVersions)
	}
	if want := []string{"rust/demo-core < 1.0.4 -> 1.0.4", "rust/demo-core >= 1.1.0, < 1.1.1 -> 1.1.1"}; !slices.Equal(ranges, want) {
		t.Errorf("the PATCH's vulnerabilities %q, want one per line %q", ranges, want)
	}
	if u.State != "published" || u.Severity != "high" || u.CVEID != "CVE-2026-00001" {
		t.Errorf("the PATCH sets state %q, severity %q, CVE %q; want published, high and the CVE of the aliases", u.State, u.Severity, u.CVEID)
	}
	if a := gh.Current(); a.State != "published" {
		t.Errorf("after the run the advisory is %s", a.State)
	}

	clock.Advance(time.Minute)
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "ghsa"}, Stage{GitHub: gh.Client}); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if n := len(gh.Patches()); n != 1 {
		t.Errorf("%d PATCHes after a re-run, want the first run's 1", n)
	}
}

// GitHub wrote, but the answer was lost on the way: the run fails, and its
// re-run finds the advisory published as the release says and sends
// nothing again.
func TestGHSAWhoseAnswerWasLostIsNotPublishedTwice(t *testing.T) {
	t.Parallel()
	r, _, gh := fakeGHSA(t, releasetest.T0.Add(time.Second), draftAdvisory())
	r.Mode.Late = true
	gh.LoseAnswers = 1
	err := releasetest.Execute(t, r, pipeline.Selection{Only: "ghsa"}, Stage{GitHub: gh.Client})
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("run whose answer was lost: %v, want the lost connection", err)
	}
	if gh.Current().State != "published" {
		t.Fatal("the fake did not write: the test shows nothing")
	}
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "ghsa"}, Stage{GitHub: gh.Client}); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if n := len(gh.Patches()); n != 1 {
		t.Errorf("%d PATCHes, want only the first run's: it was published already", n)
	}
}

// A CVE the draft already has is GitHub's to keep: the PATCH sets none,
// and the draft's credits go back with the release's, since GitHub
// replaces the list.
func TestGHSAKeepsTheDraftsCVEAndCredits(t *testing.T) {
	t.Parallel()
	adv := draftAdvisory()
	cve := "CVE-2026-00001"
	adv.CVEID = &cve
	adv.Credits = []github.Credit{{Login: "reporter-x", Type: "reporter"}}
	r, _, gh := fakeGHSA(t, releasetest.T0.Add(time.Second), adv)
	r.Mode.Late = true
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "ghsa"}, Stage{GitHub: gh.Client}); err != nil {
		t.Fatal(err)
	}
	p := gh.Patches()
	if len(p) != 1 {
		t.Fatalf("%d PATCHes, want 1", len(p))
	}
	if p[0].Update.CVEID != "" {
		t.Errorf("the PATCH sets the CVE %q over the draft's", p[0].Update.CVEID)
	}
	if want := []github.Credit{{Login: "reporter-x", Type: "reporter"}, {Login: "octocat", Type: "finder"}}; !slices.Equal(p[0].Update.Credits, want) {
		t.Errorf("the PATCH's credits %+v, want the draft's then [ghsa]'s %+v", p[0].Update.Credits, want)
	}
}

// Someone changed the published advisory on GitHub: a re-run refuses to
// overwrite it and names --force; with --force it sets the content and
// leaves the state alone (it is published already).
func TestGHSAChangedAfterPublishingIsOnlyOverwrittenWithForce(t *testing.T) {
	t.Parallel()
	r, _, gh := fakeGHSA(t, releasetest.T0.Add(time.Second), draftAdvisory())
	r.Mode.Late = true
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "ghsa"}, Stage{GitHub: gh.Client}); err != nil {
		t.Fatal(err)
	}
	gh.Mu.Lock()
	gh.Adv.Vulnerabilities[0].PatchedVersions = "1.0.9" // edited by hand
	gh.Mu.Unlock()

	err := releasetest.Execute(t, r, pipeline.Selection{Only: "ghsa"}, Stage{GitHub: gh.Client})
	var rerun *pipeline.RerunError
	if !errors.As(err, &rerun) || rerun.From != "ghsa" || !rerun.Force {
		t.Fatalf("re-run over an edited advisory: %v, want a re-run of ghsa with --force named", err)
	}
	if n := len(gh.Patches()); n != 1 {
		t.Fatalf("%d PATCHes, want none beyond the first: an edit is never overwritten silently", n)
	}

	r.Mode.Force = true
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "ghsa"}, Stage{GitHub: gh.Client}); err != nil {
		t.Fatalf("--force: %v", err)
	}
	p := gh.Patches()
	if len(p) != 2 || p[1].Update.State != "" {
		t.Fatalf("--force: %d PATCHes, the last setting state %q; want a second one leaving the state alone", len(p), p[len(p)-1].Update.State)
	}
	if got := gh.Current().Vulnerabilities[0].PatchedVersions; got != "1.0.4" {
		t.Errorf("after --force line 1.0 is patched in %s, want the release's 1.0.4", got)
	}
}

// verify reads the advisory back: published as the release says passes;
// withdrawn to a draft, or edited, fails, naming where a re-run starts.
func TestVerifyReadsThePublishedAdvisoryBack(t *testing.T) {
	t.Parallel()
	r, _, gh := fakeGHSA(t, releasetest.T0.Add(time.Second), draftAdvisory())
	r.Mode.Late = true
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "ghsa"}, Stage{GitHub: gh.Client}); err != nil {
		t.Fatal(err)
	}
	var res release.GHSAVerified
	if err := release.VerifyPublishedGHSA(t.Context(), r, gh.Client, &res); err != nil {
		t.Fatalf("verify of the advisory as published: %v", err)
	}
	if !releasetest.Mentions(res.Summary(), releasetest.GHSAID, "2 vulnerable range(s)") {
		t.Errorf("verify's summary %q does not name the advisory and its ranges", res.Summary())
	}

	gh.Mu.Lock()
	gh.Adv.Severity = nil
	gh.Mu.Unlock()
	err := release.VerifyPublishedGHSA(t.Context(), r, gh.Client, &release.GHSAVerified{})
	var rerun *pipeline.RerunError
	if !errors.As(err, &rerun) || rerun.From != "ghsa" || !rerun.Force || !strings.Contains(err.Error(), "severity") {
		t.Errorf("verify of an advisory without its severity: %v, want the severity named and a re-run of ghsa --force", err)
	}

	gh.Mu.Lock()
	gh.Adv.State = "draft"
	gh.Mu.Unlock()
	if err := release.VerifyPublishedGHSA(t.Context(), r, gh.Client, &release.GHSAVerified{}); err == nil || !strings.Contains(err.Error(), "not published") {
		t.Errorf("verify of an advisory back to a draft: %v, want it said not published", err)
	}
	if n := len(gh.Patches()); n != 1 {
		t.Errorf("verify wrote: %d PATCHes", n)
	}
}

// A rehearsal talks to its sandbox GitHub with the sandbox's token, and
// without one refuses before making any client: never the real API, never
// the real token.
func TestARehearsalNeverCallsTheRealGitHub(t *testing.T) {
	t.Parallel()
	r, _, gh := fakeGHSA(t, releasetest.T0.Add(time.Second), draftAdvisory())
	releasetest.Rehearse(r, release.Sandbox{})
	if _, err := release.GHSAClient(r, gh.Client); err == nil {
		t.Fatal("a rehearsal without a sandbox GitHub got a client")
	}
	if len(gh.Made) != 0 {
		t.Fatalf("clients made: %q, want none", gh.Made)
	}
	releasetest.Rehearse(r, release.Sandbox{GitHubAPI: "http://127.0.0.1:9/api", GitHubToken: "sandbox-token"})
	if _, err := release.GHSAClient(r, gh.Client); err != nil {
		t.Fatal(err)
	}
	if want := []string{"http://127.0.0.1:9/api sandbox-token"}; !slices.Equal(gh.Made, want) {
		t.Errorf("clients made: %q, want only the sandbox's %q", gh.Made, want)
	}
}
