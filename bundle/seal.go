// Package bundle holds the services behind `embargo seal` and `embargo run
// --bundle`: the seal manifest made from a clean preflight, the bundle
// gathered from the state directory, a pulled bundle restored into a fresh
// one, and the journal kept beside the bundle while a run goes on. The
// format of a seal and a bundle is stages/seal; the checks the stages make
// against a seal are theirs (stages/sealcheck.go). What this package reads
// of a state directory, stages names in stages/layout.go.
package bundle

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/seal"
	"github.com/async-rs/embargo/stages/vault"
)

// Manifest freezes what the preflight that just ran in r checked: it must
// have run clean.
func Manifest(r *release.Run) (*seal.Manifest, error) {
	cfg := r.Config
	v, err := vault.Open(release.VaultPath(r.StateDir))
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
		Advisory:    release.AdvisoryDigests(r.Journal),
		Blog:        release.SealedConventions(r),
	}
	sourceTags := map[string]bool{}
	fetched, _ := pipeline.Load(r.Journal, release.FetchedKey)
	for _, t := range fetched.SourceTags {
		sourceTags[t] = true
	}
	for _, rel := range cfg.Releases {
		checked, _ := release.CheckedLine(r.Journal, rel.Line)
		held := checked.Held
		p, ok := release.PackagedLine(r.Journal, rel.Line)
		if held == "" || !ok || !p.Complete() {
			return nil, fmt.Errorf("preflight recorded no checked tip and packages for line %s: nothing to seal", rel.Line)
		}
		if m.Cargo == "" {
			m.Cargo = p.Cargo
		}
		line := seal.Line{Line: rel.Line, Branch: rel.Branch, Held: held, Tag: rel.Tag, PinnedLock: p.PinnedLock}
		if sourceTags[rel.Tag] {
			ref, err := v.Repo().Reference(vault.SourceTagRef(rel.Tag), true)
			if err != nil {
				return nil, fmt.Errorf("source tag %s: %w", rel.Tag, err)
			}
			line.TagObject = ref.Hash().String()
		}
		line.Crates = p.Crates()
		m.Lines = append(m.Lines, line)
	}
	return m, nil
}

// Gather collects what `embargo seal --push` packs, each piece checked
// against the seal m (whose bytes are manifest): the git objects of the
// held branches and release tags, the .crate files preflight packaged, the
// pinned lockfiles, the rendered advisory (read with c) and its
// description.
func Gather(ctx context.Context, r *release.Run, c release.Clients, m *seal.Manifest, manifest []byte) (*seal.Bundle, error) {
	v, err := vault.Open(release.VaultPath(r.StateDir))
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
		for _, c := range l.Crates {
			file := cargo.PackagedFile(release.WorktreeDir(r.StateDir, l.Line), c.Name, c.Version)
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
			data, ok := release.SealedLockfile(r.StateDir, l.Line, l.PinnedLock)
			if !ok {
				return nil, fmt.Errorf("the Cargo.lock pinned for line %s changed since preflight packaged with it: run `embargo seal` again", l.Line)
			}
			b.Lockfiles[seal.LockfileName(l.Line)] = data
		}
	}
	if b.Git, err = seal.Archive(v.Repo(), refs); err != nil {
		return nil, err
	}
	_, out, err := release.AdvisoryOutputs(ctx, r, c.Index, c.Blog)
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
