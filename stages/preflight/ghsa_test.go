package preflight

import (
	"slices"
	"strings"
	"testing"
	"time"

	sandbox "github.com/async-rs/embargo/sandbox/github"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

func TestPreflightFindsADraftThatDisagreesWithTheAdvisory(t *testing.T) {
	t.Parallel()
	w := releasetest.NewGHSAWorld(t, releasetest.T0.Add(-time.Hour), sandbox.Options{})
	w.Srv.AddDraft(releasetest.GHSARepo, sandbox.Draft{GHSAID: releasetest.GHSAID, Summary: "Something else", Description: "d", CVEID: "CVE-2026-99999"})
	m, err := release.AdvisoryModel(w.R.Config)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	add := func(subject, fix, format string, args ...any) { subjects = append(subjects, subject) }
	if err := checkGHSA(t.Context(), w.R, release.RealClients().GitHub, m, false, &GHSAChecked{}, add); err != nil {
		t.Fatal(err)
	}
	if want := []string{"ghsa.id", "advisory.aliases"}; !slices.Equal(subjects, want) {
		t.Errorf("findings on %q, want the summary (%s) and the CVE (%s)", subjects, want[0], want[1])
	}

	// Published before T0: the advisory leaked.
	w.Srv.AddDraft(releasetest.GHSARepo, sandbox.Draft{GHSAID: releasetest.GHSAID, Summary: releasetest.GHSATitle, Description: "d", State: "published"})
	subjects = nil
	var msgs []string
	add = func(subject, fix, format string, args ...any) {
		subjects, msgs = append(subjects, subject), append(msgs, format)
	}
	if err := checkGHSA(t.Context(), w.R, release.RealClients().GitHub, m, false, &GHSAChecked{}, add); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], "LEAK") {
		t.Errorf("published before T0: %q, want a LEAK", msgs)
	}
}
