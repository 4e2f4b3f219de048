package bench

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"sort"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/async-rs/embargo/sandbox/registry"
)

// treePackage is one crate of another project in a generated dependency
// tree: a tiny library on the registry, depending on packages of the next
// level down.
type treePackage struct {
	Name, Version string
	Deps          []string // names, each required as "1"
}

// treeLevels spreads n packages over dependency levels the way a real
// tree is shaped: a few direct dependencies, more below them, fewer leaves.
// async-std's ~90 packages are about five levels deep.
func treeLevels(n int) []int {
	weights := []int{3, 5, 6, 5, 3}
	total := 0
	for _, w := range weights {
		total += w
	}
	var sizes []int
	left := n
	for i, w := range weights {
		size := n * w / total
		if i == len(weights)-1 || size > left {
			size = left
		}
		if size < 1 {
			size = 1
		}
		if size > left {
			break
		}
		sizes = append(sizes, size)
		left -= size
		if left == 0 {
			break
		}
	}
	return sizes
}

// dependencyTree generates n packages in levels; every package of a level
// is required by at least one package of the level above (the first level
// by the released crate), and most have two dependencies, so that cargo
// meets each level only once it has read the one above.
func dependencyTree(n int) (direct []string, pkgs []treePackage) {
	sizes := treeLevels(n)
	names := make([][]string, len(sizes))
	k := 0
	for l, size := range sizes {
		for i := 0; i < size; i++ {
			names[l] = append(names[l], fmt.Sprintf("tree-dep-%02d", k))
			k++
		}
	}
	for l, level := range names {
		for i, name := range level {
			p := treePackage{Name: name, Version: fmt.Sprintf("1.%d.%d", l, i%3)}
			if l+1 < len(names) {
				below := names[l+1]
				deps := map[string]bool{below[(i+1)%len(below)]: true}
				for j := i; j < len(below); j += len(level) {
					deps[below[j]] = true
				}
				for d := range deps {
					p.Deps = append(p.Deps, d)
				}
				sort.Strings(p.Deps)
			}
			pkgs = append(pkgs, p)
		}
	}
	return names[0], pkgs
}

// crateFile packs a tree package as cargo would: a gzipped tar of
// name-version/Cargo.toml and src/lib.rs. Its library adds up its
// dependencies' values, so building it builds them.
func (p treePackage) crateFile() ([]byte, error) {
	var manifest strings.Builder
	fmt.Fprintf(&manifest, "[package]\nname = %q\nversion = %q\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"a crate of another project\"\n", p.Name, p.Version)
	body := "1"
	if len(p.Deps) > 0 {
		manifest.WriteString("\n[dependencies]\n")
		var sum []string
		for _, d := range p.Deps {
			fmt.Fprintf(&manifest, "%s = \"1\"\n", d)
			sum = append(sum, strings.ReplaceAll(d, "-", "_")+"::value()")
		}
		body = strings.Join(sum, " + ") + " + 1"
	}
	files := []struct{ name, body string }{
		{"Cargo.toml", manifest.String()},
		{"src/lib.rs", fmt.Sprintf("//! %s %s\n\npub fn value() -> u64 {\n    %s\n}\n", p.Name, p.Version, body)},
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		hdr := &tar.Header{
			Name: p.Name + "-" + p.Version + "/" + f.name, Mode: 0o644, Size: int64(len(f.body)),
			Typeflag: tar.TypeReg, ModTime: time.Unix(1, 0),
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// seedTree puts the packages on the registry as if published long ago.
func seedTree(reg *registry.Server, pkgs []treePackage) error {
	for _, p := range pkgs {
		crate, err := p.crateFile()
		if err != nil {
			return err
		}
		e := registry.IndexEntry{Name: p.Name, Vers: p.Version}
		for _, d := range p.Deps {
			e.Deps = append(e.Deps, registry.IndexDep{Name: d, Req: "^1", DefaultFeatures: true, Kind: "normal"})
		}
		if err := reg.Seed(e, crate); err != nil {
			return err
		}
	}
	return nil
}

// addRefs gives the public repository n more refs, as a long-lived
// project's has: branches, annotated release tags and pull-request heads
// (refs/pull/N/head), about a third each, each at a commit of its own on
// top of the oldest public branch. The push reads them all when it lists
// the remote.
func addRefs(public string, n int) error {
	repo, err := git.PlainOpen(public)
	if err != nil {
		return err
	}
	head, err := repo.Head()
	if err != nil {
		return err
	}
	// The oldest public commit: the first of main's history.
	base, err := repo.CommitObject(head.Hash())
	if err != nil {
		return err
	}
	for base.NumParents() > 0 {
		if base, err = base.Parent(0); err != nil {
			return err
		}
	}
	sig := base.Author
	for i := 0; i < n; i++ {
		sig.When = sig.When.Add(time.Second)
		var ref plumbing.ReferenceName
		switch i % 3 {
		case 0:
			ref = plumbing.NewBranchReferenceName(fmt.Sprintf("topic/work-%03d", i))
		case 1:
			ref = plumbing.NewTagReferenceName(fmt.Sprintf("v0.%d.%d", i/30, i%30))
		default:
			ref = plumbing.ReferenceName(fmt.Sprintf("refs/pull/%d/head", i+1))
		}
		c := &object.Commit{Author: sig, Committer: sig, Message: fmt.Sprintf("Work on %s\n", ref.Short()), TreeHash: base.TreeHash, ParentHashes: []plumbing.Hash{base.Hash}}
		h, err := store(repo, c)
		if err != nil {
			return err
		}
		if ref.IsTag() {
			tag := &object.Tag{Name: ref.Short(), Tagger: sig, Message: "Release " + ref.Short() + "\n", TargetType: plumbing.CommitObject, Target: h}
			if h, err = store(repo, tag); err != nil {
				return err
			}
		}
		if err := repo.Storer.SetReference(plumbing.NewHashReference(ref, h)); err != nil {
			return err
		}
	}
	return nil
}

func store(repo *git.Repository, o interface {
	Encode(plumbing.EncodedObject) error
}) (plumbing.Hash, error) {
	obj := repo.Storer.NewEncodedObject()
	if err := o.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return repo.Storer.SetEncodedObject(obj)
}
