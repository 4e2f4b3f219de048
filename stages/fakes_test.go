package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/github"
	"github.com/async-rs/embargo/stages/index"
	"github.com/async-rs/embargo/stages/oci"
	"github.com/async-rs/embargo/stages/release"
)

// fakeT0 is the embargo instant of the fake worlds.
var fakeT0 = time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)

// clientsWith are the real clients as edit changes them: a test's fakes
// for some, the real ones for the rest.
func clientsWith(edit func(*release.Clients)) release.Clients {
	c := release.RealClients()
	edit(&c)
	return c
}

// stageNames are the release's stages, in order.
var stageNames = []string{release.Preflight, release.Gate, release.Push, release.Promote, release.Publish, release.Advisory, release.GHSA, release.Verify}

// fakeRun is a run of cfg at now on a fake clock, its journal and output
// in a temporary directory, with the secrets env holds, to the targets cfg
// names.
func fakeRun(t *testing.T, cfg *config.Config, now time.Time, env map[string]string) (*release.Run, *pipeline.FakeClock, *bytes.Buffer) {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = "embargo.toml"
	}
	dir := t.TempDir()
	j, err := pipeline.OpenJournal(filepath.Join(dir, "journal.json"), embargoOf(cfg), stageNames, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := pipeline.NewFakeClock(now)
	secrets := pipeline.NewSecrets(func(name string) (string, bool) { v, ok := env[name]; return v, ok })
	out := &bytes.Buffer{}
	return &release.Run{
		Run: &pipeline.Run{
			Gate:    &pipeline.Gate{T0: cfg.T0(), Window: cfg.Window, Clock: clock},
			Journal: j,
			Out:     pipeline.NewReporter(out, false, clock, secrets.Scrub),
			Secrets: secrets,
		},
		Release: &release.Release{Config: cfg, StateDir: dir, Targets: release.Real(cfg, secrets)},
	}, clock, out
}

// looking is a run of cfg to the targets it names, with neither journal
// nor gate: what plan reads.
func looking(cfg *config.Config) *release.Run {
	return &release.Run{Run: &pipeline.Run{}, Release: &release.Release{Config: cfg, Targets: release.Real(cfg, nil)}}
}

// retarget resolves r's targets again, from its config as a test changed
// it after fakeRun and the secrets r holds now.
func retarget(r *release.Run) { r.Targets = release.Real(r.Config, r.Secrets) }

// rehearse makes r a rehearsal, its targets sandbox's.
func rehearse(r *release.Run, sandbox release.Sandbox) {
	r.Mode.Command = release.Rehearsing
	r.Targets = sandbox.Targets(r.Config)
}

// embargoOf is the release a journal of cfg records.
func embargoOf(cfg *config.Config) pipeline.Embargo {
	return pipeline.Embargo{ID: cfg.Embargo.ID, T0: cfg.T0(), Window: cfg.Window}
}

// rewrite replaces r's journal with the one edit makes of it, as an
// earlier run would have left it on disk.
func rewrite(t *testing.T, r *release.Run, edit func(*pipeline.Snapshot)) {
	t.Helper()
	snap := r.Journal.Snapshot()
	edit(snap)
	b, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "journal.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if r.Journal, err = pipeline.OpenJournal(path, embargoOf(r.Config), r.Journal.StageNames(), nil); err != nil {
		t.Fatal(err)
	}
}

// prepared is a preflight that checks nothing and finishes: run before T0,
// it is what lets a later run past T0 proceed without --late.
var prepared = recordingPreflight{fn: func(r *release.Run) error {
	_, err := pipeline.Step(r.Run, pipeline.Key[pipeline.Said]{Stage: release.Preflight, Step: "checked"}, func(*pipeline.Said) error { return nil })
	return err
}}

// execute runs stages in an engine of their own, as `embargo run` would
// (sel.Only for `--only`).
func execute(t *testing.T, r *release.Run, sel pipeline.Selection, stages ...release.Stage) error {
	t.Helper()
	return release.Engine(stages, r.Release).Execute(t.Context(), r.Run, sel)
}

// --- GitHub ---

// fakeGitHub is one repository security advisory, changed by PATCHes as
// GitHub changes it, each write stamped with the clock's time.
type fakeGitHub struct {
	mu    sync.Mutex
	clock *pipeline.FakeClock
	adv   github.Advisory
	reads int
	// writes are the PATCHes received, in order.
	writes []fakePatch
	// loseAnswers is how many PATCHes are applied but answered with an
	// error, as when the connection drops after GitHub wrote.
	loseAnswers int
	// made is the API and token of each client made.
	made []string
}

type fakePatch struct {
	at time.Time
	u  github.Update
}

func newFakeGitHub(clock *pipeline.FakeClock, adv github.Advisory) *fakeGitHub {
	return &fakeGitHub{clock: clock, adv: adv}
}

// client is the fake as the stages' GitHub factory.
func (g *fakeGitHub) client(api string, opts github.Options) release.AdvisoryAPI {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.made = append(g.made, api+" "+opts.Token)
	return g
}

func (g *fakeGitHub) Advisory(_ context.Context, repo, id string) (*github.Advisory, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reads++
	if repo+"/"+id != ghsaRepo+"/"+g.adv.GHSAID {
		return nil, &github.Error{Method: "GET", URL: repo + "/" + id, Status: 404, Message: "Not Found"}
	}
	return g.copyLocked(), nil
}

func (g *fakeGitHub) Update(_ context.Context, repo, id string, u github.Update) (*github.Advisory, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if repo+"/"+id != ghsaRepo+"/"+g.adv.GHSAID {
		return nil, &github.Error{Method: "PATCH", URL: repo + "/" + id, Status: 404, Message: "Not Found"}
	}
	now := g.clock.Now()
	g.writes = append(g.writes, fakePatch{at: now, u: u})
	a := &g.adv
	if u.Vulnerabilities != nil {
		a.Vulnerabilities = slices.Clone(u.Vulnerabilities)
	}
	if u.Severity != "" {
		a.Severity, a.CVSS = &u.Severity, nil
	}
	if u.CVSSVectorString != "" {
		a.CVSS, a.Severity = &github.CVSS{VectorString: u.CVSSVectorString}, nil
	}
	if u.Credits != nil {
		a.Credits = slices.Clone(u.Credits)
	}
	if u.CVEID != "" {
		a.CVEID = &u.CVEID
	}
	if u.State != "" {
		if u.State == "published" && a.State != "published" {
			a.PublishedAt = &now
		}
		a.State = u.State
	}
	if g.loseAnswers > 0 {
		g.loseAnswers--
		return nil, fmt.Errorf("PATCH %s/%s: connection reset by peer", repo, id)
	}
	return g.copyLocked(), nil
}

func (g *fakeGitHub) copyLocked() *github.Advisory {
	a := g.adv
	a.Vulnerabilities = slices.Clone(a.Vulnerabilities)
	a.Credits = slices.Clone(a.Credits)
	return &a
}

func (g *fakeGitHub) patches() []fakePatch {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.writes)
}

func (g *fakeGitHub) advisory() github.Advisory {
	g.mu.Lock()
	defer g.mu.Unlock()
	return *g.copyLocked()
}

// --- images ---

// fakeImages is the image registries: what each reference resolves to,
// and the copies made, each stamped with the clock's time.
type fakeImages struct {
	mu     sync.Mutex
	clock  *pipeline.FakeClock
	refs   map[string]string // reference -> digest
	copies []fakeCopy
	// lands, when set, is what a copy lands instead of the source's
	// digest, as when the source changed underneath.
	lands string
}

type fakeCopy struct {
	at       time.Time
	src, dst string
}

func newFakeImages(clock *pipeline.FakeClock, refs map[string]string) *fakeImages {
	return &fakeImages{clock: clock, refs: refs}
}

func (f *fakeImages) Resolve(_ context.Context, ref string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.refs[ref]
	if !ok {
		return "", fmt.Errorf("%s: %w", ref, oci.ErrNotFound)
	}
	return d, nil
}

func (f *fakeImages) Copy(_ context.Context, src, dst string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.refs[src]
	if !ok {
		return "", fmt.Errorf("%s: %w", src, oci.ErrNotFound)
	}
	if f.lands != "" {
		d = f.lands
	}
	f.refs[dst] = d
	f.copies = append(f.copies, fakeCopy{at: f.clock.Now(), src: src, dst: dst})
	return d, nil
}

func (f *fakeImages) copied() []fakeCopy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.copies)
}

// --- the registry ---

// fakeCrates is a registry's index and downloads: entries by
// name@version, .crate bytes by download URL.
type fakeCrates struct {
	mu        sync.Mutex
	dl        string
	entries   map[string]index.Entry
	files     map[string][]byte
	downloads []string
}

func (f *fakeCrates) URL() string { return "sparse+https://index.registry.example/" }

func (f *fakeCrates) Config(context.Context) (index.Config, error) {
	return index.Config{DL: f.dl}, nil
}

func (f *fakeCrates) Lookup(_ context.Context, name, version string) (index.Entry, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.entries[name+"@"+version]
	return e, ok, nil
}

func (f *fakeCrates) Download(_ context.Context, url string, w io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.downloads = append(f.downloads, url)
	b, ok := f.files[url]
	if !ok {
		return fmt.Errorf("GET %s: 404 Not Found", url)
	}
	_, err := w.Write(b)
	return err
}

// add puts name@version in the index with the checksum of body, and body
// at its download URL.
func (f *fakeCrates) add(name, version string, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := index.Entry{Name: name, Vers: version, Cksum: sum(body)}
	f.entries[name+"@"+version] = e
	f.files[index.CrateURL(f.dl, name, version, e.Cksum)] = body
}

func newFakeCrates() *fakeCrates {
	return &fakeCrates{dl: "https://static.registry.example/crates", entries: map[string]index.Entry{}, files: map[string][]byte{}}
}

// mentions is whether s says every one of words.
func mentions(s string, words ...string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}
