package verify

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
	"github.com/async-rs/embargo/stages/retry"
)

// verify's crates step against a fake registry, without a server.

var (
	coreCrate  = []byte("demo-core 1.0.4, as sealed")
	macroCrate = []byte("demo-macros 1.0.4, as sealed")
)

// sealedLineRun is a run after T0 whose journal holds the sealed checksums
// of line 1.0 (demo-core and demo-macros 1.0.4), reading reg.
func sealedLineRun(t *testing.T, reg *releasetest.Crates) (*release.Run, config.Release) {
	t.Helper()
	r, _ := verifyRun(t, time.Hour, releasetest.T0.Add(time.Minute))
	rel := config.Release{Line: "1.0", Branch: "embargo/1.0", Tag: "v1.0.4"}
	r.Config.Releases = []config.Release{rel}
	order := []string{"demo-core@1.0.4", "demo-macros@1.0.4"}
	releasetest.Record(t, r, release.LineCheckedKey(rel.Line), release.LineChecked{Crates: order})
	releasetest.Record(t, r, release.PackagedKey(rel.Line), release.Packaged{Order: order,
		Sha256: map[string]string{"demo-core@1.0.4": releasetest.Sum(coreCrate), "demo-macros@1.0.4": releasetest.Sum(macroCrate)}})
	return r, rel
}

// Every crate of the line is downloaded and matches its seal.
func TestVerifyCratesDownloadsEveryCrateOfTheLine(t *testing.T) {
	t.Parallel()
	reg := releasetest.NewCrates()
	reg.Add("demo-core", "1.0.4", coreCrate)
	reg.Add("demo-macros", "1.0.4", macroCrate)
	r, rel := sealedLineRun(t, reg)
	var res CratesVerified
	if err := verifyCrates(t.Context(), r, openRegistry(t.Context(), r, func(release.Registry, retry.Clock) (release.CrateReader, error) { return reg, nil }), nil, rel, &res); err != nil {
		t.Fatal(err)
	}
	if len(reg.Downloads) != 2 || res.Sha256["demo-core@1.0.4"] != releasetest.Sum(coreCrate) || res.Sha256["demo-macros@1.0.4"] != releasetest.Sum(macroCrate) {
		t.Errorf("downloads %q, results %v; want both crates downloaded and matched", reg.Downloads, res)
	}
}

// A version the index does not show was not published: verify says so,
// still checks the others, and names publish as where the re-run starts.
func TestVerifyCratesSendsAMissingVersionBackToPublish(t *testing.T) {
	t.Parallel()
	reg := releasetest.NewCrates()
	reg.Add("demo-macros", "1.0.4", macroCrate)
	r, rel := sealedLineRun(t, reg)
	err := verifyCrates(t.Context(), r, openRegistry(t.Context(), r, func(release.Registry, retry.Clock) (release.CrateReader, error) { return reg, nil }), nil, rel, &CratesVerified{})
	var rerun *pipeline.RerunError
	if !errors.As(err, &rerun) || rerun.From != "publish" || !strings.Contains(err.Error(), "demo-core@1.0.4 is not in the registry's index") {
		t.Fatalf("verify of a line missing demo-core: %v, want it named and a re-run from publish", err)
	}
	if len(reg.Downloads) != 1 {
		t.Errorf("downloads %q, want demo-macros still checked", reg.Downloads)
	}
}

// A yanked fix is a failure users feel (they cannot get it), and not one
// a re-run of publish mends: the version exists.
func TestVerifyCratesRefusesAYankedFix(t *testing.T) {
	t.Parallel()
	reg := releasetest.NewCrates()
	reg.Add("demo-core", "1.0.4", coreCrate)
	reg.Add("demo-macros", "1.0.4", macroCrate)
	e := reg.Entries["demo-core@1.0.4"]
	e.Yanked = true
	reg.Entries["demo-core@1.0.4"] = e
	r, rel := sealedLineRun(t, reg)
	err := verifyCrates(t.Context(), r, openRegistry(t.Context(), r, func(release.Registry, retry.Clock) (release.CrateReader, error) { return reg, nil }), nil, rel, &CratesVerified{})
	if err == nil || !strings.Contains(err.Error(), "demo-core@1.0.4 is yanked") {
		t.Fatalf("verify of a yanked fix: %v, want it named", err)
	}
	var rerun *pipeline.RerunError
	if errors.As(err, &rerun) {
		t.Errorf("a yanked version sends the re-run to %s: publishing again cannot mend it", rerun.From)
	}
}

// A registry whose config.json names nowhere to download from fails
// every line, saying why, without a download tried.
func TestVerifyCratesNeedsTheRegistrysDownloadURL(t *testing.T) {
	t.Parallel()
	reg := releasetest.NewCrates()
	reg.Add("demo-core", "1.0.4", coreCrate)
	reg.DL = ""
	r, rel := sealedLineRun(t, reg)
	err := verifyCrates(t.Context(), r, openRegistry(t.Context(), r, func(release.Registry, retry.Clock) (release.CrateReader, error) { return reg, nil }), nil, rel, &CratesVerified{})
	if err == nil || !strings.Contains(err.Error(), "has no dl") {
		t.Fatalf("verify with no dl: %v, want it said", err)
	}
	if len(reg.Downloads) != 0 {
		t.Errorf("downloads %q with nowhere to download from", reg.Downloads)
	}
}
