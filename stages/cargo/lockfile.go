package cargo

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// cratesIOSources are the ways a Cargo.lock names crates.io: the git index
// URL cargo has always recorded, and the sparse one.
var cratesIOSources = []string{
	"registry+https://github.com/rust-lang/crates.io-index",
	"sparse+https://index.crates.io/",
}

// LockedPackage is one [[package]] of a Cargo.lock. Source is empty for the
// workspace's own (path) packages.
type LockedPackage struct {
	Name    string `toml:"name"`
	Version string `toml:"version"`
	Source  string `toml:"source"`
}

// FromRegistry is true for a package from a registry, any registry.
func (p LockedPackage) FromRegistry() bool {
	return strings.HasPrefix(p.Source, "registry+") || strings.HasPrefix(p.Source, "sparse+")
}

// FromCratesIO is true for a package from crates.io. A lockfile records the
// original source even where crates-io is replaced, so this holds for a
// redirected crates-io too.
func (p LockedPackage) FromCratesIO() bool {
	for _, s := range cratesIOSources {
		if strings.TrimSuffix(p.Source, "/") == strings.TrimSuffix(s, "/") {
			return true
		}
	}
	return false
}

// ParseLock reads the packages of a Cargo.lock.
func ParseLock(text string) ([]LockedPackage, error) {
	var lock struct {
		Package []LockedPackage `toml:"package"`
	}
	if _, err := toml.Decode(text, &lock); err != nil {
		return nil, err
	}
	return lock.Package, nil
}

// LockedFromCratesIO lists the crates.io packages locked in the workspace's
// Cargo.lock at dir, by name, each once: the index files cargo reads when it
// resolves a package of the workspace.
func LockedFromCratesIO(dir string) ([]string, error) {
	path := filepath.Join(dir, "Cargo.lock")
	text, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pkgs, err := ParseLock(string(text))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range pkgs {
		if !p.FromCratesIO() || seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out, nil
}
