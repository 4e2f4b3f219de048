package stages

import (
	"reflect"
	"testing"

	"github.com/async-rs/embargo/stages/gate"
	"github.com/async-rs/embargo/stages/push"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// A journal the previous version wrote is read by this one unchanged: every
// step's result through its key, as it was recorded (each stage's own
// steps are read by its package's tests), and every step's first moments,
// the push, the uploads, the post's push and the GitHub advisory's
// publication counted as the public writes they were.
func TestAJournalOfThePreviousVersionIsReadWhole(t *testing.T) {
	t.Parallel()
	j := releasetest.JournalV3(t)
	lines := []string{"1.13", "1.12"}
	versions := []string{"demo-core@1.13.1", "demo@1.13.1", "demo-core@1.12.5", "demo@1.12.5"}

	releasetest.ReadAs(t, j, release.FetchedKey)
	for _, l := range lines {
		releasetest.ReadAs(t, j, release.LineCheckedKey(l))
		if p := releasetest.ReadAs(t, j, release.PackagedKey(l)); !p.Complete() {
			t.Errorf("line %s: packages %+v, want every sealed checksum", l, p)
		}
	}
	releasetest.ReadAs(t, j, release.ConventionsKey)
	releasetest.ReadAs(t, j, release.AdvisoryCheckedKey)
	releasetest.ReadAs(t, j, gate.OpenedKey)
	for _, stage := range []string{release.Push, release.Publish} {
		releasetest.ReadAs(t, j, release.HeldKey(stage))
	}
	releasetest.ReadAs(t, j, push.RefsPushedKey)
	for _, nv := range versions {
		releasetest.ReadAs(t, j, release.CratePublishedKey(nv))
	}
	releasetest.ReadAs(t, j, release.PostRenderedKey)

	// Every moment keeps the time it first had; a public write is one
	// still.
	writes := map[string]bool{}
	for _, s := range j.Snapshot().Stages {
		for _, st := range s.Steps {
			for k, v := range st.First {
				if got := st.FirstAt(k); got != v {
					t.Errorf("%s %s: first %s = %q, the journal says %q", s.Name, st.Name, k, got, v)
				}
			}
			for _, m := range st.FirstMoments() {
				if m.Public {
					writes[s.Name+" "+st.Name+" "+m.Name] = true
				}
			}
		}
	}
	want := map[string]bool{"push push pushed_at": true, "advisory push pushed_at": true, "ghsa publish published_at": true}
	for _, nv := range versions {
		want["publish publish "+nv+" uploaded_at"] = true
	}
	if !reflect.DeepEqual(writes, want) {
		t.Errorf("public writes = %v, want %v", writes, want)
	}
}
