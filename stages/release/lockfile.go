package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/internal/durable"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/seal"
	"github.com/async-rs/embargo/stages/vault"
)

// A workspace whose repository commits no Cargo.lock is packaged with one
// that cargo resolves, and that resolution is kept: pinned in the state
// directory for the held tip it was made at, recorded by digest in the
// journal and in the seal, carried by the bundle, and used with --locked by
// every later packaging and by the publish at T0. A dependency released (or
// yanked) between the seal and T0 then changes no byte. A committed
// Cargo.lock is used as it is.

const (
	// pinnedDir holds, per line, the pinned Cargo.lock and the held tip it
	// was pinned for (see PinLockfile).
	pinnedDir = "lockfiles"
	// sealedDir holds the bytes the seal names (.crate files, pinned
	// lockfiles), kept by `embargo seal` and by a restored bundle, so that a
	// difference can be shown file by file.
	sealedDir = "sealed"
)

func pinnedLockPath(stateDir, line string) string {
	return filepath.Join(stateDir, pinnedDir, seal.LockfileName(line))
}

func pinnedHeldPath(stateDir, line string) string { return pinnedLockPath(stateDir, line) + ".held" }

// PinLockfile keeps data as the Cargo.lock of line at the held tip. The
// lockfile is written before the tip it is for: a crash in between leaves
// a lockfile recorded for another tip, which is only a starting point.
func PinLockfile(stateDir, line, held string, data []byte) error {
	if err := durable.WriteFile(pinnedLockPath(stateDir, line), data, 0o600); err != nil {
		return err
	}
	return durable.WriteFile(pinnedHeldPath(stateDir, line), []byte(held+"\n"), 0o600)
}

// pinnedLockfile is the Cargo.lock pinned for line, and the tip it is for.
func pinnedLockfile(stateDir, line string) (data []byte, forHeld string, ok bool) {
	data, err := os.ReadFile(pinnedLockPath(stateDir, line))
	if err != nil {
		return nil, "", false
	}
	h, err := os.ReadFile(pinnedHeldPath(stateDir, line))
	if err != nil {
		return data, "", true
	}
	return data, strings.TrimSpace(string(h)), true
}

// KeptLockfile is the Cargo.lock this state directory keeps for line at
// the held tip: the one the seal pins, when it was sealed at that tip, else
// the one pinned for it.
func KeptLockfile(stateDir, line, held string) ([]byte, bool) {
	if m, ok, err := seal.ReadManifest(filepath.Join(stateDir, seal.FileName)); err == nil && ok {
		if sl, ok := m.Line(line); ok && sl.Held == held && sl.PinnedLock != "" {
			if data, ok := SealedLockfile(stateDir, line, sl.PinnedLock); ok {
				return data, true
			}
		}
	}
	if data, forHeld, ok := pinnedLockfile(stateDir, line); ok && forHeld == held {
		return data, true
	}
	return nil, false
}

// SealedLockfile is the lockfile of line whose sha256 is sum: the seal's
// copy, or the pinned one.
func SealedLockfile(stateDir, line, sum string) ([]byte, bool) {
	for _, p := range []string{SealedLockPath(stateDir, line), pinnedLockPath(stateDir, line)} {
		if data, err := os.ReadFile(p); err == nil && seal.Sha256(data) == sum {
			return data, true
		}
	}
	return nil, false
}

// LineLock is the Cargo.lock a line's crates are packaged with.
type LineLock struct {
	Committed bool
	// data is the pinned lockfile; nil while it is still to be resolved,
	// from start when there is one (the line's lockfile for an earlier tip).
	data, start []byte
	resolved    bool // resolved by this run
}

// Sum is the pinned lockfile's sha256, "" for a committed one.
func (l LineLock) Sum() string {
	if l.Committed || l.data == nil {
		return ""
	}
	return seal.Sha256(l.data)
}

// Files are the files the line's checkout carries beside its commit.
func (l LineLock) Files() map[string][]byte {
	switch {
	case l.Committed:
		return nil
	case l.data != nil:
		return map[string][]byte{cargo.LockfileName: l.data}
	case l.start != nil:
		return map[string][]byte{cargo.LockfileName: l.start}
	}
	return nil
}

// Summary says, for the step's summary, which lockfile a line that
// commits none was packaged with.
func (l LineLock) Summary() string {
	if l.resolved {
		return "no Cargo.lock committed: the one cargo resolved is pinned, sha256 " + vault.ShortHex(l.Sum())
	}
	return "no Cargo.lock committed: packaged with the one pinned, sha256 " + vault.ShortHex(l.Sum())
}

// lockFor says which Cargo.lock the line's crates at held are packaged
// with: the committed one; else the one kept for held (the sealed one
// first); else one still to be resolved, from the line's lockfile for an
// earlier tip when there is one.
func lockFor(r *Run, v CommitTrees, rel config.Release, held plumbing.Hash) (LineLock, error) {
	var committed bool
	err := v.Locked(func() error {
		t, err := v.Tree(held)
		if err != nil {
			return err
		}
		_, err = t.File(cargo.LockfileName)
		committed = err == nil
		return nil
	})
	if err != nil {
		return LineLock{}, err
	}
	if committed {
		return LineLock{Committed: true}, nil
	}
	if data, ok := KeptLockfile(r.StateDir, rel.Line, held.String()); ok {
		return LineLock{data: data}, nil
	}
	start, _, _ := pinnedLockfile(r.StateDir, rel.Line)
	return LineLock{start: start}, nil
}

// pinLock resolves, in the line's checkout at dir, the lockfile lock still
// lacks, and pins it for held.
func pinLock(ctx context.Context, r *Run, cg LineCargo, rel config.Release, held plumbing.Hash, dir string, lock *LineLock) error {
	if lock.Committed || lock.data != nil {
		return nil
	}
	path := filepath.Join(dir, cargo.LockfileName)
	if lock.start == nil {
		// Left by an interrupted resolution, perhaps: start afresh.
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := cg.Lock(ctx, dir); err != nil {
		return fmt.Errorf("resolve a Cargo.lock (the repository commits none): %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cargo resolved no Cargo.lock: %w", err)
	}
	if err := PinLockfile(r.StateDir, rel.Line, held.String(), data); err != nil {
		return err
	}
	lock.data, lock.resolved = data, true
	return nil
}

// notAsSealed says that a crate packages to other bytes than the sealed
// ones and, when the sealed .crate is at hand (kept by `embargo seal` or
// a bundle), which files inside it differ; moved is true when the
// difference is in the versions its Cargo.lock pins.
func notAsSealed(r *Run, rel config.Release, c seal.Crate, got string) (msg string, moved bool) {
	msg = fmt.Sprintf("%s packages to sha256 %s, not the sealed %s", c.NV(), got, c.Sha256)
	changes := crateChanges(r, rel, c)
	if len(changes) > 0 {
		msg += ": " + strings.Join(changes, "; ")
	}
	for _, ch := range changes {
		moved = moved || strings.HasPrefix(ch, cargo.LockfileName+": ")
	}
	return msg, moved
}

// crateChanges compares the .crate packaged now with the sealed one.
func crateChanges(r *Run, rel config.Release, c seal.Crate) []string {
	was, err := os.ReadFile(SealedCratePath(r.StateDir, c.FileName()))
	if err != nil || seal.Sha256(was) != c.Sha256 {
		return nil
	}
	now, err := os.ReadFile(cargo.PackagedFile(WorktreeDir(r.StateDir, rel.Line), c.Name, c.Version))
	if err != nil {
		return nil
	}
	changes, err := cargo.DiffCrates(was, now)
	if err != nil {
		return nil
	}
	return changes
}

// lockChanges compares the lockfile pinned now with the sealed one.
func lockChanges(r *Run, line, sealedSum string) string {
	was, ok := SealedLockfile(r.StateDir, line, sealedSum)
	if !ok {
		return ""
	}
	now, _, ok := pinnedLockfile(r.StateDir, line)
	if !ok {
		return ""
	}
	changes, err := cargo.LockChanges(string(was), string(now))
	if err != nil || len(changes) == 0 {
		return ""
	}
	return cargo.LockfileName + ": " + strings.Join(changes, ", ")
}

// KeepSealed keeps, beside the seal m, the bytes it names: every .crate
// preflight packaged and every pinned lockfile, each checked against its
// digest.
func KeepSealed(r *Run, m *seal.Manifest) error {
	for _, l := range m.Lines {
		rel, ok := releaseOf(r.Config, l.Line)
		if !ok {
			return fmt.Errorf("sealed line %s is not in the config", l.Line)
		}
		for _, c := range l.Crates {
			data, err := os.ReadFile(cargo.PackagedFile(WorktreeDir(r.StateDir, rel.Line), c.Name, c.Version))
			if err != nil {
				return fmt.Errorf("packaged %s: %w", c.NV(), err)
			}
			if seal.Sha256(data) != c.Sha256 {
				return fmt.Errorf("%s changed since preflight packaged it: run `embargo seal` again", c.FileName())
			}
			if err := durable.WriteFile(SealedCratePath(r.StateDir, c.FileName()), data, 0o600); err != nil {
				return err
			}
		}
		if l.PinnedLock == "" {
			continue
		}
		data, ok := SealedLockfile(r.StateDir, l.Line, l.PinnedLock)
		if !ok {
			return fmt.Errorf("the Cargo.lock pinned for line %s changed since preflight packaged with it: run `embargo seal` again", l.Line)
		}
		if err := durable.WriteFile(SealedLockPath(r.StateDir, l.Line), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func releaseOf(cfg *config.Config, line string) (config.Release, bool) {
	for _, rel := range cfg.Releases {
		if rel.Line == line {
			return rel, true
		}
	}
	return config.Release{}, false
}
