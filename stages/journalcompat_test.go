package stages

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/gate"
	"github.com/async-rs/embargo/stages/release"
)

// journalV3 is the journal of a release the previous version of embargo
// (journal version 3) ran to its end, then re-ran from publish: the
// example's, with two lines, a blog and a GitHub advisory.
const journalV3 = "testdata/journal-v3.json"

// readAs is the result k names in j, as this version reads it, after
// checking that it holds everything the journal recorded: written again, it
// is the JSON the journal holds.
func readAs[T pipeline.Result](t *testing.T, j *pipeline.Journal, k pipeline.Key[T]) T {
	t.Helper()
	got, ok := pipeline.Load(j, k)
	if !ok {
		t.Errorf("%s %s: not read", k.Stage, k.Step)
		return got
	}
	var recorded json.RawMessage
	for _, st := range j.Steps(k.Stage) {
		if st.Name == k.Step {
			recorded = st.Result
		}
	}
	again, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var was, is any
	if json.Unmarshal(recorded, &was) != nil || json.Unmarshal(again, &is) != nil || !reflect.DeepEqual(was, is) {
		t.Errorf("%s %s: read as %s\nwhere the journal holds %s", k.Stage, k.Step, again, recorded)
	}
	return got
}

// A journal the previous version wrote is read by this one unchanged: every
// step's result through its key, as it was recorded, and every step's
// first moments, the push, the uploads, the post's push and the GitHub
// advisory's publication counted as the public writes they were.
func TestAJournalOfThePreviousVersionIsReadWhole(t *testing.T) {
	j, err := pipeline.ReadJournal(journalV3)
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{"1.13", "1.12"}
	versions := []string{"demo-core@1.13.1", "demo@1.13.1", "demo-core@1.12.5", "demo@1.12.5"}

	readAs(t, j, release.FetchedKey)
	for _, l := range lines {
		readAs(t, j, release.LineCheckedKey(l))
		if p := readAs(t, j, release.PackagedKey(l)); !p.Complete() {
			t.Errorf("line %s: packages %+v, want every sealed checksum", l, p)
		}
		readAs(t, j, lineReadyKey(l))
		readAs(t, j, cratesVerifiedKey(l))
	}
	readAs(t, j, release.ConventionsKey)
	readAs(t, j, release.AdvisoryCheckedKey)
	readAs(t, j, blogCheckedKey)
	readAs(t, j, ghsaCheckedKey)
	readAs(t, j, credentialsKey)
	readAs(t, j, clocksKey)
	readAs(t, j, gate.OpenedKey)
	for _, stage := range []string{release.Push, release.Publish} {
		readAs(t, j, release.HeldKey(stage))
	}
	readAs(t, j, tagsMadeKey)
	readAs(t, j, preparedKey)
	readAs(t, j, recheckedKey)
	readAs(t, j, RefsPushedKey)
	readAs(t, j, pushVerifiedKey)
	readAs(t, j, cargoKey)
	for _, nv := range versions {
		readAs(t, j, release.CratePublishedKey(nv))
	}
	readAs(t, j, release.PostRenderedKey)
	readAs(t, j, blogFetchedKey)
	readAs(t, j, postCommittedKey)
	readAs(t, j, postPushedKey)
	readAs(t, j, postOnBlogKey)
	readAs(t, j, ghsaReadKey)
	readAs(t, j, ghsaPublishedKey)
	readAs(t, j, ghsaVerifiedKey)
	readAs(t, j, feedVerifiedKey)
	readAs(t, j, postVerifiedKey)
	readAs(t, j, ghsaLiveKey)
	readAs(t, j, timelineKey)

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
