package e2e

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/sandbox/registry"
)

// A registry that limits new versions as crates.io does (a burst, then
// one per refill) slows the release and fails none of it: every version is
// uploaded once, at the instants the registry names, and once the limit
// bites the uploads go line by line, the config's first line completing
// before the next one's crates go.
func TestReleaseThroughTheRateLimitCompletesWholeLinesFirst(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, time.Now().Add(-time.Second), registry.Options{
		RateLimit: &registry.RateLimit{Versions: registry.Bucket{Burst: 1, Refill: time.Second}, Crates: registry.Bucket{Burst: 10, Refill: time.Hour}},
	})
	rl.seedCrates()
	// plan counts what the release asks of the registry, read from the
	// held branches and the registry's index.
	plan := rl.run([]string{"plan"})
	if want := "publish: 4 new version(s) to upload over 2 line(s), all of crates the registry has"; plan.code != 0 || !strings.Contains(plan.stdout, want) {
		t.Errorf("plan does not say %q: %s", want, plan)
	}
	var pj struct {
		Publish struct {
			NewVersions int  `json:"new_versions"`
			NewCrates   int  `json:"new_crates"`
			Lines       int  `json:"lines"`
			FitsWindow  bool `json:"fits_window"`
		}
	}
	if plan := rl.run([]string{"plan", "--json"}); plan.code != 0 || json.Unmarshal([]byte(plan.stdout), &pj) != nil ||
		pj.Publish.NewVersions != 4 || pj.Publish.Lines != 2 || !pj.Publish.FitsWindow {
		t.Errorf("plan --json publish = %+v: %s", pj.Publish, plan)
	}
	res := rl.run([]string{"run"})
	if res.code != 0 {
		t.Fatal(res)
	}
	rl.assertReleased()
	rl.assertPublishedOnce()
	if !strings.Contains(res.stdout, "registry answered 429") {
		t.Errorf("the rate limit is not reported:\n%s", res.stdout)
	}
	lineOf := map[string]int{}
	for i, l := range rl.ex.World.Lines {
		lineOf[l.FixVersion] = i
	}
	// The limit has bitten once a 429 was answered. An upload already in
	// flight then (the burst's own, answered after the 429 was) came before
	// it, so the order is taken of the uploads that arrived after it.
	reqs := rl.registry.Requests()
	var bitAt time.Time
	for _, r := range reqs {
		if r.Method == http.MethodPut && r.Status == http.StatusTooManyRequests {
			if end := r.Time.Add(r.Duration); bitAt.IsZero() || end.Before(bitAt) {
				bitAt = end
			}
		}
	}
	limited, last := !bitAt.IsZero(), -1
	sort.SliceStable(reqs, func(i, j int) bool { return reqs[i].Time.Before(reqs[j].Time) })
	var order []string
	for _, r := range reqs {
		if !limited || r.Method != http.MethodPut || r.Status != http.StatusOK || r.Time.Before(bitAt) {
			continue
		}
		order = append(order, r.Crate+"@"+r.Version)
		if i := lineOf[r.Version]; i < last {
			t.Errorf("after the limit bit, %s@%s (line %d) was uploaded after a crate of line %d: %v", r.Crate, r.Version, i, last, order)
		} else {
			last = i
		}
	}
	if !limited || len(order) < 2 {
		t.Errorf("the burst of 1 limited nothing, or let too few through after: %v", order)
	}
	rl.assertNoSecret(res.stdout, res.stderr)
}
