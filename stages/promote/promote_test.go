package promote

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/oci"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// The promote stage against fake image registries: what is copied, when,
// and how often, without a registry.

const (
	digestApp  = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestCLI  = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	digestElse = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

var promoteImages = []config.Image{
	{From: "registry.example/private/demo@" + digestApp, To: "ghcr.io/demo-org/demo:1.13.1"},
	{From: "registry.example/private/demo-cli@" + digestCLI, To: "ghcr.io/demo-org/demo-cli:1.13.1"},
}

// fakePromote is a run of a release with two images at now, its sources
// pushed to the private repository, the public names not there yet, and
// the promote stage given those registries.
func fakePromote(t *testing.T, now time.Time) (*release.Run, *pipeline.FakeClock, *releasetest.Images, Stage) {
	t.Helper()
	cfg := &config.Config{
		Embargo: config.EmbargoSection{ID: "DEMO-SA-2026-001", At: releasetest.T0},
		Images:  append([]config.Image(nil), promoteImages...),
		Window:  6 * time.Hour,
	}
	r, clock, _ := releasetest.Run(t, cfg, now, nil)
	images := releasetest.NewImages(clock, map[string]string{promoteImages[0].From: digestApp, promoteImages[1].From: digestCLI})
	return r, clock, images, Stage{Images: func(oci.Options) release.ImageRegistry { return images }}
}

// Prepared before T0, the run checks the sources but copies nothing while
// T0 is ahead; at T0 it copies each image once, to the digest pinned, and
// a re-run copies nothing again.
func TestPromoteCopiesEachImageOnceAtT0(t *testing.T) {
	t.Parallel()
	r, clock, images, promote := fakePromote(t, releasetest.T0.Add(-time.Hour))
	err := releasetest.Execute(t, r, pipeline.Selection{}, releasetest.Prepared, promote)
	var early *pipeline.EarlyError
	if !errors.As(err, &early) {
		t.Fatalf("run before T0: %v, want the gate's refusal", err)
	}
	if c := images.Copied(); len(c) != 0 {
		t.Fatalf("copies before T0: %+v", c)
	}
	if got, _ := pipeline.Load(r.Journal, imagesFoundKey); len(got.Digests) != 2 || got.Digests[1] != digestCLI {
		t.Errorf("the sources were not checked before T0: recorded %q", got.Digests)
	}

	clock.Set(releasetest.T0.Add(time.Second))
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "promote"}, promote); err != nil {
		t.Fatalf("run at T0: %v", err)
	}
	copies := images.Copied()
	if len(copies) != 2 {
		t.Fatalf("%d copies at T0, want one per image: %+v", len(copies), copies)
	}
	for _, c := range copies {
		if c.At.Before(releasetest.T0) {
			t.Errorf("%s copied at %s, before T0", c.Dst, c.At)
		}
	}
	for _, im := range promoteImages {
		if got, _ := images.Resolve(t.Context(), im.To); got != mustPinned(t, im.From) {
			t.Errorf("%s is at %q, want the pinned %s", im.To, got, mustPinned(t, im.From))
		}
	}

	clock.Advance(time.Minute)
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "promote"}, promote); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if n := len(images.Copied()); n != 2 {
		t.Errorf("%d copies after a re-run, want the first run's 2: a copy done is not made again", n)
	}
}

func mustPinned(t *testing.T, ref string) string {
	t.Helper()
	_, d, ok := strings.Cut(ref, "@")
	if !ok {
		t.Fatalf("%s is not pinned", ref)
	}
	return d
}

// A public name that already holds other bytes is a released tag: it is
// never moved, and the image beside it is still copied.
func TestPromoteNeverMovesAPublicTag(t *testing.T) {
	t.Parallel()
	r, _, images, promote := fakePromote(t, releasetest.T0.Add(time.Second))
	r.Mode.Late = true
	images.Refs[promoteImages[0].To] = digestElse
	err := releasetest.Execute(t, r, pipeline.Selection{Only: "promote"}, promote)
	if err == nil || !releasetest.Mentions(err.Error(), promoteImages[0].To, "refusing to move") {
		t.Fatalf("promote over another image: %v, want a refusal naming %s", err, promoteImages[0].To)
	}
	if got, _ := images.Resolve(t.Context(), promoteImages[0].To); got != digestElse {
		t.Errorf("the public tag was moved to %s", got)
	}
	copies := images.Copied()
	if len(copies) != 1 || copies[0].Dst != promoteImages[1].To {
		t.Errorf("copies %+v, want only the other image's", copies)
	}
}

// A source missing, or at other bytes than pinned, is found before T0,
// naming the image to fix; nothing is copied then or at T0.
func TestPromoteFindsABadSourceBeforeT0(t *testing.T) {
	t.Parallel()
	r, clock, images, promote := fakePromote(t, releasetest.T0.Add(-time.Hour))
	delete(images.Refs, promoteImages[0].From)
	images.Refs[promoteImages[1].From] = digestElse
	err := releasetest.Execute(t, r, pipeline.Selection{}, releasetest.Prepared, promote)
	if err == nil || !releasetest.Mentions(err.Error(), "image[1].from", "resolves to "+digestElse) {
		t.Fatalf("before T0: %v, want the missing image[1] and the moved image[2] named", err)
	}
	var early *pipeline.EarlyError
	if errors.As(err, &early) {
		t.Errorf("the bad sources were reported only as the gate's refusal: %v", err)
	}
	clock.Set(releasetest.T0.Add(time.Second))
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "promote"}, promote); err == nil {
		t.Error("at T0 the run with bad sources passed")
	}
	if c := images.Copied(); len(c) != 0 {
		t.Errorf("copies %+v, want none", c)
	}
}

// The copy landed other bytes than the source was checked at (it changed
// underneath): the run fails, saying so.
func TestPromoteRefusesACopyOfOtherBytes(t *testing.T) {
	t.Parallel()
	r, _, images, promote := fakePromote(t, releasetest.T0.Add(time.Second))
	r.Mode.Late = true
	images.Lands = digestElse
	err := releasetest.Execute(t, r, pipeline.Selection{Only: "promote"}, promote)
	if err == nil || !strings.Contains(err.Error(), "the source served "+digestElse) {
		t.Fatalf("a copy of other bytes: %v, want it named", err)
	}
}

// A rehearsal reads the registries and copies nothing, even after T0.
func TestAPromoteRehearsalOnlyReads(t *testing.T) {
	t.Parallel()
	r, _, images, promote := fakePromote(t, releasetest.T0.Add(time.Second))
	r.Mode.Late = true
	releasetest.Rehearse(r, release.Sandbox{})
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "promote"}, promote); err != nil {
		t.Fatal(err)
	}
	if c := images.Copied(); len(c) != 0 {
		t.Errorf("a rehearsal copied %+v", c)
	}
	if got, _ := pipeline.Load(r.Journal, imageCopiedKey(promoteImages[0].To)); !got.WouldCopy {
		t.Errorf("the rehearsal does not say it would copy %s", promoteImages[0].To)
	}
}

// refusingPublish is a publish stage whose first upload the registry
// refuses for its credential, as the real one settles it.
type refusingPublish struct{}

func (refusingPublish) Name() string    { return release.Publish }
func (refusingPublish) Needs() []string { return []string{release.Preflight} }
func (refusingPublish) Summary() string { return "" }
func (refusingPublish) Run(_ context.Context, r *release.Run) error {
	refusal := &pipeline.Refusal{Err: errors.New("demo-core@1.13.1: not uploaded: the registry refused the publish token (403 Forbidden: authentication failed)"),
		Fix: "set CARGO_REGISTRY_TOKEN (registry.token_env in embargo.toml) to a token the registry takes for publishing these crates"}
	r.Settle(release.RegistryTakes, refusal)
	return refusal
}

// At T0 the registry refuses the first upload's credential: the images
// stay private, and promote says why.
func TestPromoteCopiesNothingWhenTheRegistryRefusesTheFirstUpload(t *testing.T) {
	t.Parallel()
	r, clock, images, promote := fakePromote(t, releasetest.T0.Add(-time.Hour))
	if err := releasetest.Execute(t, r, pipeline.Selection{}, releasetest.Prepared); err != nil {
		t.Fatal(err)
	}
	clock.Set(releasetest.T0.Add(time.Second))
	err := releasetest.Execute(t, r, pipeline.Selection{From: "promote"}, releasetest.Prepared, promote, refusingPublish{})
	if c := images.Copied(); len(c) != 0 {
		t.Fatalf("copies after the registry refused the credential: %+v", c)
	}
	if err == nil || !releasetest.Mentions(err.Error(), "stage promote failed: nothing copied", "authentication failed") {
		t.Errorf("run: %v, want promote failed, saying nothing was copied and why", err)
	}
}
