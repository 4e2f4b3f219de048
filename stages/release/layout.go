package release

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/async-rs/embargo/internal/durable"
	"github.com/async-rs/embargo/stages/seal"
)

// What the bundle package, which seals a state directory into a bundle and
// restores a bundle into a fresh one, reads of the stages: where a state
// directory keeps what. The preflight results a seal is made of it reads
// through CheckedLine, PackagedLine and the types in preflightresults.go.
// Everything else in a state directory is the stages' own.

// VaultPath is the state directory's vault (see stages/vault).
func VaultPath(stateDir string) string { return filepath.Join(stateDir, "vault.git") }

// WorktreeDir is the checkout a line's crates are packaged in: cargo
// leaves the .crate files under it (cargo.PackagedFile).
func WorktreeDir(stateDir, line string) string {
	return filepath.Join(stateDir, "work", safeName(line))
}

// SealPath is the seal manifest of a state directory.
func SealPath(stateDir string) string { return filepath.Join(stateDir, seal.FileName) }

// SealedLockPath is the seal's copy of the Cargo.lock pinned for line.
func SealedLockPath(stateDir, line string) string {
	return filepath.Join(stateDir, sealedDir, pinnedDir, seal.LockfileName(line))
}

// SealedCratePath is the seal's copy of the .crate file named file.
func SealedCratePath(stateDir, file string) string {
	return filepath.Join(stateDir, sealedDir, "crates", file)
}

// SealedAdvisoryPath is the seal's copy of the rendered advisory output at
// path (slash-separated, relative).
func SealedAdvisoryPath(stateDir, path string) string {
	return filepath.Join(stateDir, sealedDir, "advisory", filepath.FromSlash(path))
}

// bundleMarker, in a state directory, says its held branches came from a
// sealed bundle: there is no source clone, and preflight and push take the
// held refs from the vault instead of fetching them from source.repo. A
// marker file rather than a flag, so that any later run in the same
// directory (a `--from publish` after a failure, say) does the same.
const bundleMarker = "bundle.json"

type bundleMark struct {
	Ref      string    `json:"ref"` // REPOSITORY@sha256:...
	Restored time.Time `json:"restored"`
}

// MarkRestored marks the state directory as restored from the bundle ref.
// It is written last: a directory is in bundle mode only once everything
// is there.
func MarkRestored(stateDir, ref string) error {
	mark, err := json.MarshalIndent(bundleMark{Ref: ref, Restored: time.Now().UTC()}, "", "  ")
	if err != nil {
		return err
	}
	return durable.WriteFile(filepath.Join(stateDir, bundleMarker), append(mark, '\n'), 0o600)
}

// BundleRef is the bundle a state directory was restored from, if any.
func BundleRef(stateDir string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(stateDir, bundleMarker))
	if err != nil {
		return "", false
	}
	var m bundleMark
	if json.Unmarshal(b, &m) != nil || m.Ref == "" {
		return "", false
	}
	return m.Ref, true
}

func fromBundle(stateDir string) bool {
	_, err := os.Stat(filepath.Join(stateDir, bundleMarker))
	return err == nil
}
