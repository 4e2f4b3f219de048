// Package releasetest is the fake world the stages are tested in: a run
// of a release on a fake clock, the engine to run stages in, and fakes of
// the clients (git, the blog, GitHub, the image registries, the
// registry's index and cargo) that stamp each write with the clock's
// time, with no server and no binary.
package releasetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

func Sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// T0 is the embargo instant of the fake worlds.
var T0 = time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)

// ClientsWith are the real clients as edit changes them: a test's fakes
// for some, the real ones for the rest.
func ClientsWith(edit func(*release.Clients)) release.Clients {
	c := release.RealClients()
	edit(&c)
	return c
}

// StageNames are the release's stages, in order.
var StageNames = []string{release.Preflight, release.Gate, release.Push, release.Promote, release.Publish, release.Announce, release.Advisory, release.GHSA, release.Notice, release.Verify}

// Run is a run of cfg at now on a fake clock, its journal and output
// in a temporary directory, with the secrets env holds, to the targets cfg
// names.
func Run(t *testing.T, cfg *config.Config, now time.Time, env map[string]string) (*release.Run, *pipeline.FakeClock, *bytes.Buffer) {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = "embargo.toml"
	}
	dir := t.TempDir()
	j, err := pipeline.OpenJournal(filepath.Join(dir, "journal.json"), EmbargoOf(cfg), StageNames, nil)
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

// Looking is a run of cfg to the targets it names, with neither journal
// nor gate: what plan reads.
func Looking(cfg *config.Config) *release.Run {
	return &release.Run{Run: &pipeline.Run{}, Release: &release.Release{Config: cfg, Targets: release.Real(cfg, nil)}}
}

// Retarget resolves r's targets again, from its config as a test changed
// it after Run and the secrets r holds now.
func Retarget(r *release.Run) { r.Targets = release.Real(r.Config, r.Secrets) }

// Rehearse makes r a rehearsal, its targets sandbox's.
func Rehearse(r *release.Run, sandbox release.Sandbox) {
	r.Mode.Command = release.Rehearsing
	r.Targets = sandbox.Targets(r.Config)
}

// EmbargoOf is the release a journal of cfg records.
func EmbargoOf(cfg *config.Config) pipeline.Embargo {
	return pipeline.Embargo{ID: cfg.Embargo.ID, T0: cfg.T0(), Window: cfg.Window}
}

// Rewrite replaces r's journal with the one edit makes of it, as an
// earlier run would have left it on disk.
func Rewrite(t *testing.T, r *release.Run, edit func(*pipeline.Snapshot)) {
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
	if r.Journal, err = pipeline.OpenJournal(path, EmbargoOf(r.Config), r.Journal.StageNames(), nil); err != nil {
		t.Fatal(err)
	}
}

// Prepared is a preflight that checks nothing and finishes: run before T0,
// it is what lets a later run past T0 proceed without --late.
var Prepared = Stage{Fn: func(r *release.Run) error {
	_, err := pipeline.Step(r.Run, pipeline.Key[pipeline.Said]{Stage: release.Preflight, Step: "checked"}, func(*pipeline.Said) error { return nil })
	return err
}}

// Execute runs stages in an engine of their own, as `embargo run` would
// (sel.Only for `--only`).
func Execute(t *testing.T, r *release.Run, sel pipeline.Selection, stages ...release.Stage) error {
	t.Helper()
	return release.Engine(stages, r.Release).Execute(t.Context(), r.Run, sel)
}

// Mentions is whether s says every one of words.
func Mentions(s string, words ...string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// Stage is a stand-in preflight that records step results as the real
// one does.
type Stage struct {
	Called string // release.Preflight when empty
	Fn     func(r *release.Run) error
	After  []string
}

func (s Stage) Name() string {
	if s.Called == "" {
		return release.Preflight
	}
	return s.Called
}

func (Stage) Summary() string { return "" }

func (s Stage) Needs() []string { return s.After }

func (s Stage) Run(_ context.Context, r *release.Run) error { return s.Fn(r) }

// Record puts v in r's journal as the result of a done step, as an
// earlier run would have left it.
func Record[T pipeline.Result](t *testing.T, r *release.Run, k pipeline.Key[T], v T) {
	t.Helper()
	earlier := Stage{Called: k.Stage, Fn: func(r *release.Run) error {
		_, err := pipeline.Step(r.Run, k, func(res *T) error { *res = v; return nil })
		return err
	}}
	if err := Execute(t, r, pipeline.Selection{}, earlier); err != nil {
		t.Fatal(err)
	}
}

// AwaitWaiters returns once n things wait on the clock.
func AwaitWaiters(t *testing.T, clock *pipeline.FakeClock, n int, ended <-chan error) {
	t.Helper()
	if err := clock.AwaitWaiters(n, ended, 10*time.Second); err != nil {
		t.Fatalf("waiting for T0: %v", err)
	}
}

// Advance moves clock on by step whenever something waits on it, until
// the test ends.
func Advance(t *testing.T, clock *pipeline.FakeClock, step time.Duration) {
	t.Cleanup(clock.Drive(step))
}
