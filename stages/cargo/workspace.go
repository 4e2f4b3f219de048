// Package cargo reads Cargo workspaces out of git trees and drives the real
// cargo binary (package, publish) for the stages.
package cargo

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Crate is one package of a workspace.
type Crate struct {
	Name    string
	Version string
	Dir     string // relative to the workspace root, "." for the root package
	// Publish is false for `publish = false` (or an empty list).
	Publish bool
	// Registries, when non-empty, is the `publish = [...]` allow-list.
	Registries []string
	// Deps are the workspace crates this one needs to be published first
	// (normal and build dependencies; dev-dependencies are stripped on
	// publish when they carry no version, and would make cycles).
	Deps []string
}

// Tree is read access to a commit's files.
type Tree interface {
	// Read returns a file's content, ok=false when absent.
	Read(path string) (content string, ok bool, err error)
	// Dirs lists the sub-folders of dir.
	Dirs(dir string) ([]string, error)
}

type manifest struct {
	Package *struct {
		Name    string `toml:"name"`
		Version any    `toml:"version"`
		Publish any    `toml:"publish"`
	} `toml:"package"`
	Workspace *struct {
		Members []string `toml:"members"`
		Exclude []string `toml:"exclude"`
		Package struct {
			Version string `toml:"version"`
			Publish any    `toml:"publish"`
		} `toml:"package"`
		Dependencies map[string]any `toml:"dependencies"`
	} `toml:"workspace"`
	Dependencies      map[string]any `toml:"dependencies"`
	BuildDependencies map[string]any `toml:"build-dependencies"`
	Target            map[string]struct {
		Dependencies      map[string]any `toml:"dependencies"`
		BuildDependencies map[string]any `toml:"build-dependencies"`
	} `toml:"target"`
}

// Workspace is the set of crates at one commit.
type Workspace struct {
	Crates map[string]*Crate
}

// ReadWorkspace finds every package of the workspace rooted at the tree's
// top-level Cargo.toml.
func ReadWorkspace(t Tree) (*Workspace, error) {
	rootSrc, ok, err := t.Read("Cargo.toml")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no Cargo.toml at the top of the repository")
	}
	var root manifest
	if _, err := toml.Decode(rootSrc, &root); err != nil {
		return nil, fmt.Errorf("the top-level Cargo.toml: %v", err)
	}
	ws := &Workspace{Crates: map[string]*Crate{}}
	dirs := []string{}
	if root.Package != nil {
		dirs = append(dirs, ".")
	}
	if root.Workspace != nil {
		excluded := map[string]bool{}
		for _, e := range root.Workspace.Exclude {
			excluded[path.Clean(e)] = true
		}
		for _, m := range root.Workspace.Members {
			matches, err := expandMember(t, path.Clean(m))
			if err != nil {
				return nil, err
			}
			for _, d := range matches {
				if !excluded[d] && d != "." {
					dirs = append(dirs, d)
				}
			}
		}
	}
	for _, d := range dirs {
		file := "Cargo.toml"
		src := rootSrc
		if d != "." {
			file = d + "/Cargo.toml"
			var ok bool
			src, ok, err = t.Read(file)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue // a glob matched a folder that is not a crate
			}
		}
		var m manifest
		if _, err := toml.Decode(src, &m); err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		if m.Package == nil {
			continue
		}
		c := &Crate{Name: m.Package.Name, Dir: d}
		switch v := m.Package.Version.(type) {
		case string:
			c.Version = v
		case map[string]any:
			if v["workspace"] == true && root.Workspace != nil {
				c.Version = root.Workspace.Package.Version
			}
		case nil:
			c.Version = "0.0.0" // cargo's default, and unpublishable
		}
		if c.Version == "" {
			return nil, fmt.Errorf("%s: cannot tell the version of %s", file, c.Name)
		}
		pub := m.Package.Publish
		if mp, ok := pub.(map[string]any); ok && mp["workspace"] == true && root.Workspace != nil {
			pub = root.Workspace.Package.Publish
		}
		c.Publish, c.Registries = publishable(pub)
		if m.Package.Version == nil {
			c.Publish = false
		}
		var wsDeps map[string]any
		if root.Workspace != nil {
			wsDeps = root.Workspace.Dependencies
		}
		deps := []map[string]any{m.Dependencies, m.BuildDependencies}
		for _, tg := range m.Target {
			deps = append(deps, tg.Dependencies, tg.BuildDependencies)
		}
		seen := map[string]bool{}
		for _, table := range deps {
			for key, spec := range table {
				if name := depPackage(key, spec, wsDeps); name != "" && !seen[name] {
					seen[name] = true
					c.Deps = append(c.Deps, name)
				}
			}
		}
		if prev, dup := ws.Crates[c.Name]; dup {
			return nil, fmt.Errorf("crate %s appears twice (%s and %s)", c.Name, prev.Dir, c.Dir)
		}
		ws.Crates[c.Name] = c
	}
	// Keep only dependencies on workspace members: those are what order the
	// publishes.
	for _, c := range ws.Crates {
		kept := c.Deps[:0]
		for _, d := range c.Deps {
			if _, ok := ws.Crates[d]; ok && d != c.Name {
				kept = append(kept, d)
			}
		}
		sort.Strings(kept)
		c.Deps = kept
	}
	return ws, nil
}

func publishable(v any) (bool, []string) {
	switch p := v.(type) {
	case nil:
		return true, nil
	case bool:
		return p, nil
	case []any:
		if len(p) == 0 {
			return false, nil
		}
		regs := make([]string, 0, len(p))
		for _, r := range p {
			regs = append(regs, fmt.Sprint(r))
		}
		return true, regs
	}
	return true, nil
}

// depPackage is the package name a dependency entry refers to.
func depPackage(key string, spec any, wsDeps map[string]any) string {
	t, ok := spec.(map[string]any)
	if !ok {
		return key
	}
	if t["workspace"] == true {
		if inherited, ok := wsDeps[key]; ok {
			if it, ok := inherited.(map[string]any); ok {
				if p, ok := it["package"].(string); ok {
					return p
				}
			}
		}
	}
	if p, ok := t["package"].(string); ok {
		return p
	}
	return key
}

// expandMember resolves a members entry, with * globs in any segment.
func expandMember(t Tree, pattern string) ([]string, error) {
	if !strings.ContainsAny(pattern, "*?[") {
		return []string{pattern}, nil
	}
	parts := strings.Split(pattern, "/")
	current := []string{""}
	for _, part := range parts {
		var next []string
		for _, base := range current {
			if !strings.ContainsAny(part, "*?[") {
				next = append(next, path.Join(base, part))
				continue
			}
			dir := base
			if dir == "" {
				dir = "."
			}
			subs, err := t.Dirs(dir)
			if err != nil {
				return nil, err
			}
			for _, s := range subs {
				if ok, _ := path.Match(part, s); ok {
					next = append(next, path.Join(base, s))
				}
			}
		}
		current = next
	}
	sort.Strings(current)
	return current, nil
}

// Select returns the crates to publish: the listed ones (each must exist and
// be publishable), or every publishable crate.
func (ws *Workspace) Select(names []string) ([]*Crate, error) {
	var out []*Crate
	if len(names) == 0 {
		for _, c := range ws.Crates {
			if c.Publish {
				out = append(out, c)
			}
		}
	} else {
		for _, n := range names {
			c, ok := ws.Crates[n]
			if !ok {
				return nil, fmt.Errorf("crate %s is not in the workspace", n)
			}
			if !c.Publish {
				return nil, fmt.Errorf("crate %s has publish = false", n)
			}
			out = append(out, c)
		}
	}
	return ws.Order(out)
}

// Order sorts crates so that every crate comes after the workspace crates it
// depends on (ties by name, so the order is stable across runs).
func (ws *Workspace) Order(crates []*Crate) ([]*Crate, error) {
	in := map[string]*Crate{}
	for _, c := range crates {
		in[c.Name] = c
	}
	var out []*Crate
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(c *Crate, chain []string) error
	visit = func(c *Crate, chain []string) error {
		switch state[c.Name] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("dependency cycle: %s", strings.Join(append(chain, c.Name), " -> "))
		}
		state[c.Name] = 1
		for _, d := range c.Deps {
			if dc, ok := in[d]; ok {
				if err := visit(dc, append(chain, c.Name)); err != nil {
					return err
				}
			}
		}
		state[c.Name] = 2
		out = append(out, c)
		return nil
	}
	names := make([]string, 0, len(in))
	for n := range in {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := visit(in[n], nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}
