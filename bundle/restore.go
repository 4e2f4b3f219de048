package bundle

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/internal/durable"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/seal"
	"github.com/async-rs/embargo/stages/vault"
)

// Restore writes a pulled bundle into a state directory: the held branches
// and release tags into the vault (refs/held/<branch>,
// refs/source-tags/<tag>), seal.json, the pinned lockfiles, the .crate
// files and advisory outputs under sealed/, and the marker that makes
// preflight and push read the vault instead of source.repo. Everything is
// checked against the bundle's seal first, and the seal against the config.
func Restore(cfg *config.Config, stateDir, ref string, b *seal.Bundle) (*seal.Manifest, error) {
	m, err := seal.ParseManifest(b.Manifest)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", ref, err)
	}
	if m.ID != cfg.Embargo.ID || !m.T0.Equal(cfg.T0()) {
		return nil, fmt.Errorf("bundle %s releases %s at %s, but %s releases %s at %s", ref,
			m.ID, m.T0.UTC().Format(time.RFC3339), cfg.Path, cfg.Embargo.ID, cfg.T0().Format(time.RFC3339))
	}
	cb, err := os.ReadFile(cfg.Path)
	if err != nil {
		return nil, err
	}
	if got := seal.Sha256(cb); got != m.Config.Sha256 {
		return nil, fmt.Errorf("%s is not the config sealed in bundle %s (sha256 %s, sealed %s): release with the sealed config, byte for byte", cfg.Path, ref, vault.ShortHex(got), vault.ShortHex(m.Config.Sha256))
	}
	if got := seal.Sha256([]byte(cfg.Description)); m.Description.Sha256 != "" && got != m.Description.Sha256 {
		return nil, fmt.Errorf("%s is not the advisory description sealed in bundle %s", cfg.Advisory.Description, ref)
	}
	if prev, ok := release.BundleRef(stateDir); ok && prev != ref {
		return nil, fmt.Errorf("state directory %s was restored from bundle %s, not %s: use a fresh --state directory", stateDir, prev, ref)
	}
	if old, err := os.ReadFile(release.SealPath(stateDir)); err == nil && !bytes.Equal(old, b.Manifest) {
		return nil, fmt.Errorf("state directory %s holds another seal than bundle %s: use a fresh --state directory", stateDir, ref)
	}

	for _, l := range m.Lines {
		for _, c := range l.Crates {
			data, ok := b.Crates[c.FileName()]
			if !ok || seal.Sha256(data) != c.Sha256 {
				return nil, fmt.Errorf("bundle %s: %s is missing or not the sealed bytes", ref, c.FileName())
			}
		}
	}
	for _, l := range m.Lines {
		if data, ok := b.Lockfiles[seal.LockfileName(l.Line)]; l.PinnedLock != "" && (!ok || seal.Sha256(data) != l.PinnedLock) {
			return nil, fmt.Errorf("bundle %s: the Cargo.lock pinned for line %s is missing or not the sealed bytes", ref, l.Line)
		}
	}
	for path, sum := range m.Advisory {
		if data, ok := b.Advisory[path]; !ok || seal.Sha256(data) != sum {
			return nil, fmt.Errorf("bundle %s: advisory output %s is missing or not the sealed bytes", ref, path)
		}
	}

	v, err := vault.Open(release.VaultPath(stateDir))
	if err != nil {
		return nil, err
	}
	refs, err := seal.Unarchive(b.Git, v.Repo())
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", ref, err)
	}
	var set []*plumbing.Reference
	for _, l := range m.Lines {
		h := refs[plumbing.NewBranchReferenceName(l.Branch)]
		if h.String() != l.Held {
			return nil, fmt.Errorf("bundle %s holds %s at %s, but its seal says %s", ref, l.Branch, vault.Short(h), vault.ShortHex(l.Held))
		}
		set = append(set, plumbing.NewHashReference(vault.HeldRef(l.Branch), h))
		if l.TagObject != "" {
			t := refs[plumbing.NewTagReferenceName(l.Tag)]
			if t.String() != l.TagObject {
				return nil, fmt.Errorf("bundle %s holds tag %s at %s, but its seal says %s", ref, l.Tag, vault.Short(t), vault.ShortHex(l.TagObject))
			}
			set = append(set, plumbing.NewHashReference(vault.SourceTagRef(l.Tag), t))
		}
	}
	for _, rf := range set {
		if err := v.Repo().Storer.SetReference(rf); err != nil {
			return nil, err
		}
	}

	for name, data := range b.Crates {
		if err := durable.WriteFile(release.SealedCratePath(stateDir, filepath.Base(name)), data, 0o600); err != nil {
			return nil, err
		}
	}
	// The pinned lockfiles: the seal's copy, and the one preflight
	// packages with at the sealed tip.
	for _, l := range m.Lines {
		if l.PinnedLock == "" {
			continue
		}
		data := b.Lockfiles[seal.LockfileName(l.Line)]
		if err := durable.WriteFile(release.SealedLockPath(stateDir, l.Line), data, 0o600); err != nil {
			return nil, err
		}
		if err := release.PinLockfile(stateDir, l.Line, l.Held, data); err != nil {
			return nil, err
		}
	}
	for path, data := range b.Advisory {
		if !filepath.IsLocal(filepath.FromSlash(path)) {
			return nil, fmt.Errorf("bundle %s: advisory path %q is not relative", ref, path)
		}
		if err := durable.WriteFile(release.SealedAdvisoryPath(stateDir, path), data, 0o600); err != nil {
			return nil, err
		}
	}
	if err := durable.WriteFile(release.SealPath(stateDir), b.Manifest, 0o600); err != nil {
		return nil, err
	}
	// Last: a directory is in bundle mode only once everything is there.
	if err := release.MarkRestored(stateDir, ref); err != nil {
		return nil, err
	}
	return m, nil
}
