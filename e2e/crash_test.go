package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A kill -9 at any step of the whole pipeline, followed by a re-run, ends
// in the state of a run with no crash: branches and tags at the held tips,
// every crate uploaded exactly once with its sealed checksum, exactly one
// advisory commit on the blog. The crash points are every step's start and
// end, read from the journal of a clean run, so a step added later is
// covered without touching this test.
func TestKill9AtEveryStepOfTheWholeRunThenRerunConverges(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills a run at every step; skipped with -short")
	}
	points := crashPoints(t)
	if len(points) < 40 {
		t.Fatalf("only %d crash points found in a clean run: %v", len(points), points)
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			bl := newServedBlogRelease(t, time.Now().Add(-time.Second).Truncate(time.Second))
			crash := bl.run([]string{"run"}, "EMBARGO_TEST_KILL_AT="+point)
			if !crash.killed {
				t.Fatalf("the run was not killed at %s: %s", point, crash)
			}
			res := bl.run([]string{"run"})
			if res.code != 0 {
				t.Fatalf("re-run after a kill at %s: %s", point, res)
			}
			bl.assertReleased()
			bl.release.assertPublishedOnce()
			bl.release.assertOneUploadAttemptEach()
			bl.assertPublishedOnce(bl.base)
			if n := bl.pushes() - bl.blogPushes(); n != 1 {
				t.Errorf("%d pushes of the release refs, want 1", n)
			}
		})
	}
}

// crashPoints runs the whole pipeline once and lists the crash point
// before and after each of its steps.
func crashPoints(t *testing.T) []string {
	t.Helper()
	bl := newServedBlogRelease(t, time.Now().Add(-time.Second).Truncate(time.Second))
	if res := bl.run([]string{"run"}); res.code != 0 {
		t.Fatalf("clean run: %s", res)
	}
	b, err := os.ReadFile(filepath.Join(bl.dir, ".embargo", "journal.json"))
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Stages []struct {
			Name  string
			Steps []struct{ Name string }
		}
	}
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range j.Stages {
		for _, st := range s.Steps {
			p := s.Name + "." + strings.ReplaceAll(st.Name, " ", "_")
			out = append(out, p+".started", p+".ran")
		}
	}
	return out
}
