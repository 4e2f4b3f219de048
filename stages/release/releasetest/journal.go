package releasetest

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/async-rs/embargo/pipeline"
)

// JournalV3 is the journal of a release the previous version of embargo
// (journal version 3) ran to its end, then re-ran from publish: the
// example's, with two lines, a blog and a GitHub advisory. Each stage's
// tests read their steps from it through their keys.
func JournalV3(t *testing.T) *pipeline.Journal {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	j, err := pipeline.ReadJournal(filepath.Join(filepath.Dir(here), "testdata", "journal-v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// ReadAs is the result k names in j, as this version reads it, after
// checking that it holds everything the journal recorded: written again, it
// is the JSON the journal holds.
func ReadAs[T pipeline.Result](t *testing.T, j *pipeline.Journal, k pipeline.Key[T]) T {
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
