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
	// Dependencies name the packages this one depends on, as the
	// lockfile does: "name", or "name version" where the name alone is
	// ambiguous, or "name version (source)".
	Dependencies []string `toml:"dependencies"`
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
	return lockedWhere(dir, LockedPackage.FromCratesIO)
}

// LockedFrom lists, as LockedFromCratesIO, the packages locked from the
// registry cargo knows as registry at index: crates.io's for crates-io
// (wherever it is redirected), the registry's own for an alternative one.
func LockedFrom(dir, registry, index string) ([]string, error) {
	if registry == "crates-io" {
		return LockedFromCratesIO(dir)
	}
	return lockedWhere(dir, func(p LockedPackage) bool {
		return strings.TrimSuffix(p.Source, "/") == strings.TrimSuffix(index, "/")
	})
}

func lockedWhere(dir string, from func(LockedPackage) bool) ([]string, error) {
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
		if !from(p) || seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out, nil
}

// WorkspaceDependencies reads the Cargo.lock at dir and gives, for each
// workspace (path) package, by name, the set of workspace packages it
// depends on, directly or through others, any kind of dependency. A
// workspace package that depends on another at its new version resolves it
// from the registry once published, reading its index file: see
// stages.publishLine.
func WorkspaceDependencies(dir string) (map[string]map[string]bool, error) {
	path := filepath.Join(dir, "Cargo.lock")
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pkgs, err := ParseLock(string(text))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	byName := map[string][]int{}
	for i, p := range pkgs {
		byName[p.Name] = append(byName[p.Name], i)
	}
	// target finds the package a dependency string names, or -1.
	target := func(dep string) int {
		f := strings.Fields(dep)
		if len(f) == 0 {
			return -1
		}
		for _, i := range byName[f[0]] {
			p := pkgs[i]
			if len(f) == 1 || p.Version == f[1] && (len(f) == 2 || "("+p.Source+")" == strings.Join(f[2:], " ")) {
				return i
			}
		}
		return -1
	}
	out := map[string]map[string]bool{}
	for i, p := range pkgs {
		if p.Source != "" {
			continue
		}
		deps := map[string]bool{}
		seen := map[int]bool{i: true}
		next := []int{i}
		for len(next) > 0 {
			cur := pkgs[next[0]]
			next = next[1:]
			for _, d := range cur.Dependencies {
				j := target(d)
				if j < 0 || seen[j] {
					continue
				}
				seen[j] = true
				if pkgs[j].Source == "" {
					deps[pkgs[j].Name] = true
				}
				next = append(next, j)
			}
		}
		out[p.Name] = deps
	}
	return out, nil
}

// LockChanges lists how the registry packages of the lockfile now differ
// from those of was, one entry a package name, sorted: "tinydep 1.0.0 ->
// 1.0.1" for a version that moved, "newdep 0.2.0 added", "olddep 0.1.0
// removed". Workspace (path) packages are left out: their versions are the
// manifests', not the resolution's.
func LockChanges(was, now string) ([]string, error) {
	before, err := registryVersions(was)
	if err != nil {
		return nil, err
	}
	after, err := registryVersions(now)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range keysOfBoth(before, after) {
		b, a := strings.Join(before[n], ", "), strings.Join(after[n], ", ")
		switch {
		case b == a:
		case b == "":
			out = append(out, fmt.Sprintf("%s %s added", n, a))
		case a == "":
			out = append(out, fmt.Sprintf("%s %s removed", n, b))
		default:
			out = append(out, fmt.Sprintf("%s %s -> %s", n, b, a))
		}
	}
	return out, nil
}

// registryVersions maps each registry package of a lockfile to its locked
// versions, sorted (a lockfile may hold two major versions of one crate).
func registryVersions(text string) (map[string][]string, error) {
	pkgs, err := ParseLock(text)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, p := range pkgs {
		if p.FromRegistry() {
			out[p.Name] = append(out[p.Name], p.Version)
		}
	}
	for _, vs := range out {
		sort.Strings(vs)
	}
	return out, nil
}
