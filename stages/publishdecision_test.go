package stages

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/index"
)

// The publish stage against a fake index and a fake cargo: which versions
// it uploads, skips or refuses, with which bytes, and when, without a
// registry or a cargo binary. The held branches, the vault and the line's
// worktrees are real git on this disk; the sealed .crate files are where
// preflight's cargo left them.

const (
	publishTokenEnv = "CARGO_REGISTRY_TOKEN"
	publishToken    = "cio-publish-token"
	publishCargo    = "cargo 1.95.0 (f2d3ce0bd 2026-03-21)"
)

// publishCrates are the sealed packages of the two lines, in publish
// order: demo depends on demo-core in 1.13.
var publishCrates = map[string][]string{
	"1.13": {"demo-core@1.13.1", "demo@1.13.1"},
	"1.12": {"demo@1.12.5"},
}

// sealedBytes is what preflight packaged of nv.
func sealedBytes(nv string) []byte { return []byte("the sealed .crate of " + nv) }

// publishWorld is a release of two lines prepared an hour before T0: its
// held branches in a source clone, its packages sealed in the journal and
// in the worktrees, the stages given idx and cg.
type publishWorld struct {
	r     *pipeline.Run
	clock *pipeline.FakeClock
	idx   *fakeIndex
	cg    *fakeCargo
}

func newPublishWorld(t *testing.T) *publishWorld {
	t.Helper()
	cfg := &pipeline.Config{
		Embargo:  pipeline.EmbargoSection{ID: "DEMO-SA-2026-001", At: fakeT0},
		Source:   pipeline.SourceSection{Repo: heldSource(t, "embargo/1.13", "embargo/1.12")},
		Releases: []pipeline.Release{{Line: "1.13", Branch: "embargo/1.13", Tag: "v1.13.1"}, {Line: "1.12", Branch: "embargo/1.12", Tag: "v1.12.5"}},
		Registry: pipeline.RegistrySection{Name: "crates-io", Index: "sparse+https://index.registry.example/", TokenEnv: publishTokenEnv},
		Window:   6 * time.Hour,
	}
	r, clock, _ := fakeRun(t, cfg, fakeT0.Add(-time.Hour), map[string]string{publishTokenEnv: publishToken})
	w := &publishWorld{r: r, clock: clock, idx: &fakeIndex{fakeCrates: newFakeCrates()}}
	w.cg = &fakeCargo{clock: clock, idx: w.idx}
	useClients(t, func(c *Clients) {
		c.Index = func(*pipeline.Run) (RegistryIndex, error) { return w.idx, nil }
		c.Cargo = func(*pipeline.Run, pipeline.Release) LineCargo { return fakeLineCargo{f: w.cg} }
	})
	// Preflight, before T0, recorded each line's packages and left the
	// .crate files beside the line's worktree.
	sealed := recordingPreflight{fn: func(r *pipeline.Run) error {
		for _, rel := range cfg.Releases {
			var pkgs []cargo.Package
			for _, nv := range publishCrates[rel.Line] {
				name, version := splitNV(nv)
				file := cargo.PackagedFile(worktreeDir(r, rel), name, version)
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					return err
				}
				if err := os.WriteFile(file, sealedBytes(nv), 0o644); err != nil {
					return err
				}
				pkgs = append(pkgs, cargo.Package{Name: name, Version: version, File: file, Sha256: sum(sealedBytes(nv))})
			}
			if _, err := pipeline.Step(r, packageStep(rel), func(res *Packaged) error {
				*res = packagedOf(pkgs, publishCargo, "")
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	}}
	if err := execute(t, r, pipeline.Selection{}, sealed); err != nil {
		t.Fatal(err)
	}
	return w
}

// publish runs the publish stage alone, as `embargo run --only publish`.
func (w *publishWorld) publish(t *testing.T) error {
	t.Helper()
	return execute(t, w.r, pipeline.Selection{Only: "publish"}, Publish{})
}

// result is the journal's record of nv's publish step.
func (w *publishWorld) result(nv string) CratePublished {
	res, _ := pipeline.Load[CratePublished](w.r.Journal, "publish", "publish "+nv)
	return res
}

// heldSource is a source clone whose branches all hold one commit, with
// its Cargo.lock committed.
func heldSource(t *testing.T, branches ...string) string {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"Cargo.toml":           "[workspace]\nmembers = [\"demo-core\", \"demo\"]\n",
		cargo.LockfileName:     "version = 4\n",
		"demo-core/src/lib.rs": "// the fix\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			t.Fatal(err)
		}
	}
	h, err := wt.Commit("Fix the out-of-bounds read", &git.CommitOptions{Author: &object.Signature{Name: "Jane Doe", Email: "jane@example.org", When: fakeT0.Add(-48 * time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range branches {
		if err := repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(b), h)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fakeIndex is the registry's index as publish reads it: fakeCrates'
// entries, which the fake cargo's uploads add to. It serves no View:
// cargo then resolves through the registry, as with a registry read with a
// token.
type fakeIndex struct {
	*fakeCrates
	// hidden, by name@version, is how many more looks do not show an
	// uploaded version yet, as the index lags the registry.
	hidden map[string]int
	// api is the registry's web API, as config.json names it.
	api string
}

func (f *fakeIndex) Lookup(ctx context.Context, name, version string) (index.Entry, bool, error) {
	e, found, err := f.fakeCrates.Lookup(ctx, name, version)
	f.mu.Lock()
	defer f.mu.Unlock()
	if nv := name + "@" + version; found && f.hidden[nv] > 0 {
		f.hidden[nv]--
		return index.Entry{}, false, nil
	}
	return e, found, err
}

func (f *fakeIndex) WantsToken() bool { return false }

// Config is the registry's config.json: its downloads, and its API when
// the test gives it one (api).
func (f *fakeIndex) Config(context.Context) (index.Config, error) {
	return index.Config{DL: f.dl, API: f.api}, nil
}

func (f *fakeIndex) Versions(_ context.Context, name string) ([]index.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []index.Entry
	for _, e := range f.entries {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeIndex) PublishedAt(context.Context, string, string) (time.Time, bool, error) {
	return time.Time{}, false, nil
}

func (f *fakeIndex) Prefetch(context.Context, []string, int) {}

func (f *fakeIndex) Serve() (*index.View, error) {
	return nil, errors.New("the fake index serves no view")
}

// put puts nv in the index with the checksum of body.
func (f *fakeIndex) put(nv string, body []byte, yanked bool) {
	name, version := splitNV(nv)
	f.add(name, version, body)
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.entries[nv]
	e.Yanked = yanked
	f.entries[nv] = e
}

// fakeCargo is every line's cargo: its uploads are the .crate files
// preflight left in the line's target directory, put in the index at once.
type fakeCargo struct {
	mu      sync.Mutex
	clock   *pipeline.FakeClock
	idx     *fakeIndex
	uploads []fakeUpload
	// answerIn is how long after cargo's start the registry's acceptance
	// reaches it: its start-up, its reads and the registry's latency.
	answerIn time.Duration
	// refusing, when set, is what cargo says of an upload the registry
	// refused, storing nothing: of every upload, or of the first
	// refusals. refused counts them.
	refusing string
	refusals int
	refused  int
}

// fakeUpload is one `cargo publish`: the version, the sha256 of the bytes
// uploaded, the token and the clock's time.
type fakeUpload struct {
	nv, sha256, token string
	at                time.Time
}

func (f *fakeCargo) uploaded() []fakeUpload {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.uploads)
}

func (f *fakeCargo) versions() []string {
	var out []string
	for _, u := range f.uploaded() {
		out = append(out, u.nv)
	}
	slices.Sort(out)
	return out
}

type fakeLineCargo struct {
	f     *fakeCargo
	token string
}

func (c fakeLineCargo) Version(context.Context) (string, error) { return publishCargo, nil }

func (c fakeLineCargo) Lock(context.Context, string) error {
	return errors.New("the fake cargo resolves no lockfile")
}

func (c fakeLineCargo) Package(context.Context, string, []*cargo.Crate) ([]cargo.Package, error) {
	return nil, errors.New("the fake cargo packages nothing: the sealed packages are in the worktree")
}

func (c fakeLineCargo) WithView(string, string) LineCargo { return c }
func (c fakeLineCargo) ResolvesThroughView() bool         { return false }
func (c fakeLineCargo) WithToken(tok string) LineCargo    { c.token = tok; return c }
func (c fakeLineCargo) StartPublish(_ context.Context, dir, crate string) (Upload, error) {
	files, err := filepath.Glob(filepath.Join(cargo.TargetDir(dir), "package", crate+"-[0-9]*.crate"))
	if err != nil || len(files) != 1 {
		return nil, fmt.Errorf("cargo publish -p %s: packaged %q (%v)", crate, files, err)
	}
	body, err := os.ReadFile(files[0])
	if err != nil {
		return nil, err
	}
	version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(files[0]), crate+"-"), ".crate")
	f := c.f
	f.mu.Lock()
	if f.refusing != "" && (f.refusals == 0 || f.refused < f.refusals) {
		f.refused++
		f.mu.Unlock()
		return refusedUpload{&cargo.PublishError{Output: f.refusing}}, nil
	}
	f.uploads = append(f.uploads, fakeUpload{nv: crate + "@" + version, sha256: sum(body), token: c.token, at: f.clock.Now()})
	f.mu.Unlock()
	f.idx.add(crate, version, body)
	f.clock.Advance(f.answerIn)
	return acceptedUpload{at: f.clock.Now()}, nil
}

// refusedUpload is an upload the registry refused.
type refusedUpload struct{ err *cargo.PublishError }

func (u refusedUpload) Accepted(context.Context) error { return u.err }
func (refusedUpload) AcceptedAt() time.Time            { return time.Time{} }
func (refusedUpload) Stop()                            {}

// acceptedUpload is an upload the registry accepted; cargo reported it at
// at, on the gate's clock.
type acceptedUpload struct{ at time.Time }

func (acceptedUpload) Accepted(context.Context) error { return nil }
func (u acceptedUpload) AcceptedAt() time.Time        { return u.at }
func (acceptedUpload) Stop()                          {}

// Versions absent from the index are uploaded once each, with the sealed
// bytes and the registry's token, no earlier than T0; the step waits until
// the index shows each, and a re-run uploads nothing again.
func TestPublishUploadsWhatTheIndexLacksOnceAtT0(t *testing.T) {
	w := newPublishWorld(t)
	w.idx.hidden = map[string]int{"demo-core@1.13.1": 2} // the index lags the upload
	advance(t, w.clock, pollFast)                        // the polls for it

	// Before T0, without its gate (--only), the stage looks at the index
	// and refuses to upload.
	w.clock.Set(fakeT0.Add(-time.Minute))
	err := w.publish(t)
	var early *pipeline.EarlyError
	if !errors.As(err, &early) {
		t.Fatalf("publish before T0: %v, want the gate's refusal", err)
	}
	if u := w.cg.uploaded(); len(u) != 0 {
		t.Fatalf("uploaded before T0: %+v", u)
	}

	w.clock.Set(fakeT0.Add(time.Second))
	if err := w.publish(t); err != nil {
		t.Fatalf("publish at T0: %v", err)
	}
	want := []string{"demo-core@1.13.1", "demo@1.12.5", "demo@1.13.1"}
	if got := w.cg.versions(); !slices.Equal(got, want) {
		t.Fatalf("uploaded %q, want each version once: %q", got, want)
	}
	for _, u := range w.cg.uploaded() {
		if u.sha256 != sum(sealedBytes(u.nv)) {
			t.Errorf("%s uploaded with sha256 %s, not the sealed %s", u.nv, u.sha256, sum(sealedBytes(u.nv)))
		}
		if u.token != publishToken {
			t.Errorf("%s uploaded with token %q, want the registry's", u.nv, u.token)
		}
		if u.at.Before(fakeT0) {
			t.Errorf("%s uploaded at %s, before T0", u.nv, u.at)
		}
		res := w.result(u.nv)
		if res.VisibleAt.IsZero() || res.VisibleAt.Before(res.UploadedAt) || res.Sha256 != u.sha256 {
			t.Errorf("%s: the step records uploaded %s, visible %s, sha256 %s; want seen in the index after the upload with the sealed checksum", u.nv, res.UploadedAt, res.VisibleAt, res.Sha256)
		}
	}
	if res := w.result("demo-core@1.13.1"); !res.VisibleAt.After(res.UploadedAt) {
		t.Errorf("demo-core@1.13.1 visible at %s, uploaded at %s: the step did not wait for the index to show it", res.VisibleAt, res.UploadedAt)
	}
	// demo depends on demo-core: it is uploaded only once the index
	// shows demo-core.
	up := w.cg.uploaded()
	at := func(nv string) time.Time {
		i := slices.IndexFunc(up, func(u fakeUpload) bool { return u.nv == nv })
		return up[i].at
	}
	if at("demo@1.13.1").Before(w.result("demo-core@1.13.1").VisibleAt) {
		t.Errorf("demo@1.13.1 uploaded at %s, before the index showed demo-core@1.13.1 at %s", at("demo@1.13.1"), w.result("demo-core@1.13.1").VisibleAt)
	}

	w.clock.Advance(time.Minute)
	if err := w.publish(t); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if n := len(w.cg.uploaded()); n != len(want) {
		t.Errorf("%d uploads after a re-run, want the first run's %d: every version is in the index", n, len(want))
	}
	for _, nv := range want {
		if res := w.result(nv); res.Text != "already on the registry with the sealed checksum" {
			t.Errorf("re-run, %s: %q", nv, res.Text)
		}
	}
}

// A version is public from the moment the registry accepted its upload:
// the journal's uploaded_at is when that answer reached cargo, not when
// cargo started, which a registry slow to answer puts well before.
func TestPublishRecordsTheUploadWhenTheRegistryAcceptedIt(t *testing.T) {
	w := newPublishWorld(t)
	w.cg.answerIn = 300 * time.Millisecond
	w.clock.Set(fakeT0.Add(time.Second))
	if err := w.publish(t); err != nil {
		t.Fatalf("publish: %v", err)
	}
	for _, u := range w.cg.uploaded() {
		res := w.result(u.nv)
		if d := res.UploadedAt.Sub(u.at); d < w.cg.answerIn {
			t.Errorf("%s: cargo started at %s, uploaded_at %s (%s later), want the registry's acceptance, at least %s later",
				u.nv, u.at.Format(time.RFC3339Nano), res.UploadedAt.Format(time.RFC3339Nano), d, w.cg.answerIn)
		}
	}
}

// A version already in the index with the sealed checksum, yanked since or
// not, is the release's own: it is not uploaded again, and the line goes
// on with the rest.
func TestPublishSkipsAVersionThereWithTheSealedChecksum(t *testing.T) {
	for _, yanked := range []bool{false, true} {
		t.Run(fmt.Sprintf("yanked=%v", yanked), func(t *testing.T) {
			w := newPublishWorld(t)
			w.idx.put("demo-core@1.13.1", sealedBytes("demo-core@1.13.1"), yanked)
			w.clock.Set(fakeT0.Add(time.Second))
			if err := w.publish(t); err != nil {
				t.Fatalf("publish: %v", err)
			}
			if got, want := w.cg.versions(), []string{"demo@1.12.5", "demo@1.13.1"}; !slices.Equal(got, want) {
				t.Errorf("uploaded %q, want %q: demo-core@1.13.1 is there already", got, want)
			}
			if res := w.result("demo-core@1.13.1"); res.Text != "already on the registry with the sealed checksum" || !res.UploadedAt.IsZero() {
				t.Errorf("demo-core@1.13.1: %+v, want it skipped", res)
			}
		})
	}
}

// A version in the index with other bytes was published by someone else
// and can never be replaced: its line stops there, naming both checksums,
// and uploads nothing after it; the other line is published.
func TestPublishRefusesAVersionThereWithOtherBytes(t *testing.T) {
	w := newPublishWorld(t)
	other := []byte("someone else's demo-core 1.13.1")
	w.idx.put("demo-core@1.13.1", other, false)
	w.clock.Set(fakeT0.Add(time.Second))
	err := w.publish(t)
	if err == nil || !mentions(err.Error(), "demo-core@1.13.1", sum(other), sum(sealedBytes("demo-core@1.13.1")), "cannot be replaced") {
		t.Fatalf("publish: %v, want the refusal naming the registry's and the sealed checksum", err)
	}
	if got, want := w.cg.versions(), []string{"demo@1.12.5"}; !slices.Equal(got, want) {
		t.Errorf("uploaded %q, want only the other line's %q: nothing after the refused version in its line", got, want)
	}
	if e, _, _ := w.idx.Lookup(t.Context(), "demo-core", "1.13.1"); e.Cksum != sum(other) {
		t.Errorf("the index now shows %s for demo-core@1.13.1", e.Cksum)
	}
}

// A run that uploaded a version but never saw the index show it (cut
// short, or out of patience) recorded no visible_at: the run after it
// finds the version there and records when it looked, and the timeline
// says the version was visible by then, beside its first upload.
func TestAVersionNeverSeenVisibleIsVisibleByTheNextRunsLook(t *testing.T) {
	w := newPublishWorld(t)
	w.idx.hidden = map[string]int{"demo-core@1.13.1": 1 << 20} // longer than the wait for it
	advance(t, w.clock, pollFast)
	w.clock.Set(fakeT0)
	if err := w.publish(t); err == nil {
		t.Fatal("publish saw demo-core@1.13.1 in an index that never showed it")
	}
	uploaded := w.result("demo-core@1.13.1").UploadedAt
	if uploaded.IsZero() || !w.result("demo-core@1.13.1").VisibleAt.IsZero() {
		t.Fatalf("first run: %+v, want uploaded and never seen", w.result("demo-core@1.13.1"))
	}

	w.idx.hidden = nil
	resumed := fakeT0.Add(10 * time.Minute)
	w.clock.Set(resumed)
	if err := w.publish(t); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	res := w.result("demo-core@1.13.1")
	if res.SeenAt.Before(resumed) || res.SeenAt.After(resumed.Add(time.Second)) {
		t.Errorf("the re-run found demo-core@1.13.1 at %s, recorded seen_at %s", resumed, res.SeenAt)
	}
	if w.result("demo@1.12.5").SeenAt != (time.Time{}) {
		t.Errorf("demo@1.12.5, seen visible by the first run, got a seen_at too: %+v", w.result("demo@1.12.5"))
	}

	var out strings.Builder
	w.r.Out = pipeline.NewReporter(&out, false, w.clock, nil)
	timeline(w.r, &Timeline{})
	want := fmt.Sprintf("demo-core@1.13.1 uploaded %s  (T0 + 0s), visible by %s  (T0 + 10m)", uploaded.Format(time.RFC3339), res.SeenAt.Format(time.RFC3339))
	if !strings.Contains(out.String(), want) {
		t.Errorf("the timeline says\n%s\nwant %q", out.String(), want)
	}
}
