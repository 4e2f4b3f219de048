// Package seal is the frozen form of a release: the manifest `embargo seal`
// writes (seal.json: held tips, .crate checksums, the rendered advisory's
// digests, the config's digest) and the encrypted OCI bundle a CI runner
// that never saw the release manager's machine releases from.
package seal

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/async-rs/embargo/templates"
)

// FileName is the manifest's name in the state directory.
const FileName = "seal.json"

const manifestVersion = 1

// Manifest is seal.json: what a release must be, byte for byte, to be the
// release that was checked.
type Manifest struct {
	Version  int       `json:"version"`
	ID       string    `json:"id"`
	T0       time.Time `json:"t0"`
	SealedAt time.Time `json:"sealed_at"`
	// Config is the config file; Description the advisory text it names.
	Config      File `json:"config"`
	Description File `json:"description"`
	// Cargo is `cargo --version`: packages are reproducible with the same
	// cargo only.
	Cargo string `json:"cargo"`
	Lines []Line `json:"lines"`
	// Advisory maps each rendered output's path to its sha256.
	Advisory map[string]string `json:"advisory"`
	// Blog are the conventions of the blog's posts the post was rendered
	// to follow; nil without a blog, or in a seal made before they were
	// read.
	Blog *templates.Conventions `json:"blog_conventions,omitempty"`
}

// File is a file named by the config, with the sha256 of its bytes.
type File struct {
	Path   string `json:"path"`
	Sha256 string `json:"sha256"`
}

// Line is one release line as sealed.
type Line struct {
	Line   string `json:"line"`
	Branch string `json:"branch"`
	Held   string `json:"held"` // the held tip
	Tag    string `json:"tag"`
	// TagObject is the annotated tag the source repository already had for
	// the release, when it had one; the push then publishes that object.
	TagObject string  `json:"tag_object,omitempty"`
	Crates    []Crate `json:"crates"` // publish order
	// PinnedLock is the sha256 of the Cargo.lock the crates were packaged
	// with when the repository commits none: cargo resolved it before the
	// seal, and the publish at T0 uses exactly it (the bundle carries it).
	// Empty for a committed Cargo.lock, which the held tip fixes already.
	PinnedLock string `json:"pinned_lockfile,omitempty"`
}

// LockfileName is the file name a line's pinned Cargo.lock is kept under,
// in a state directory and in a bundle.
func LockfileName(line string) string { return url.PathEscape(line) + ".Cargo.lock" }

// Crate is one packaged crate.
type Crate struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Sha256  string `json:"sha256"`
}

// NV is name@version, as the journal keys crates.
func (c Crate) NV() string { return c.Name + "@" + c.Version }

// FileName is the .crate's name as cargo writes it under target/package.
func (c Crate) FileName() string { return fmt.Sprintf("%s-%s.crate", c.Name, c.Version) }

// Line returns the sealed line named line.
func (m *Manifest) Line(line string) (Line, bool) {
	for _, l := range m.Lines {
		if l.Line == line {
			return l, true
		}
	}
	return Line{}, false
}

// Marshal is the manifest as written to seal.json.
func (m *Manifest) Marshal() ([]byte, error) {
	if m.Version == 0 {
		m.Version = manifestVersion
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseManifest decodes seal.json.
func ParseManifest(b []byte) (*Manifest, error) {
	m := &Manifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("seal manifest is corrupt: %v", err)
	}
	if m.Version != manifestVersion {
		return nil, fmt.Errorf("seal manifest version %d is not supported (this embargo reads version %d)", m.Version, manifestVersion)
	}
	if m.ID == "" || m.Config.Sha256 == "" || len(m.Lines) == 0 {
		return nil, errors.New("seal manifest is incomplete: it lacks the release id, the config digest or the lines")
	}
	return m, nil
}

// ReadManifest reads the manifest at path; ok is false when there is none.
func ReadManifest(path string) (m *Manifest, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	m, err = ParseManifest(b)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	return m, true, nil
}

// Sha256 is the hex sha256 of b.
func Sha256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
