package releasetest

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

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/index"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/retry"
)

const (
	PublishTokenEnv = "CARGO_REGISTRY_TOKEN"
	PublishToken    = "cio-publish-token"
	PublishCargo    = "cargo 1.95.0 (f2d3ce0bd 2026-03-21)"
)

// PublishCrates are the sealed packages of the two lines, in publish
// order: demo depends on demo-core in 1.13.
var PublishCrates = map[string][]string{
	"1.13": {"demo-core@1.13.1", "demo@1.13.1"},
	"1.12": {"demo@1.12.5"},
}

// SealedBytes is what preflight packaged of nv.
func SealedBytes(nv string) []byte { return []byte("the sealed .crate of " + nv) }

// PublishWorld is a release of two lines prepared an hour before T0: its
// held branches in a source clone, its packages sealed in the journal and
// in the worktrees, the stages given idx and cg.
type PublishWorld struct {
	R       *release.Run
	Clock   *pipeline.FakeClock
	Idx     *Index
	Cargo   *Cargo
	Clients release.Clients
}

func NewPublishWorld(t *testing.T) *PublishWorld {
	t.Helper()
	cfg := &config.Config{
		Embargo:  config.EmbargoSection{ID: "DEMO-SA-2026-001", At: T0},
		Source:   config.SourceSection{Repo: HeldSource(t, "embargo/1.13", "embargo/1.12")},
		Releases: []config.Release{{Line: "1.13", Branch: "embargo/1.13", Tag: "v1.13.1"}, {Line: "1.12", Branch: "embargo/1.12", Tag: "v1.12.5"}},
		Registry: config.RegistrySection{Name: "crates-io", Index: "sparse+https://index.registry.example/", TokenEnv: PublishTokenEnv},
		Window:   6 * time.Hour,
	}
	r, clock, _ := Run(t, cfg, T0.Add(-time.Hour), map[string]string{PublishTokenEnv: PublishToken})
	w := &PublishWorld{R: r, Clock: clock, Idx: &Index{Crates: NewCrates()}}
	w.Cargo = &Cargo{Clock: clock, idx: w.Idx}
	w.Clients = ClientsWith(func(c *release.Clients) {
		c.Index = func(release.Registry, retry.Clock) (release.RegistryIndex, error) { return w.Idx, nil }
		c.Cargo = func(*cargo.Cargo) release.LineCargo { return LineCargo{f: w.Cargo} }
	})
	// Preflight, before T0, recorded each line's packages and left the
	// .crate files beside the line's worktree.
	sealed := Stage{Fn: func(r *release.Run) error {
		for _, rel := range cfg.Releases {
			var pkgs []cargo.Package
			for _, nv := range PublishCrates[rel.Line] {
				name, version := release.SplitNV(nv)
				file := cargo.PackagedFile(release.WorktreeDir(r.StateDir, rel.Line), name, version)
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					return err
				}
				if err := os.WriteFile(file, SealedBytes(nv), 0o644); err != nil {
					return err
				}
				pkgs = append(pkgs, cargo.Package{Name: name, Version: version, File: file, Sha256: Sum(SealedBytes(nv))})
			}
			if _, err := pipeline.Step(r.Run, release.PackagedKey(rel.Line), func(res *release.Packaged) error {
				*res = release.PackagedOf(pkgs, PublishCargo, "")
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	}}
	if err := Execute(t, r, pipeline.Selection{}, sealed); err != nil {
		t.Fatal(err)
	}
	return w
}

// HeldSource is a source clone whose branches all hold one commit, with
// its Cargo.lock committed.
func HeldSource(t *testing.T, branches ...string) string {
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
	h, err := wt.Commit("Fix the out-of-bounds read", &git.CommitOptions{Author: &object.Signature{Name: "Jane Doe", Email: "jane@example.org", When: T0.Add(-48 * time.Hour)}})
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

// Index is the registry's index as publish reads it: Crates'
// entries, which the fake cargo's uploads add to. It serves no View:
// cargo then resolves through the registry, as with a registry read with a
// token.
type Index struct {
	*Crates
	// Hidden, by name@version, is how many more looks do not show an
	// uploaded version yet, as the index lags the registry.
	Hidden map[string]int
	// API is the registry's web API, as config.json names it.
	API string
}

func (f *Index) Lookup(ctx context.Context, name, version string) (index.Entry, bool, error) {
	e, found, err := f.Crates.Lookup(ctx, name, version)
	f.mu.Lock()
	defer f.mu.Unlock()
	if nv := name + "@" + version; found && f.Hidden[nv] > 0 {
		f.Hidden[nv]--
		return index.Entry{}, false, nil
	}
	return e, found, err
}

func (f *Index) WantsToken() bool { return false }

// Config is the registry's config.json: its downloads, and its API when
// the test gives it one (api).
func (f *Index) Config(context.Context) (index.Config, error) {
	return index.Config{DL: f.DL, API: f.API}, nil
}

func (f *Index) Versions(_ context.Context, name string) ([]index.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []index.Entry
	for _, e := range f.Entries {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *Index) PublishedAt(context.Context, string, string) (time.Time, bool, error) {
	return time.Time{}, false, nil
}

func (f *Index) Prefetch(context.Context, []string, int) {}

func (f *Index) Serve() (*index.View, error) {
	return nil, errors.New("the fake index serves no view")
}

// Put puts nv in the index with the checksum of body.
func (f *Index) Put(nv string, body []byte, yanked bool) {
	name, version := release.SplitNV(nv)
	f.Add(name, version, body)
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.Entries[nv]
	e.Yanked = yanked
	f.Entries[nv] = e
}

// Cargo is every line's cargo: its uploads are the .crate files
// preflight left in the line's target directory, put in the index at once.
type Cargo struct {
	mu      sync.Mutex
	Clock   *pipeline.FakeClock
	idx     *Index
	uploads []Upload
	// AnswerIn is how long after cargo's start the registry's acceptance
	// reaches it: its start-up, its reads and the registry's latency.
	AnswerIn time.Duration
	// Refusing, when set, is what cargo says of an upload the registry
	// refused, storing nothing: of every upload, or of the first
	// refusals. Refused counts them.
	Refusing string
	Refusals int
	Refused  int
}

// Upload is one `cargo publish`: the version, the sha256 of the bytes
// uploaded, the token and the clock's time.
type Upload struct {
	NV, Sha256, Token string
	At                time.Time
}

func (f *Cargo) Uploaded() []Upload {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.uploads)
}

func (f *Cargo) Versions() []string {
	var out []string
	for _, u := range f.Uploaded() {
		out = append(out, u.NV)
	}
	slices.Sort(out)
	return out
}

type LineCargo struct {
	f     *Cargo
	token string
}

func (c LineCargo) Version(context.Context) (string, error) { return PublishCargo, nil }

func (c LineCargo) Lock(context.Context, string) error {
	return errors.New("the fake cargo resolves no lockfile")
}

func (c LineCargo) Package(context.Context, string, []*cargo.Crate) ([]cargo.Package, error) {
	return nil, errors.New("the fake cargo packages nothing: the sealed packages are in the worktree")
}

func (c LineCargo) WithView(string, string) release.LineCargo { return c }

func (c LineCargo) ResolvesThroughView() bool { return false }

func (c LineCargo) WithToken(tok string) release.LineCargo { c.token = tok; return c }

func (c LineCargo) StartPublish(_ context.Context, dir, crate string) (release.Upload, error) {
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
	if f.Refusing != "" && (f.Refusals == 0 || f.Refused < f.Refusals) {
		f.Refused++
		f.mu.Unlock()
		return refusedUpload{&cargo.PublishError{Output: f.Refusing}}, nil
	}
	f.uploads = append(f.uploads, Upload{NV: crate + "@" + version, Sha256: Sum(body), Token: c.token, At: f.Clock.Now()})
	f.mu.Unlock()
	f.idx.Add(crate, version, body)
	f.Clock.Advance(f.AnswerIn)
	return acceptedUpload{at: f.Clock.Now()}, nil
}

// refusedUpload is an upload the registry refused.
type refusedUpload struct{ err *cargo.PublishError }

func (u refusedUpload) Accepted(context.Context) error { return u.err }

func (refusedUpload) AcceptedAt() time.Time { return time.Time{} }

func (refusedUpload) Stop() {}

// acceptedUpload is an upload the registry accepted; cargo reported it at
// at, on the gate's clock.
type acceptedUpload struct{ at time.Time }

func (acceptedUpload) Accepted(context.Context) error { return nil }

func (u acceptedUpload) AcceptedAt() time.Time { return u.at }

func (acceptedUpload) Stop() {}
