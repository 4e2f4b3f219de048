package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/seal"
	"github.com/async-rs/embargo/stages/vault"
)

// The services behind `embargo seal` and `embargo run --bundle`: the seal
// manifest made from a clean preflight, the bundle gathered from the state
// directory, and a pulled bundle restored into a fresh one. The checks the
// stages make against a seal are in sealcheck.go.

// SealManifest freezes what the preflight that just ran in r checked: it
// must have run clean.
func SealManifest(r *pipeline.Run) (*seal.Manifest, error) {
	cfg := r.Config
	v, err := openVault(r)
	if err != nil {
		return nil, err
	}
	cb, err := os.ReadFile(cfg.Path)
	if err != nil {
		return nil, err
	}
	m := &seal.Manifest{
		ID: cfg.Embargo.ID, T0: cfg.T0(), SealedAt: r.Now().UTC(),
		Config:      seal.File{Path: filepath.Base(cfg.Path), Sha256: seal.Sha256(cb)},
		Description: seal.File{Path: cfg.Advisory.Description, Sha256: seal.Sha256([]byte(cfg.Description))},
		Advisory:    advisoryDigests(r),
	}
	sourceTags := map[string]bool{}
	fetched, _ := pipeline.Load[Fetched](r.Journal, "preflight", "fetch")
	for _, t := range fetched.SourceTags {
		sourceTags[t] = true
	}
	for _, rel := range cfg.Releases {
		checked, _ := checkedLine(r, rel)
		held := checked.Held
		s, ok := readSealed(r, rel)
		if held == "" || !ok {
			return nil, fmt.Errorf("preflight recorded no checked tip and packages for line %s: nothing to seal", rel.Line)
		}
		if m.Cargo == "" {
			m.Cargo = s.cargo
		}
		line := seal.Line{Line: rel.Line, Branch: rel.Branch, Held: held, Tag: rel.Tag, PinnedLock: s.lock}
		if sourceTags[rel.Tag] {
			ref, err := v.Repo().Reference(plumbing.ReferenceName(vaultSourceTagPrefix+rel.Tag), true)
			if err != nil {
				return nil, fmt.Errorf("source tag %s: %w", rel.Tag, err)
			}
			line.TagObject = ref.Hash().String()
		}
		for _, nv := range s.order {
			name, version := splitNV(nv)
			line.Crates = append(line.Crates, seal.Crate{Name: name, Version: version, Sha256: s.sha256[nv]})
		}
		m.Lines = append(m.Lines, line)
	}
	return m, nil
}

// SealBundle gathers what `embargo seal --push` packs, each piece checked
// against the seal m (whose bytes are manifest): the git objects of the
// held branches and release tags, the .crate files preflight packaged, the
// rendered advisory and its description.
func SealBundle(ctx context.Context, r *pipeline.Run, m *seal.Manifest, manifest []byte) (*seal.Bundle, error) {
	v, err := openVault(r)
	if err != nil {
		return nil, err
	}
	refs := map[plumbing.ReferenceName]plumbing.Hash{}
	b := &seal.Bundle{Manifest: manifest, Crates: map[string][]byte{}, Lockfiles: map[string][]byte{}, Advisory: map[string][]byte{}, Description: []byte(r.Config.Description)}
	for _, l := range m.Lines {
		refs[plumbing.NewBranchReferenceName(l.Branch)] = plumbing.NewHash(l.Held)
		if l.TagObject != "" {
			refs[plumbing.NewTagReferenceName(l.Tag)] = plumbing.NewHash(l.TagObject)
		}
		var rel pipeline.Release
		for _, cr := range r.Config.Releases {
			if cr.Line == l.Line {
				rel = cr
			}
		}
		for _, c := range l.Crates {
			file := cargo.PackagedFile(worktreeDir(r, rel), c.Name, c.Version)
			data, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("packaged %s: %w", c.NV(), err)
			}
			if seal.Sha256(data) != c.Sha256 {
				return nil, fmt.Errorf("%s changed since preflight packaged it: run `embargo seal` again", file)
			}
			if prev, dup := b.Crates[c.FileName()]; dup && !bytes.Equal(prev, data) {
				return nil, fmt.Errorf("two lines package %s to different bytes", c.FileName())
			}
			b.Crates[c.FileName()] = data
		}
		if l.PinnedLock != "" {
			data, ok := sealedLockfile(r.StateDir, l.Line, l.PinnedLock)
			if !ok {
				return nil, fmt.Errorf("the Cargo.lock pinned for line %s changed since preflight packaged with it: run `embargo seal` again", l.Line)
			}
			b.Lockfiles[seal.LockfileName(l.Line)] = data
		}
	}
	if b.Git, err = seal.Archive(v.Repo(), refs); err != nil {
		return nil, err
	}
	_, out, err := advisoryOutputs(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("render the advisory: %w", err)
	}
	for _, f := range out.Files() {
		if want, ok := m.Advisory[f.Path]; ok && want != seal.Sha256(f.Content) {
			return nil, fmt.Errorf("advisory output %s rendered differently a moment ago (did the registry change?): run `embargo seal` again", f.Path)
		}
		b.Advisory[f.Path] = f.Content
	}
	return b, nil
}

// RestoreBundle writes a pulled bundle into a state directory: the held
// branches and release tags into the vault (refs/held/<branch>,
// refs/source-tags/<tag>), seal.json, the pinned lockfiles, the .crate
// files and advisory outputs under sealed/, and the marker that makes
// preflight and push read the vault instead of source.repo. Everything is
// checked against the bundle's seal first, and the seal against the config.
func RestoreBundle(cfg *pipeline.Config, stateDir, ref string, b *seal.Bundle) (*seal.Manifest, error) {
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
	if prev, ok := BundleRef(stateDir); ok && prev != ref {
		return nil, fmt.Errorf("state directory %s was restored from bundle %s, not %s: use a fresh --state directory", stateDir, prev, ref)
	}
	if old, err := os.ReadFile(filepath.Join(stateDir, seal.FileName)); err == nil && !bytes.Equal(old, b.Manifest) {
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

	v, err := vault.Open(filepath.Join(stateDir, "vault.git"))
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
			return nil, fmt.Errorf("bundle %s holds %s at %s, but its seal says %s", ref, l.Branch, short(h), vault.ShortHex(l.Held))
		}
		set = append(set, plumbing.NewHashReference(plumbing.ReferenceName(vaultHeldPrefix+l.Branch), h))
		if l.TagObject != "" {
			t := refs[plumbing.NewTagReferenceName(l.Tag)]
			if t.String() != l.TagObject {
				return nil, fmt.Errorf("bundle %s holds tag %s at %s, but its seal says %s", ref, l.Tag, short(t), vault.ShortHex(l.TagObject))
			}
			set = append(set, plumbing.NewHashReference(plumbing.ReferenceName(vaultSourceTagPrefix+l.Tag), t))
		}
	}
	for _, rf := range set {
		if err := v.Repo().Storer.SetReference(rf); err != nil {
			return nil, err
		}
	}

	keep := filepath.Join(stateDir, sealedDir)
	for name, data := range b.Crates {
		if err := pipeline.WriteFileAtomic(filepath.Join(keep, "crates", filepath.Base(name)), data, 0o600); err != nil {
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
		if err := pipeline.WriteFileAtomic(sealedLockPath(stateDir, l.Line), data, 0o600); err != nil {
			return nil, err
		}
		if err := PinLockfile(stateDir, l.Line, l.Held, data); err != nil {
			return nil, err
		}
	}
	for path, data := range b.Advisory {
		rel := filepath.FromSlash(path)
		if !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("bundle %s: advisory path %q is not relative", ref, path)
		}
		if err := pipeline.WriteFileAtomic(filepath.Join(keep, "advisory", rel), data, 0o600); err != nil {
			return nil, err
		}
	}
	if err := pipeline.WriteFileAtomic(SealPath(stateDir), b.Manifest, 0o600); err != nil {
		return nil, err
	}
	mark, err := json.MarshalIndent(bundleMark{Ref: ref, Restored: time.Now().UTC()}, "", "  ")
	if err != nil {
		return nil, err
	}
	// Last: a directory is in bundle mode only once everything is there.
	if err := pipeline.WriteFileAtomic(filepath.Join(stateDir, bundleMarker), append(mark, '\n'), 0o600); err != nil {
		return nil, err
	}
	return m, nil
}
