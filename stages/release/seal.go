package release

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/internal/durable"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/seal"
	"github.com/async-rs/embargo/stages/vault"
)

func ReadSeal(stateDir string) (*seal.Manifest, bool, error) {
	return seal.ReadManifest(SealPath(stateDir))
}

// HoldRehearsalToSeal gives a rehearsal's state directory the release's
// seal, when stateDir (the release's) holds one: the manifest and the
// bytes kept beside it. The rehearsal then holds the release to it as a
// run does: its preflight finds every package that is not the sealed
// bytes, naming both checksums and what differs inside, and its publish
// waits for the sandbox's index to show each upload with the sealed
// checksum. Without it, a rehearsal would hold its uploads to its own
// packaging. It returns the seal, or nil when the release is not sealed.
func HoldRehearsalToSeal(stateDir, rehearsal string) (*seal.Manifest, error) {
	m, ok, err := seal.ReadManifest(SealPath(stateDir))
	if err != nil || !ok {
		return nil, err
	}
	b, err := os.ReadFile(SealPath(stateDir))
	if err != nil {
		return nil, err
	}
	if err := durable.WriteFile(SealPath(rehearsal), b, 0o600); err != nil {
		return nil, err
	}
	kept := filepath.Join(stateDir, sealedDir)
	err = filepath.WalkDir(kept, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(stateDir, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return durable.WriteFile(filepath.Join(rehearsal, rel), data, 0o600)
	})
	if errors.Is(err, os.ErrNotExist) {
		err = nil // a seal whose bytes were not kept: the checksums hold all the same
	}
	return m, err
}

// SealKey is the step of stage that compares the release with the seal:
// preflight's, and push's and publish's before their first public write.
func SealKey(stage string) pipeline.Key[pipeline.Said] {
	return pipeline.Key[pipeline.Said]{Stage: stage, Step: "seal"}
}

// checkSealBeforeWrites refuses a stage's public writes (done names them:
// "pushed", "published") when the release is not what was sealed. It reads
// no network and builds nothing: the held tips are in memory, the packages
// were checked by preflight (its journal records).
func checkSealBeforeWrites(r *Run, held map[string]plumbing.Hash, done string) error {
	m, ok, err := ReadSeal(r.StateDir)
	if err != nil {
		return fmt.Errorf("nothing was %s: %w", done, err)
	}
	if !ok {
		return nil
	}
	_, err = pipeline.Step(r.Run, SealKey(r.Stage()), func(res *pipeline.Said) error {
		tip := func(rel config.Release) (plumbing.Hash, bool) { h, ok := held[rel.Line]; return h, ok }
		findings := CompareSeal(r, m, tip, true)
		if len(findings) > 0 {
			return fmt.Errorf("the release is not what was sealed, nothing was %s: %w", done, &pipeline.FindingsError{Findings: findings})
		}
		*res = "held tips, config and checked packages as sealed"
		return nil
	})
	return err
}

// CompareSeal lists every difference between the run and the seal m.
// requirePackages: a line whose packages this run's journal does not
// record is a difference too (push must not rely on an unchecked build).
func CompareSeal(r *Run, m *seal.Manifest, held func(config.Release) (plumbing.Hash, bool), requirePackages bool) []pipeline.Finding {
	cfg := r.Config
	var out []pipeline.Finding
	add := func(subject, fix, format string, args ...any) {
		out = append(out, pipeline.Finding{Subject: subject, Msg: fmt.Sprintf(format, args...), Fix: fix})
	}
	reseal := "if the change is intended, check and seal again (`embargo seal`, with --push for a CI bundle)"
	keepLock := fmt.Sprintf("release from the state directory the seal was made in (it keeps the sealed Cargo.lock in %s) or from its bundle, or, %s",
		filepath.Join(sealedDir, pinnedDir)+string(filepath.Separator), reseal)
	// A rehearsal is the sealed release with T0 moved to now.
	if m.ID != cfg.Embargo.ID || (!m.T0.Equal(cfg.T0()) && !r.Mode.Rehearsal()) {
		add("seal", "seal this release with `embargo seal`, or use another --state directory",
			"seal.json is for %s at %s, not %s at %s", m.ID, m.T0.UTC().Format(time.RFC3339), cfg.Embargo.ID, cfg.T0().Format(time.RFC3339))
		return out
	}
	if b, err := os.ReadFile(cfg.Path); err != nil {
		add(cfg.Path, "", "cannot read the config to compare it with the seal: %v", err)
	} else if got := seal.Sha256(b); got != m.Config.Sha256 {
		add(cfg.Path, "restore the sealed config; "+reseal,
			"the config changed since it was sealed (sha256 %s, sealed %s)", vault.ShortHex(got), vault.ShortHex(m.Config.Sha256))
	}
	if m.Description.Sha256 != "" {
		if got := seal.Sha256([]byte(cfg.Description)); got != m.Description.Sha256 {
			add(cfg.Advisory.Description, "restore the sealed text; "+reseal,
				"the advisory description changed since it was sealed (sha256 %s, sealed %s)", vault.ShortHex(got), vault.ShortHex(m.Description.Sha256))
		}
	}
	cargoReported := false
	for _, rel := range cfg.Releases {
		subject := "release " + rel.Line
		sl, ok := m.Line(rel.Line)
		if !ok {
			add(subject, reseal, "line %s is not in the seal", rel.Line)
			continue
		}
		if h, ok := held(rel); ok && h.String() != sl.Held {
			add(subject, fmt.Sprintf("reset %s to %s, or, %s", rel.Branch, vault.ShortHex(sl.Held), reseal),
				"held branch %s moved since it was sealed: sealed %s, now %s", rel.Branch, vault.ShortHex(sl.Held), Short(h))
		}
		s, ok := readSealed(r, rel)
		if ok && sl.PinnedLock != "" && s.PinnedLock != sl.PinnedLock {
			msg := fmt.Sprintf("line %s was packaged with another Cargo.lock than the one sealed (sha256 %s, sealed %s)", rel.Line, vault.ShortHex(s.PinnedLock), vault.ShortHex(sl.PinnedLock))
			if s.PinnedLock == "" {
				msg = fmt.Sprintf("line %s was packaged with the Cargo.lock its held tip commits, but the seal pins one cargo resolved (sha256 %s)", rel.Line, vault.ShortHex(sl.PinnedLock))
			} else if d := lockChanges(r, rel.Line, sl.PinnedLock); d != "" {
				msg += ": " + d
			}
			add(subject, keepLock, "%s", msg)
		}
		if !ok {
			if requirePackages {
				add(subject, "run `embargo run --from preflight`: it packages the held tip and compares it with the seal",
					"no packages of line %s were checked against the seal in this state directory", rel.Line)
			}
			continue
		}
		if s.Cargo != "" && m.Cargo != "" && s.Cargo != m.Cargo && !cargoReported {
			cargoReported = true
			add("cargo", fmt.Sprintf("install the sealed toolchain (%s) on this machine and run again; the same cargo reproduces the sealed bytes", m.Cargo),
				"cargo here is %q, but the release was sealed with %q: packages are reproducible with the same cargo only", s.Cargo, m.Cargo)
		}
		want := map[string]string{}
		for _, c := range sl.Crates {
			want[c.NV()] = c.Sha256
			got, packaged := s.Sha256[c.NV()]
			switch {
			case !packaged:
				add(subject, reseal, "sealed crate %s is not packaged from the held tip", c.NV())
			case got != c.Sha256:
				msg, moved := notAsSealed(r, rel, c, got)
				fix := "find what changed the package (held tip, cargo, a file outside git), or " + reseal
				if moved {
					fix = "the dependencies resolved to other versions than sealed: " + keepLock
				}
				add(subject, fix, "%s", msg)
			}
		}
		for _, nv := range s.Order {
			if _, sealed := want[nv]; !sealed {
				add(subject, reseal, "crate %s is packaged but was not sealed", nv)
			}
		}
	}
	for _, sl := range m.Lines {
		found := false
		for _, rel := range cfg.Releases {
			found = found || rel.Line == sl.Line
		}
		if !found {
			add("release "+sl.Line, reseal, "sealed line %s is not in the config", sl.Line)
		}
	}
	return out
}

// AdvisoryDigests are the digests preflight's advisory step recorded: the
// seal freezes them.
func AdvisoryDigests(j *pipeline.Journal) map[string]string {
	a, _ := pipeline.Load(j, AdvisoryCheckedKey)
	if a.Outputs == nil {
		return map[string]string{}
	}
	return a.Outputs
}
