package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/index"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
	"github.com/async-rs/embargo/templates"
)

// verifyRun is a run at now on a fake clock, with its output in out.
func verifyRun(t *testing.T, window time.Duration, now time.Time) (*release.Run, *bytes.Buffer) {
	t.Helper()
	cfg := &config.Config{
		Embargo: config.EmbargoSection{ID: "DEMO-SA-2026-001", At: releasetest.T0},
		Window:  window,
		Path:    "embargo.toml",
	}
	path := filepath.Join(t.TempDir(), "journal.json")
	names := []string{release.Preflight, release.Gate, release.Push, release.Publish, release.Announce, release.Advisory, release.Verify}
	j, err := pipeline.OpenJournal(path, releasetest.EmbargoOf(cfg), names, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := pipeline.NewFakeClock(now)
	out := &bytes.Buffer{}
	return &release.Run{
		Run: &pipeline.Run{
			Gate:    &pipeline.Gate{T0: cfg.T0(), Window: window, Clock: clock},
			Journal: j,
			Out:     pipeline.NewReporter(out, false, clock, nil),
			Secrets: pipeline.NewSecrets(nil),
		},
		Release: &release.Release{Config: cfg, StateDir: filepath.Dir(path), Targets: release.Real(cfg, nil)},
	}, out
}

// advancing moves the run's fake clock on by step whenever something
// waits on it, until the test ends: the polling's waits pass at once, in
// the order and at the instants of the gate's clock.
func advancing(t *testing.T, r *release.Run, step time.Duration) *pipeline.FakeClock {
	clock := r.Gate.Clock.(*pipeline.FakeClock)
	releasetest.Advance(t, clock, step)
	return clock
}

const postPage = "<html><head><title>Out-of-bounds read in demo_core::get</title></head><body>DEMO-SA-2026-001</body></html>"

// site answers 404 for the first misses requests, then page.
func site(t *testing.T, misses int32, page string) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= misses {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(page))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestPollPostWaitsUntilThePostIsLive(t *testing.T) {
	t.Parallel()
	srv, n := site(t, 2, postPage)
	r, out := verifyRun(t, time.Hour, releasetest.T0.Add(time.Minute))
	clock := advancing(t, r, time.Second)
	obs, err := pollPost(t.Context(), r, srv.URL+"/posts/x/", []string{"DEMO-SA-2026-001"})
	if err != nil {
		t.Fatalf("pollPost: %v\n%s", err, out)
	}
	if obs.attempts != 3 || n.Load() != 3 {
		t.Errorf("%d attempts (%d requests), want 3: two 404s then the post", obs.attempts, n.Load())
	}
	if !strings.Contains(out.String(), "not live yet") || !strings.Contains(out.String(), "404") {
		t.Errorf("the wait is not reported:\n%s", out)
	}
	// The waits were the gate's clock's: a second, then two.
	if waited := clock.Now().Sub(releasetest.T0.Add(time.Minute)); waited != 3*time.Second {
		t.Errorf("the gate's clock moved %s, want the 1s and 2s of the backoff", waited)
	}
}

func TestPollPostWaitsForThePageToBeThePost(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Write([]byte("<html>a catch-all page</html>"))
			return
		}
		w.Write([]byte(postPage))
	}))
	defer srv.Close()
	r, _ := verifyRun(t, time.Hour, releasetest.T0.Add(time.Minute))
	advancing(t, r, time.Second)
	if _, err := pollPost(t.Context(), r, srv.URL, []string{"Out-of-bounds read"}); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 2 {
		t.Errorf("%d requests, want 2: a 200 without the advisory is not the post", n.Load())
	}
}

func TestPollPostDeadlinePassedWithoutThePostIsAnError(t *testing.T) {
	t.Parallel()
	srv, n := site(t, 1<<30, "")
	r, _ := verifyRun(t, time.Hour, releasetest.T0.Add(time.Hour+time.Second))
	_, err := pollPost(t.Context(), r, srv.URL+"/posts/x/", []string{"DEMO-SA-2026-001"})
	if err == nil {
		t.Fatal("no error, though the deadline passed with the post not live")
	}
	for _, want := range []string{"NOT LIVE", srv.URL + "/posts/x/", "deadline 2026-12-01T15:00:00Z", "404", "embargo run --only verify"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if n.Load() != 1 {
		t.Errorf("%d requests after the deadline, want exactly one look", n.Load())
	}
}

func TestPollPostDeadlinePassedButLiveIsFine(t *testing.T) {
	t.Parallel()
	srv, _ := site(t, 0, postPage)
	r, _ := verifyRun(t, time.Hour, releasetest.T0.Add(2*time.Hour))
	if _, err := pollPost(t.Context(), r, srv.URL, []string{"DEMO-SA-2026-001"}); err != nil {
		t.Fatal(err)
	}
}

func TestPollPostStopsAtTheDeadline(t *testing.T) {
	t.Parallel()
	// Five minutes of the window left on the gate's clock.
	deadline := releasetest.T0.Add(time.Hour)
	r, _ := verifyRun(t, time.Hour, deadline.Add(-5*time.Minute))
	clock := advancing(t, r, time.Second)
	var mu sync.Mutex
	var asked []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		asked = append(asked, clock.Now())
		mu.Unlock()
		http.NotFound(w, req)
	}))
	defer srv.Close()
	_, err := pollPost(t.Context(), r, srv.URL, []string{"DEMO-SA-2026-001"})
	if err == nil || !strings.Contains(err.Error(), "NOT LIVE") {
		t.Fatalf("err = %v, want the post not live by the deadline", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) < 3 {
		t.Errorf("only %d requests in 5 minutes of polling", len(asked))
	}
	if last := asked[len(asked)-1]; !last.Equal(deadline) {
		t.Errorf("the last look was at %s, want at the deadline %s", last.Format(time.RFC3339Nano), deadline.Format(time.RFC3339))
	}
	if now := r.Now(); !now.Equal(deadline) {
		t.Errorf("gave up at %s on the gate's clock, want at the deadline", now.Format(time.RFC3339Nano))
	}
}

func TestPollPostInterrupted(t *testing.T) {
	t.Parallel()
	srv, _ := site(t, 1<<30, "")
	r, _ := verifyRun(t, time.Hour, releasetest.T0.Add(time.Minute))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := pollPost(ctx, r, srv.URL, []string{"x"})
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err = %v, want interrupted", err)
	}
}

func TestVerifyRefusesBeforeT0(t *testing.T) {
	t.Parallel()
	r, _ := verifyRun(t, time.Hour, releasetest.T0.Add(-time.Minute))
	err := Stage{}.Run(t.Context(), r)
	if err == nil || !strings.Contains(err.Error(), "at or after T0") {
		t.Fatalf("err = %v, want a refusal before T0", err)
	}
}

func TestCrateURL(t *testing.T) {
	t.Parallel()
	sum := "abc123"
	for _, c := range []struct{ dl, name, want string }{
		{"https://static.crates.io/crates", "demo-core", "https://static.crates.io/crates/demo-core/1.2.3/download"},
		{"http://127.0.0.1:1234/api/v1/crates/", "demo-core", "http://127.0.0.1:1234/api/v1/crates/demo-core/1.2.3/download"},
		{"https://dl.example/{crate}/{crate}-{version}.crate", "Serde", "https://dl.example/Serde/Serde-1.2.3.crate"},
		{"https://dl.example/{prefix}/{lowerprefix}/{crate}", "AbCd", "https://dl.example/Ab/Cd/ab/cd/AbCd"},
		{"https://dl.example/{prefix}/{crate}", "abc", "https://dl.example/3/a/abc"},
		{"https://dl.example/{prefix}/{crate}", "a", "https://dl.example/1/a"},
		{"https://dl.example/{prefix}/{crate}", "ab", "https://dl.example/2/ab"},
		{"https://dl.example/by-sum/{sha256-checksum}", "x", "https://dl.example/by-sum/abc123"},
	} {
		if got := index.CrateURL(c.dl, c.name, "1.2.3", sum); got != c.want {
			t.Errorf("crateURL(%q, %q) = %q, want %q", c.dl, c.name, got, c.want)
		}
	}
}

func TestPostURL(t *testing.T) {
	t.Parallel()
	m := &templates.Model{URL: "https://async.rs/blog/oob/"}
	r, _ := verifyRun(t, time.Hour, releasetest.T0)
	if u, why := postURL(r.Targets, m); u != m.URL || why != "" {
		t.Errorf("a run polls %q (%s), want blog.url's %q", u, why, m.URL)
	}
	releasetest.Rehearse(r, release.Sandbox{PostSite: "http://127.0.0.1:8080"})
	if u, _ := postURL(r.Targets, m); u != "http://127.0.0.1:8080/blog/oob/" {
		t.Errorf("a rehearsal polls %q, want the post's path on its BlogURL", u)
	}
	releasetest.Rehearse(r, release.Sandbox{PostSite: "http://127.0.0.1:8080/preview/"})
	if u, _ := postURL(r.Targets, m); u != "http://127.0.0.1:8080/preview/blog/oob/" {
		t.Errorf("a rehearsal polls %q, want the post's path below its BlogURL's", u)
	}
	releasetest.Rehearse(r, release.Sandbox{Blog: "blog.git"})
	if u, why := postURL(r.Targets, m); u != "" || why == "" {
		t.Errorf("a rehearsal without a BlogURL polls %q", u)
	}
}

func TestTimelineRecordsEachStageAndTheMargin(t *testing.T) {
	t.Parallel()
	r, out := verifyRun(t, 6*time.Hour, releasetest.T0.Add(90*time.Second))
	ended := map[string]time.Duration{"preflight": -time.Hour, "gate": 0, "push": 2 * time.Second, "publish": 40 * time.Second, "advisory": time.Minute}
	releasetest.Rewrite(t, r, func(j *pipeline.Snapshot) {
		for _, s := range j.Stages {
			if d, ok := ended[s.Name]; ok {
				at := releasetest.T0.Add(d)
				s.State, s.Ended = pipeline.StateDone, &at
			}
		}
	})
	var res Timeline
	timeline(r, &res)
	got := map[string]string{
		"t0":             res.T0.Format(time.RFC3339),
		"stage publish":  res.Stages["publish"],
		"stage advisory": res.Stages["advisory"],
		"deadline":       res.Deadline.Format(time.RFC3339),
		"margin":         res.Margin.String(),
		"within_window":  fmt.Sprint(res.WithinWindow),
	}
	want := map[string]string{
		"t0":             "2026-12-01T14:00:00Z",
		"stage publish":  "2026-12-01T14:00:40Z",
		"stage advisory": "2026-12-01T14:01:00Z",
		"deadline":       "2026-12-01T20:00:00Z",
		"margin":         "5h58m30s",
		"within_window":  "true",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, line := range []string{"T0 + 40s", "T0 - 1h", "5h58m30s to spare"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("timeline lacks %q:\n%s", line, out)
		}
	}
}

// sealedRun is a run whose journal holds preflight's sealed checksum of
// demo-core 1.0.0 (none when sealed is ""), releasing from reg.
func sealedRun(t *testing.T, reg *httptest.Server, sealed string) (*release.Run, *bytes.Buffer) {
	t.Helper()
	r, out := verifyRun(t, time.Hour, releasetest.T0.Add(time.Minute))
	rel := config.Release{Line: "1.0", Branch: "embargo/1.0", Tag: "v1.0.0"}
	r.Config.Releases = []config.Release{rel}
	r.Config.Registry.Index = "sparse+" + reg.URL + "/index/"
	releasetest.Retarget(r)
	releasetest.Record(t, r, release.LineCheckedKey(rel.Line), release.LineChecked{Crates: []string{"demo-core@1.0.0"}})
	if sealed != "" {
		releasetest.Record(t, r, release.PackagedKey(rel.Line), release.Packaged{Order: []string{"demo-core@1.0.0"}, Sha256: map[string]string{"demo-core@1.0.0": sealed}})
	}
	return r, out
}

func TestVerifyCratesDownloadsAndComparesWithTheSealedChecksum(t *testing.T) {
	t.Parallel()
	crate := []byte("the sealed bytes")
	r, out := sealedRun(t, releasetest.Registry(t, releasetest.Sum(crate), crate), releasetest.Sum(crate))
	var res CratesVerified
	if err := verifyCrates(t.Context(), r, openRegistry(t.Context(), r, release.RealClients().Registry), nil, r.Config.Releases[0], &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Sha256["demo-core@1.0.0"] != releasetest.Sum(crate) || res.ComparedWith != "sealed" {
		t.Errorf("results %+v", res)
	}
}

func TestVerifyCratesRefusesBytesOtherThanTheSealed(t *testing.T) {
	t.Parallel()
	crate := []byte("the sealed bytes")
	// The index agrees with the seal, the file served does not.
	r, _ := sealedRun(t, releasetest.Registry(t, releasetest.Sum(crate), []byte("other bytes")), releasetest.Sum(crate))
	err := verifyCrates(t.Context(), r, openRegistry(t.Context(), r, release.RealClients().Registry), nil, r.Config.Releases[0], &CratesVerified{})
	if err == nil || !strings.Contains(err.Error(), "serves a .crate with sha256 "+releasetest.Sum([]byte("other bytes"))) {
		t.Fatalf("err = %v, want the served checksum named", err)
	}
	// The index disagrees with the seal.
	r, _ = sealedRun(t, releasetest.Registry(t, releasetest.Sum([]byte("x")), crate), releasetest.Sum(crate))
	err = verifyCrates(t.Context(), r, openRegistry(t.Context(), r, release.RealClients().Registry), nil, r.Config.Releases[0], &CratesVerified{})
	if err == nil || !strings.Contains(err.Error(), "not the sealed "+releasetest.Sum(crate)) {
		t.Fatalf("err = %v, want the index checksum refused", err)
	}
}

func TestVerifyCratesWithoutASealComparesWithTheIndex(t *testing.T) {
	t.Parallel()
	crate := []byte("bytes")
	r, out := sealedRun(t, releasetest.Registry(t, releasetest.Sum(crate), crate), "")
	var res CratesVerified
	if err := verifyCrates(t.Context(), r, openRegistry(t.Context(), r, release.RealClients().Registry), nil, r.Config.Releases[0], &res); err != nil {
		t.Fatal(err)
	}
	if res.ComparedWith != "index" || !strings.Contains(res.Summary(), "no sealed checksums") {
		t.Errorf("results %+v do not say the index was the reference", res)
	}
	if !strings.Contains(out.String(), "no sealed checksums in the journal") {
		t.Errorf("no warning:\n%s", out)
	}
}

// A version that a run uploaded but never saw in the index (cut short, or
// out of patience) was found there by the run after it: the timeline says
// it was visible by that look, beside its first upload.
func TestTheTimelineSaysAVersionNeverSeenVisibleWasVisibleByTheNextLook(t *testing.T) {
	t.Parallel()
	r, out := verifyRun(t, 6*time.Hour, releasetest.T0.Add(11*time.Minute))
	key := release.CratePublishedKey("demo-core@1.13.1")
	uploaded, seen := releasetest.T0, releasetest.T0.Add(10*time.Minute)
	notSeen := errors.New("the index never showed it")
	for _, attempt := range []struct {
		res release.CratePublished
		err error
	}{{release.CratePublished{UploadedAt: uploaded}, notSeen}, {release.CratePublished{SeenAt: seen}, nil}} {
		publish := releasetest.Stage{Called: release.Publish, Fn: func(r *release.Run) error {
			_, err := pipeline.Step(r.Run, key, func(res *release.CratePublished) error { *res = attempt.res; return attempt.err })
			return err
		}}
		if err := releasetest.Execute(t, r, pipeline.Selection{}, publish); !errors.Is(err, attempt.err) {
			t.Fatalf("publish: %v, want %v", err, attempt.err)
		}
	}
	timeline(r, &Timeline{})
	want := fmt.Sprintf("demo-core@1.13.1 uploaded %s  (T0 + 0s), visible by %s  (T0 + 10m)", uploaded.Format(time.RFC3339), seen.Format(time.RFC3339))
	if !strings.Contains(out.String(), want) {
		t.Errorf("the timeline says\n%s\nwant %q", out.String(), want)
	}
}

// accepted is a step whose one public write is a mail the server took, as
// the announce stage records each of its mails.
type accepted struct{ At time.Time }

func (accepted) Summary() string { return "" }
func (a accepted) Moments() []pipeline.Moment {
	return []pipeline.Moment{{Name: "accepted_at", At: a.At, Public: true}}
}

// A stage with several public writes of no subject of their own (the
// announcement and the notice) has each named by its step on the
// timeline, not two lines alike.
func TestTheTimelineNamesEachPublicStepOfAStageWithSeveral(t *testing.T) {
	t.Parallel()
	r, out := verifyRun(t, 6*time.Hour, releasetest.T0.Add(time.Minute))
	mails := releasetest.Stage{Called: release.Announce, Fn: func(r *release.Run) error {
		for i, step := range []string{"announcement", "notice"} {
			key := pipeline.Key[accepted]{Stage: release.Announce, Step: step}
			if _, err := pipeline.Step(r.Run, key, func(res *accepted) error { res.At = releasetest.T0.Add(time.Duration(i) * time.Second); return nil }); err != nil {
				return err
			}
		}
		return nil
	}}
	if err := releasetest.Execute(t, r, pipeline.Selection{}, mails); err != nil {
		t.Fatal(err)
	}
	timeline(r, &Timeline{})
	for _, want := range []string{
		fmt.Sprintf("announcement accepted %s  (T0 + 0s)", releasetest.T0.Format(time.RFC3339)),
		fmt.Sprintf("notice accepted %s  (T0 + 1s)", releasetest.T0.Add(time.Second).Format(time.RFC3339)),
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the timeline says\n%s\nwant %q", out.String(), want)
		}
	}
}
