package release_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/internal/durable"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/demo"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
	"github.com/async-rs/embargo/stages/seal"
)

const (
	sealCargo = "cargo 1.95.0 (f2d3ce0bd 2026-03-21)"
	heldA     = "1111111111111111111111111111111111111111"
	heldB     = "2222222222222222222222222222222222222222"
)

// sealCheckRun is a run of a two-line config file whose preflight recorded
// pkgs (per line) with cargo, and the seal that matches it.
func sealCheckRun(t *testing.T, cargoVersion string, pkgs map[string][]cargo.Package) (*release.Run, *seal.Manifest) {
	t.Helper()
	return sealCheckRunWithLocks(t, cargoVersion, pkgs, nil)
}

// sealCheckRunWithLocks is sealCheckRun whose preflight recorded, per line,
// the sha256 of the Cargo.lock it pinned.
func sealCheckRunWithLocks(t *testing.T, cargoVersion string, pkgs map[string][]cargo.Package, locks map[string]string) (*release.Run, *seal.Manifest) {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "embargo.toml")
	if err := os.WriteFile(cfgPath, []byte("# the config\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	cfg := &config.Config{
		Embargo:     config.EmbargoSection{ID: "DEMO-SA-2026-001", At: t0},
		Releases:    []config.Release{{Line: "1.13", Branch: "embargo/1.13", Tag: "v1.13.1"}, {Line: "1.12", Branch: "embargo/1.12", Tag: "v1.12.5"}},
		Advisory:    config.AdvisorySection{Description: "advisory.md"},
		Path:        cfgPath,
		Dir:         dir,
		Window:      time.Hour,
		Description: "the text",
	}
	j, err := pipeline.OpenJournal("", releasetest.EmbargoOf(cfg), []string{"preflight"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := pipeline.NewFakeClock(t0.Add(-time.Hour))
	r := &release.Run{
		Run: &pipeline.Run{Gate: &pipeline.Gate{T0: t0, Window: time.Hour, Clock: clock}, Journal: j,
			Out: pipeline.NewReporter(&bytes.Buffer{}, false, clock, nil), Secrets: pipeline.NewSecrets(nil)},
		Release: &release.Release{Config: cfg, StateDir: filepath.Join(dir, ".embargo"), Targets: release.Real(cfg, nil)},
	}
	preflight := releasetest.Stage{Fn: func(r *release.Run) error {
		for _, rel := range cfg.Releases {
			if p, ok := pkgs[rel.Line]; ok {
				if _, err := pipeline.Step(r.Run, release.PackagedKey(rel.Line), func(res *release.Packaged) error {
					*res = release.PackagedOf(p, cargoVersion, locks[rel.Line])
					return nil
				}); err != nil {
					return err
				}
			}
		}
		return nil
	}}
	if err := releasetest.Execute(t, r, pipeline.Selection{}, preflight); err != nil {
		t.Fatal(err)
	}
	m := &seal.Manifest{ID: cfg.Embargo.ID, T0: t0, Cargo: sealCargo,
		Config:      seal.File{Path: "embargo.toml", Sha256: seal.Sha256([]byte("# the config\n"))},
		Description: seal.File{Path: "advisory.md", Sha256: seal.Sha256([]byte("the text"))},
		Lines: []seal.Line{
			{Line: "1.13", Branch: "embargo/1.13", Held: heldA, Tag: "v1.13.1", Crates: []seal.Crate{{Name: "demo-core", Version: "1.13.1", Sha256: "aa"}, {Name: "demo", Version: "1.13.1", Sha256: "bb"}}},
			{Line: "1.12", Branch: "embargo/1.12", Held: heldB, Tag: "v1.12.5", Crates: []seal.Crate{{Name: "demo", Version: "1.12.5", Sha256: "cc"}}},
		}}
	return r, m
}

func sealCheckPackages() map[string][]cargo.Package {
	return map[string][]cargo.Package{
		"1.13": {{Name: "demo-core", Version: "1.13.1", Sha256: "aa"}, {Name: "demo", Version: "1.13.1", Sha256: "bb"}},
		"1.12": {{Name: "demo", Version: "1.12.5", Sha256: "cc"}},
	}
}

func tipsOf(a, b string) func(config.Release) (plumbing.Hash, bool) {
	return func(rel config.Release) (plumbing.Hash, bool) {
		if rel.Line == "1.13" {
			return plumbing.NewHash(a), true
		}
		return plumbing.NewHash(b), true
	}
}

func findingsText(fs []pipeline.Finding) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.String())
	}
	return strings.Join(s, "\n")
}

func TestCompareSealAsSealed(t *testing.T) {
	t.Parallel()
	r, m := sealCheckRun(t, sealCargo, sealCheckPackages())
	if fs := release.CompareSeal(r, m, tipsOf(heldA, heldB), true); len(fs) != 0 {
		t.Errorf("a release as sealed has findings:\n%s", findingsText(fs))
	}
}

func TestCompareSealNamesEveryDifference(t *testing.T) {
	t.Parallel()
	pkgs := sealCheckPackages()
	pkgs["1.13"][1].Sha256 = "b2" // demo@1.13.1 packages to other bytes
	r, m := sealCheckRun(t, sealCargo, pkgs)
	if err := os.WriteFile(r.Config.Path, []byte("# the config, edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Config.Description = "the text, edited"
	fs := release.CompareSeal(r, m, tipsOf(heldA, "3333333333333333333333333333333333333333"), true)
	text := findingsText(fs)
	for _, want := range []string{
		"the config changed since it was sealed",
		"the advisory description changed since it was sealed",
		"held branch embargo/1.12 moved since it was sealed: sealed 222222222222, now 333333333333",
		"demo@1.13.1 packages to sha256 b2, not the sealed bb",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("findings lack %q:\n%s", want, text)
		}
	}
	if len(fs) != 4 {
		t.Errorf("%d findings, want 4:\n%s", len(fs), text)
	}
}

func TestCompareSealCargoVersion(t *testing.T) {
	t.Parallel()
	r, m := sealCheckRun(t, "cargo 1.96.0 (0000000 2026-05-01)", sealCheckPackages())
	text := findingsText(release.CompareSeal(r, m, tipsOf(heldA, heldB), true))
	if !strings.Contains(text, `cargo here is "cargo 1.96.0 (0000000 2026-05-01)", but the release was sealed with "`+sealCargo+`"`) ||
		strings.Count(text, "cargo here is") != 1 {
		t.Errorf("cargo version difference not said once, clearly:\n%s", text)
	}
}

func TestCompareSealBeforePushNeedsCheckedPackages(t *testing.T) {
	t.Parallel()
	pkgs := sealCheckPackages()
	delete(pkgs, "1.12")
	r, m := sealCheckRun(t, sealCargo, pkgs)
	if fs := release.CompareSeal(r, m, tipsOf(heldA, heldB), false); len(fs) != 0 {
		t.Errorf("preflight reports a line it did not package:\n%s", findingsText(fs))
	}
	text := findingsText(release.CompareSeal(r, m, tipsOf(heldA, heldB), true))
	if !strings.Contains(text, "no packages of line 1.12 were checked against the seal") {
		t.Errorf("push accepts unchecked packages:\n%s", text)
	}
}

func TestCompareSealOfAnotherRelease(t *testing.T) {
	t.Parallel()
	r, m := sealCheckRun(t, sealCargo, sealCheckPackages())
	m.ID = "OTHER-SA-2026-009"
	fs := release.CompareSeal(r, m, tipsOf(heldA, heldB), true)
	if len(fs) != 1 || !strings.Contains(fs[0].Msg, "seal.json is for OTHER-SA-2026-009") {
		t.Errorf("another release's seal:\n%s", findingsText(fs))
	}
}

// A state directory marked as restored from a bundle (bundle.Restore
// writes the held branches and source tags into its vault, then the
// marker) is read from its vault: preflight needs no source clone there.
func TestHeldFromTheVaultOfARestoredDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ex, err := demo.Build(dir, demo.Options{T0: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(ex.Config)
	if err != nil {
		t.Fatal(err)
	}
	r := &release.Run{Run: &pipeline.Run{}, Release: &release.Release{Config: cfg, StateDir: filepath.Join(dir, "runner-state")}}
	v, err := release.RealClients().Vault(release.VaultPath(r.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	var branches, tags []string
	for _, rel := range cfg.Releases {
		branches, tags = append(branches, rel.Branch), append(tags, rel.Tag)
	}
	tips, err := v.FetchHeld(context.Background(), ex.World.Source, branches, tags)
	if err != nil {
		t.Fatal(err)
	}
	// A runner has no source clone.
	if err := os.RemoveAll(release.SourcePath(r.Config)); err != nil {
		t.Fatal(err)
	}
	if release.FromBundle(r.StateDir) {
		t.Fatal("a directory no bundle was restored into is marked as one")
	}
	if _, _, _, err := release.FetchHeld(context.Background(), r, v); err == nil {
		t.Fatal("without the marker, preflight reads held branches from a source clone that is not there")
	}

	ref := "127.0.0.1:5000/b@sha256:" + strings.Repeat("a", 64)
	if err := release.MarkRestored(r.StateDir, ref); err != nil {
		t.Fatal(err)
	}
	if !release.FromBundle(r.StateDir) {
		t.Fatal("the state directory is not marked as restored from a bundle")
	}
	if got, ok := release.BundleRef(r.StateDir); !ok || got != ref {
		t.Errorf("marker: %q %v", got, ok)
	}
	got, gotTags, missing, err := release.FetchHeld(context.Background(), r, v)
	if err != nil || len(got) != 2 || len(gotTags) != 2 || len(missing) != 0 {
		t.Fatalf("held from vault: %v %v %v %v", got, gotTags, missing, err)
	}
	if _, err := release.WorkspaceAt(v, tips[cfg.Releases[0].Branch]); err != nil {
		t.Errorf("the restored tip's workspace: %v", err)
	}
}

func lockOf(versions ...string) string {
	var b strings.Builder
	b.WriteString("version = 4\n")
	for _, nv := range versions {
		name, v, _ := strings.Cut(nv, "@")
		fmt.Fprintf(&b, "\n[[package]]\nname = %q\nversion = %q\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n", name, v)
	}
	return b.String()
}

// A line packaged with another lockfile than the sealed one is a finding
// that says which versions moved; the same lockfile is none.
func TestCompareSealPinnedLockfile(t *testing.T) {
	t.Parallel()
	sealedLock, movedLock := lockOf("tinydep@1.0.0", "otherdep@0.3.0"), lockOf("tinydep@1.0.1", "otherdep@0.3.0")
	locks := map[string]string{"1.13": seal.Sha256([]byte(movedLock)), "1.12": seal.Sha256([]byte(sealedLock))}
	r, m := sealCheckRunWithLocks(t, sealCargo, sealCheckPackages(), locks)
	for i := range m.Lines {
		m.Lines[i].PinnedLock = seal.Sha256([]byte(sealedLock))
	}
	if err := release.PinLockfile(r.StateDir, "1.13", heldA, []byte(movedLock)); err != nil {
		t.Fatal(err)
	}
	if err := durable.WriteFile(release.SealedLockPath(r.StateDir, "1.13"), []byte(sealedLock), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := release.CompareSeal(r, m, tipsOf(heldA, heldB), true)
	text := findingsText(fs)
	if len(fs) != 1 || !strings.Contains(text, "line 1.13 was packaged with another Cargo.lock than the one sealed") ||
		!strings.Contains(text, "Cargo.lock: tinydep 1.0.0 -> 1.0.1") || strings.Contains(text, "otherdep") {
		t.Errorf("want one finding for line 1.13 naming tinydep's move only:\n%s", text)
	}

	// Preflight packages at the sealed tip with the seal's lockfile, not
	// with one pinned since.
	mb, _ := m.Marshal()
	if err := durable.WriteFile(release.SealPath(r.StateDir), mb, 0o600); err != nil {
		t.Fatal(err)
	}
	got, ok := release.KeptLockfile(r.StateDir, "1.13", heldA)
	if !ok || string(got) != sealedLock {
		t.Errorf("kept lockfile at the sealed tip: %v %q, want the sealed one", ok, got)
	}
}
