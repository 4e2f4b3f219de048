package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/registry"
)

// journal reads the release's journal as `embargo status` does.
func (rl *release) journal() *pipeline.Journal {
	rl.t.Helper()
	j, err := pipeline.ReadJournal(filepath.Join(rl.dir, ".embargo", "journal.json"))
	if err != nil {
		rl.t.Fatal(err)
	}
	return j
}

// A re-run from publish after the release finds every crate already on
// the registry: the journal still holds when each was uploaded and showed
// in the index the first time, and the timeline and status report those
// times, not the re-run's.
func TestARerunFromPublishKeepsTheFirstUploadTimes(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, time.Now().Add(-time.Second), registry.Options{})
	if res := rl.run([]string{"run"}); res.code != 0 {
		t.Fatal(res)
	}
	first := rl.stepResults("publish", "publish ")
	blogPush := rl.stepResults("advisory", "push")["push"]["pushed_at"]
	if len(first) != len(rl.versions()) || blogPush == "" {
		t.Fatalf("the run recorded %d publish steps (want %d), blog push at %q", len(first), len(rl.versions()), blogPush)
	}
	time.Sleep(time.Second) // the re-run's times differ from the run's, to the second

	again := rl.run([]string{"run", "--from", "publish"})
	if again.code != 0 {
		t.Fatal(again)
	}
	rerun := rl.stepResults("publish", "publish ")
	j := rl.journal()
	for step, res := range first {
		if rerun[step]["summary"] != "already on the registry with the sealed checksum" {
			t.Fatalf("%s in the re-run: %v, want it found on the registry", step, rerun[step])
		}
		var rec *pipeline.StepRecord
		for _, st := range j.Snapshot().Stage("publish").Steps {
			if st.Name == step {
				rec = st
			}
		}
		if len(rec.Attempts) != 2 || rec.Attempts[0].Summary != "published; the index shows the sealed checksum" || rec.Attempts[1].Summary != rerun[step]["summary"] {
			t.Errorf("%s: attempts %+v, want the upload then the re-run's observation", step, rec.Attempts)
		}
		for _, key := range []string{"uploaded_at", "visible_at"} {
			if res[key] == "" || rec.FirstAt(key) != res[key] {
				t.Errorf("%s: first %s = %q, want the run's %q", step, key, rec.FirstAt(key), res[key])
			}
			if got := rl.verifyResult("timeline", "publish/"+step+" "+key); got != res[key] {
				t.Errorf("the re-run's timeline has %s %s = %q, want the first %q", step, key, got, res[key])
			}
		}
		up, err := time.Parse(time.RFC3339Nano, res["uploaded_at"])
		if err != nil {
			t.Fatal(err)
		}
		nv := strings.TrimPrefix(step, "publish ")
		if want := nv + " uploaded " + up.UTC().Format(time.RFC3339); !strings.Contains(again.stdout, want) {
			t.Errorf("the re-run's timeline lacks %q:\n%s", want, again.stdout)
		}
	}
	if got := rl.verifyResult("timeline", "advisory/push pushed_at"); got != blogPush {
		t.Errorf("the timeline has the blog pushed at %q, want the first push %q", got, blogPush)
	}

	status := rl.run([]string{"status"})
	if status.code != 0 || !strings.Contains(status.stdout, "2 attempts; first uploaded ") {
		t.Errorf("status does not show the history of the publish steps:\n%s", status)
	}
}
