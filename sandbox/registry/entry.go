package registry

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/async-rs/embargo/stages/index"
)

// IndexEntry is one line of a sparse index file, in cargo's index format.
type IndexEntry struct {
	Name        string              `json:"name"`
	Vers        string              `json:"vers"`
	Deps        []IndexDep          `json:"deps"`
	Cksum       string              `json:"cksum"`
	Features    map[string][]string `json:"features"`
	Features2   map[string][]string `json:"features2,omitempty"`
	Yanked      bool                `json:"yanked"`
	Links       string              `json:"links,omitempty"`
	V           int                 `json:"v,omitempty"`
	RustVersion string              `json:"rust_version,omitempty"`
}

// IndexDep is one dependency of an IndexEntry. Name is the name the
// dependent uses (the renamed one, if renamed) and Package the real crate
// name when it differs.
type IndexDep struct {
	Name            string   `json:"name"`
	Req             string   `json:"req"`
	Features        []string `json:"features"`
	Optional        bool     `json:"optional"`
	DefaultFeatures bool     `json:"default_features"`
	Target          string   `json:"target,omitempty"`
	Kind            string   `json:"kind"`
	Registry        string   `json:"registry,omitempty"`
	Package         string   `json:"package,omitempty"`
}

// normalize fills the nil collections cargo expects as JSON arrays and
// objects, not null.
func (e *IndexEntry) normalize() {
	if e.Deps == nil {
		e.Deps = []IndexDep{}
	}
	for i := range e.Deps {
		if e.Deps[i].Features == nil {
			e.Deps[i].Features = []string{}
		}
		if e.Deps[i].Kind == "" {
			e.Deps[i].Kind = "normal"
		}
	}
	if e.Features == nil {
		e.Features = map[string][]string{}
	}
	if len(e.Features2) > 0 && e.V < 2 {
		e.V = 2
	}
}

// Path is the location of a crate's index file below the index root; the
// rule is the client's.
func Path(name string) string { return index.Path(name) }

// validName follows crates.io: ASCII letters, digits, '-' and '_', starting
// with a letter, at most 64 characters.
func validName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("invalid crate name `%s`: must be 1 to 64 characters", name)
	}
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '_'):
		default:
			return fmt.Errorf("invalid crate name `%s`", name)
		}
	}
	return nil
}

// validVersion is a loose semver check; it also keeps versions safe to use
// as file names.
func validVersion(v string) error {
	core, _, _ := strings.Cut(v, "+")
	core, _, _ = strings.Cut(core, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return fmt.Errorf("invalid version `%s`", v)
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return fmt.Errorf("invalid version `%s`", v)
		}
	}
	for _, c := range v {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '-' || c == '+') {
			return fmt.Errorf("invalid version `%s`", v)
		}
	}
	return nil
}

// sameVersion compares versions the way crates.io does: build metadata
// does not make a version distinct.
func sameVersion(a, b string) bool {
	a, _, _ = strings.Cut(a, "+")
	b, _, _ = strings.Cut(b, "+")
	return a == b
}

// canonical is the identity crates.io uses to refuse names that differ only
// in case or in '-' versus '_'.
func canonical(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "-", "_")
}

// newCrate is the metadata cargo sends with a publish.
type newCrate struct {
	Name          string              `json:"name"`
	Vers          string              `json:"vers"`
	Deps          []newCrateDep       `json:"deps"`
	Features      map[string][]string `json:"features"`
	Description   string              `json:"description"`
	License       string              `json:"license"`
	Links         string              `json:"links"`
	RustVersion   string              `json:"rust_version"`
	Documentation string              `json:"documentation"`
	Homepage      string              `json:"homepage"`
	Repository    string              `json:"repository"`
}

type newCrateDep struct {
	Name               string   `json:"name"`
	VersionReq         string   `json:"version_req"`
	Features           []string `json:"features"`
	Optional           bool     `json:"optional"`
	DefaultFeatures    bool     `json:"default_features"`
	Target             string   `json:"target"`
	Kind               string   `json:"kind"`
	Registry           string   `json:"registry"`
	ExplicitNameInToml string   `json:"explicit_name_in_toml"`
}

// indexEntry converts publish metadata to the index line, as crates.io
// does: a renamed dependency is listed under the name the dependent uses,
// with the real crate in package; features using the "dep:" or "?/" syntax
// go to features2 so that old cargos skip the version instead of
// misreading it.
func (m *newCrate) indexEntry(cksum string) IndexEntry {
	e := IndexEntry{
		Name:        m.Name,
		Vers:        m.Vers,
		Cksum:       cksum,
		Features:    map[string][]string{},
		Links:       m.Links,
		RustVersion: m.RustVersion,
	}
	for _, d := range m.Deps {
		dep := IndexDep{
			Name:            d.Name,
			Req:             d.VersionReq,
			Features:        d.Features,
			Optional:        d.Optional,
			DefaultFeatures: d.DefaultFeatures,
			Target:          d.Target,
			Kind:            d.Kind,
			Registry:        d.Registry,
		}
		if d.ExplicitNameInToml != "" && d.ExplicitNameInToml != d.Name {
			dep.Name = d.ExplicitNameInToml
			dep.Package = d.Name
		}
		e.Deps = append(e.Deps, dep)
	}
	// crates.io lists dependencies sorted; cargo does not care, but stable
	// output keeps index files comparable.
	sort.SliceStable(e.Deps, func(i, j int) bool { return e.Deps[i].Name < e.Deps[j].Name })
	for f, vals := range m.Features {
		if vals == nil {
			vals = []string{}
		}
		if needsFeatures2(vals) {
			if e.Features2 == nil {
				e.Features2 = map[string][]string{}
			}
			e.Features2[f] = vals
		} else {
			e.Features[f] = vals
		}
	}
	e.normalize()
	return e
}

func needsFeatures2(vals []string) bool {
	for _, v := range vals {
		if strings.HasPrefix(v, "dep:") || strings.Contains(v, "?/") {
			return true
		}
	}
	return false
}

func marshalLine(e IndexEntry) ([]byte, error) {
	e.normalize()
	return json.Marshal(e)
}
