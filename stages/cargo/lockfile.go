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

// LockedFromCratesIO lists the crates.io packages locked in the workspace's
// Cargo.lock at dir, by name, each once: the index files cargo reads when it
// resolves a package of the workspace. A lockfile records the original
// source even where crates-io is replaced, so this holds for a redirected
// crates-io too.
func LockedFromCratesIO(dir string) ([]string, error) {
	path := filepath.Join(dir, "Cargo.lock")
	var lock struct {
		Package []struct {
			Name   string `toml:"name"`
			Source string `toml:"source"`
		} `toml:"package"`
	}
	if _, err := toml.DecodeFile(path, &lock); err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range lock.Package {
		if !fromCratesIO(p.Source) || seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out, nil
}

func fromCratesIO(source string) bool {
	for _, s := range cratesIOSources {
		if strings.TrimSuffix(source, "/") == strings.TrimSuffix(s, "/") {
			return true
		}
	}
	return false
}
