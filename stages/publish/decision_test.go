package publish

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// The publish stage against a fake index and a fake cargo: which versions
// it uploads, skips or refuses, with which bytes, and when, without a
// registry or a cargo binary. The held branches, the vault and the line's
// worktrees are real git on this disk; the sealed .crate files are where
// preflight's cargo left them.

// publish runs the publish stage alone, as `embargo run --only publish`.
func publishAlone(t *testing.T, w *releasetest.PublishWorld) error {
	t.Helper()
	return releasetest.Execute(t, w.R, pipeline.Selection{Only: release.Publish}, publishStage(w))
}

// stage is the publish stage given the world's index and cargo.
func publishStage(w *releasetest.PublishWorld) Stage {
	return Stage{Vault: w.Clients.Vault, Index: w.Clients.Index, Cargo: w.Clients.Cargo}
}

// result is the journal's record of nv's publish step.
func resultOf(w *releasetest.PublishWorld, nv string) release.CratePublished {
	res, _ := pipeline.Load(w.R.Journal, release.CratePublishedKey(nv))
	return res
}

// Versions absent from the index are uploaded once each, with the sealed
// bytes and the registry's token, no earlier than T0; the step waits until
// the index shows each, and a re-run uploads nothing again.
func TestPublishUploadsWhatTheIndexLacksOnceAtT0(t *testing.T) {
	t.Parallel()
	w := releasetest.NewPublishWorld(t)
	w.Idx.Hidden = map[string]int{"demo-core@1.13.1": 2} // the index lags the upload
	releasetest.Advance(t, w.Clock, pollFast)            // the polls for it

	// Before T0, without its gate (--only), the stage looks at the index
	// and refuses to upload.
	w.Clock.Set(releasetest.T0.Add(-time.Minute))
	err := publishAlone(t, w)
	var early *pipeline.EarlyError
	if !errors.As(err, &early) {
		t.Fatalf("publish before T0: %v, want the gate's refusal", err)
	}
	if u := w.Cargo.Uploaded(); len(u) != 0 {
		t.Fatalf("uploaded before T0: %+v", u)
	}

	w.Clock.Set(releasetest.T0.Add(time.Second))
	if err := publishAlone(t, w); err != nil {
		t.Fatalf("publish at T0: %v", err)
	}
	want := []string{"demo-core@1.13.1", "demo@1.12.5", "demo@1.13.1"}
	if got := w.Cargo.Versions(); !slices.Equal(got, want) {
		t.Fatalf("uploaded %q, want each version once: %q", got, want)
	}
	for _, u := range w.Cargo.Uploaded() {
		if u.Sha256 != releasetest.Sum(releasetest.SealedBytes(u.NV)) {
			t.Errorf("%s uploaded with sha256 %s, not the sealed %s", u.NV, u.Sha256, releasetest.Sum(releasetest.SealedBytes(u.NV)))
		}
		if u.Token != releasetest.PublishToken {
			t.Errorf("%s uploaded with token %q, want the registry's", u.NV, u.Token)
		}
		if u.At.Before(releasetest.T0) {
			t.Errorf("%s uploaded at %s, before T0", u.NV, u.At)
		}
		res := resultOf(w, u.NV)
		if res.VisibleAt.IsZero() || res.VisibleAt.Before(res.UploadedAt) || res.Sha256 != u.Sha256 {
			t.Errorf("%s: the step records uploaded %s, visible %s, sha256 %s; want seen in the index after the upload with the sealed checksum", u.NV, res.UploadedAt, res.VisibleAt, res.Sha256)
		}
	}
	if res := resultOf(w, "demo-core@1.13.1"); !res.VisibleAt.After(res.UploadedAt) {
		t.Errorf("demo-core@1.13.1 visible at %s, uploaded at %s: the step did not wait for the index to show it", res.VisibleAt, res.UploadedAt)
	}
	// demo depends on demo-core: it is uploaded only once the index
	// shows demo-core.
	up := w.Cargo.Uploaded()
	at := func(nv string) time.Time {
		i := slices.IndexFunc(up, func(u releasetest.Upload) bool { return u.NV == nv })
		return up[i].At
	}
	if at("demo@1.13.1").Before(resultOf(w, "demo-core@1.13.1").VisibleAt) {
		t.Errorf("demo@1.13.1 uploaded at %s, before the index showed demo-core@1.13.1 at %s", at("demo@1.13.1"), resultOf(w, "demo-core@1.13.1").VisibleAt)
	}

	w.Clock.Advance(time.Minute)
	if err := publishAlone(t, w); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if n := len(w.Cargo.Uploaded()); n != len(want) {
		t.Errorf("%d uploads after a re-run, want the first run's %d: every version is in the index", n, len(want))
	}
	for _, nv := range want {
		if res := resultOf(w, nv); res.Text != "already on the registry with the sealed checksum" {
			t.Errorf("re-run, %s: %q", nv, res.Text)
		}
	}
}

// A version is public from the moment the registry accepted its upload:
// the journal's uploaded_at is when that answer reached cargo, not when
// cargo started, which a registry slow to answer puts well before.
func TestPublishRecordsTheUploadWhenTheRegistryAcceptedIt(t *testing.T) {
	t.Parallel()
	w := releasetest.NewPublishWorld(t)
	w.Cargo.AnswerIn = 300 * time.Millisecond
	w.Clock.Set(releasetest.T0.Add(time.Second))
	if err := publishAlone(t, w); err != nil {
		t.Fatalf("publish: %v", err)
	}
	for _, u := range w.Cargo.Uploaded() {
		res := resultOf(w, u.NV)
		if d := res.UploadedAt.Sub(u.At); d < w.Cargo.AnswerIn {
			t.Errorf("%s: cargo started at %s, uploaded_at %s (%s later), want the registry's acceptance, at least %s later",
				u.NV, u.At.Format(time.RFC3339Nano), res.UploadedAt.Format(time.RFC3339Nano), d, w.Cargo.AnswerIn)
		}
	}
}

// A version already in the index with the sealed checksum, yanked since or
// not, is the release's own: it is not uploaded again, and the line goes
// on with the rest.
func TestPublishSkipsAVersionThereWithTheSealedChecksum(t *testing.T) {
	t.Parallel()
	for _, yanked := range []bool{false, true} {
		t.Run(fmt.Sprintf("yanked=%v", yanked), func(t *testing.T) {
			w := releasetest.NewPublishWorld(t)
			w.Idx.Put("demo-core@1.13.1", releasetest.SealedBytes("demo-core@1.13.1"), yanked)
			w.Clock.Set(releasetest.T0.Add(time.Second))
			if err := publishAlone(t, w); err != nil {
				t.Fatalf("publish: %v", err)
			}
			if got, want := w.Cargo.Versions(), []string{"demo@1.12.5", "demo@1.13.1"}; !slices.Equal(got, want) {
				t.Errorf("uploaded %q, want %q: demo-core@1.13.1 is there already", got, want)
			}
			if res := resultOf(w, "demo-core@1.13.1"); res.Text != "already on the registry with the sealed checksum" || !res.UploadedAt.IsZero() {
				t.Errorf("demo-core@1.13.1: %+v, want it skipped", res)
			}
		})
	}
}

// A version in the index with other bytes was published by someone else
// and can never be replaced: its line stops there, naming both checksums,
// and uploads nothing after it; the other line is published.
func TestPublishRefusesAVersionThereWithOtherBytes(t *testing.T) {
	t.Parallel()
	w := releasetest.NewPublishWorld(t)
	other := []byte("someone else's demo-core 1.13.1")
	w.Idx.Put("demo-core@1.13.1", other, false)
	w.Clock.Set(releasetest.T0.Add(time.Second))
	err := publishAlone(t, w)
	if err == nil || !releasetest.Mentions(err.Error(), "demo-core@1.13.1", releasetest.Sum(other), releasetest.Sum(releasetest.SealedBytes("demo-core@1.13.1")), "cannot be replaced") {
		t.Fatalf("publish: %v, want the refusal naming the registry's and the sealed checksum", err)
	}
	if got, want := w.Cargo.Versions(), []string{"demo@1.12.5"}; !slices.Equal(got, want) {
		t.Errorf("uploaded %q, want only the other line's %q: nothing after the refused version in its line", got, want)
	}
	if e, _, _ := w.Idx.Lookup(t.Context(), "demo-core", "1.13.1"); e.Cksum != releasetest.Sum(other) {
		t.Errorf("the index now shows %s for demo-core@1.13.1", e.Cksum)
	}
}

// A run that uploaded a version but never saw the index show it (cut
// short, or out of patience) recorded no visible_at: the run after it
// finds the version there and records when it looked, for the timeline to
// say the version was visible by then.
func TestAVersionNeverSeenVisibleIsSeenByTheNextRunsLook(t *testing.T) {
	t.Parallel()
	w := releasetest.NewPublishWorld(t)
	w.Idx.Hidden = map[string]int{"demo-core@1.13.1": 1 << 20} // longer than the wait for it
	releasetest.Advance(t, w.Clock, pollFast)
	w.Clock.Set(releasetest.T0)
	if err := publishAlone(t, w); err == nil {
		t.Fatal("publish saw demo-core@1.13.1 in an index that never showed it")
	}
	if res := resultOf(w, "demo-core@1.13.1"); res.UploadedAt.IsZero() || !res.VisibleAt.IsZero() {
		t.Fatalf("first run: %+v, want uploaded and never seen", res)
	}

	w.Idx.Hidden = nil
	resumed := releasetest.T0.Add(10 * time.Minute)
	w.Clock.Set(resumed)
	if err := publishAlone(t, w); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if res := resultOf(w, "demo-core@1.13.1"); res.SeenAt.Before(resumed) || res.SeenAt.After(resumed.Add(time.Second)) {
		t.Errorf("the re-run found demo-core@1.13.1 at %s, recorded seen_at %s", resumed, res.SeenAt)
	}
	if res := resultOf(w, "demo@1.12.5"); !res.SeenAt.IsZero() {
		t.Errorf("demo@1.12.5, seen visible by the first run, got a seen_at too: %+v", res)
	}
}
