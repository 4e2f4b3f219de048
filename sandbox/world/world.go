// Package world generates fixture worlds: a Rust crate workspace with public
// release lines in a bare "public" repository and held security-fix branches
// in a private "source" clone, as a project looks just before an embargo
// ends.
//
// Everything is written with go-git so that embargo itself can build worlds
// on machines where only the git objects matter.
package world

import (
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Line is one maintained release line.
type Line struct {
	Line          string // "1.13"
	PublicBranch  string // e.g. "main" for the newest line, "release-1.12" for older ones
	PublicVersion string // version at the public tip, e.g. "1.13.0"
	FixVersion    string // version on the held branch, e.g. "1.13.1"
	HeldBranch    string // "embargo/1.13"
	Tag           string // "v1.13.1", annotated, at the held tip in Source only
}

// PublicTag is the annotated tag of the public tip, "v"+PublicVersion.
func (l Line) PublicTag() string { return "v" + l.PublicVersion }

// Spec describes the world to build.
type Spec struct {
	Dir string // empty or missing directory to create everything in
	// Crates are the workspace members in dependency order: crate i depends
	// on crate i-1 by path and by an exact version requirement.
	Crates []string
	Lines  []Line
	Author string // "Jane Doe <jane@example.org>", author of every commit and tag
	// Registry, when set, is the alternative registry the crates are
	// published to: each dependency between them names it, as cargo wants
	// of a crate published there.
	Registry string
	// Dependencies are crates of other projects, on the registry the
	// releases publish to, that the first crate depends on: name → version
	// requirement ("1"). They need NoLockfile: a committed lockfile would
	// pin checksums only that registry knows.
	Dependencies map[string]string
	// NoLockfile makes the workspace commit no Cargo.lock (its .gitignore
	// lists it), so that cargo resolves one whenever it packages.
	NoLockfile bool
}

// World is a built fixture world.
type World struct {
	// Source is the private clone (with a work tree) at Dir/source: every
	// public branch, every held branch and its tag, remote "origin" = Public.
	Source string
	// Public is the bare repository at Dir/public.git: the public branches
	// and their v<PublicVersion> tags, never a held commit.
	Public string
	Lines  []Line
	Crates []string
}

// DefaultSpec is the built-in example world: two crates and two release
// lines, each with a held fix release.
func DefaultSpec(dir string) Spec {
	return Spec{
		Dir:    dir,
		Crates: []string{"demo-core", "demo"},
		Lines: []Line{
			{Line: "1.13", PublicBranch: "main", PublicVersion: "1.13.0", FixVersion: "1.13.1", HeldBranch: "embargo/1.13", Tag: "v1.13.1"},
			{Line: "1.12", PublicBranch: "release-1.12", PublicVersion: "1.12.4", FixVersion: "1.12.5", HeldBranch: "embargo/1.12", Tag: "v1.12.5"},
		},
		Author: "Jane Doe <jane@example.org>",
	}
}

// baseTime makes worlds reproducible: every commit and tag is one minute
// after the previous one.
var baseTime = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// Build creates the public and source repositories described by spec.
//
// History: the oldest line's public branch starts with one commit; each newer
// line's public branch forks from the previous line's tip with a version bump
// commit. Each public tip carries an annotated tag v<PublicVersion>; each held
// branch is its public tip plus one fix commit that bumps every crate to
// FixVersion, tagged Tag in Source.
func Build(spec Spec) (*World, error) {
	author, err := validate(spec)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(spec.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	w := &World{
		Source: filepath.Join(dir, "source"),
		Public: filepath.Join(dir, "public.git"),
		Lines:  append([]Line(nil), spec.Lines...),
		Crates: append([]string(nil), spec.Crates...),
	}
	for _, p := range []string{w.Source, w.Public} {
		if _, err := os.Stat(p); err == nil {
			return nil, fmt.Errorf("world: %s already exists", p)
		}
	}
	pub, err := git.PlainInit(w.Public, true)
	if err != nil {
		return nil, fmt.Errorf("world: init public: %w", err)
	}
	src, err := git.PlainInit(w.Source, false)
	if err != nil {
		return nil, fmt.Errorf("world: init source: %w", err)
	}
	shape := layout{crates: spec.Crates, deps: spec.Dependencies, noLockfile: spec.NoLockfile, registry: spec.Registry}
	b := &builder{author: author, when: baseTime}
	both := []storer.Storer{pub.Storer, src.Storer}
	private := []storer.Storer{src.Storer}

	// Oldest line first, so that newer lines fork from older ones.
	ordered := append([]Line(nil), spec.Lines...)
	sort.SliceStable(ordered, func(i, j int) bool {
		return compareVersions(ordered[i].PublicVersion, ordered[j].PublicVersion) < 0
	})
	var parent plumbing.Hash
	for i, l := range ordered {
		msg := fmt.Sprintf("Release %s\n", l.PublicVersion)
		if i == 0 {
			msg = fmt.Sprintf("Initial import of the %s workspace at %s\n", spec.Crates[len(spec.Crates)-1], l.PublicVersion)
		}
		files := workspace(shape, l.PublicVersion, "")
		tip, err := b.commit(both, files, parent, msg)
		if err != nil {
			return nil, err
		}
		tag, err := b.tag(both, l.PublicTag(), tip, fmt.Sprintf("Release %s\n", l.PublicVersion))
		if err != nil {
			return nil, err
		}
		fix, err := b.commit(private, workspace(shape, l.FixVersion, l.FixVersion), tip,
			fmt.Sprintf("Fix out-of-bounds slice in window (%s)\n\nwindow() panicked or read past the end of its buffer when start+len\noverflowed or exceeded the buffer. Release %s.\n", l.FixVersion, l.FixVersion))
		if err != nil {
			return nil, err
		}
		heldTag, err := b.tag(private, l.Tag, fix, fmt.Sprintf("Release %s\n", l.FixVersion))
		if err != nil {
			return nil, err
		}
		refs := map[*git.Repository][]*plumbing.Reference{
			pub: {
				plumbing.NewHashReference(plumbing.NewBranchReferenceName(l.PublicBranch), tip),
				plumbing.NewHashReference(plumbing.NewTagReferenceName(l.PublicTag()), tag),
			},
			src: {
				plumbing.NewHashReference(plumbing.NewBranchReferenceName(l.PublicBranch), tip),
				plumbing.NewHashReference(plumbing.NewRemoteReferenceName("origin", l.PublicBranch), tip),
				plumbing.NewHashReference(plumbing.NewTagReferenceName(l.PublicTag()), tag),
				plumbing.NewHashReference(plumbing.NewBranchReferenceName(l.HeldBranch), fix),
				plumbing.NewHashReference(plumbing.NewTagReferenceName(l.Tag), heldTag),
			},
		}
		for r, rs := range refs {
			for _, ref := range rs {
				if err := r.Storer.SetReference(ref); err != nil {
					return nil, fmt.Errorf("world: set %s: %w", ref.Name(), err)
				}
			}
		}
		parent = tip
	}

	newest := plumbing.NewBranchReferenceName(ordered[len(ordered)-1].PublicBranch)
	for _, ref := range []*plumbing.Reference{
		plumbing.NewSymbolicReference(plumbing.HEAD, newest),
	} {
		if err := pub.Storer.SetReference(ref); err != nil {
			return nil, err
		}
		if err := src.Storer.SetReference(ref); err != nil {
			return nil, err
		}
	}
	originHead := plumbing.NewSymbolicReference(
		plumbing.NewRemoteHEADReferenceName("origin"),
		plumbing.NewRemoteReferenceName("origin", newest.Short()))
	if err := src.Storer.SetReference(originHead); err != nil {
		return nil, err
	}

	cfg, err := src.Config()
	if err != nil {
		return nil, err
	}
	cfg.Remotes["origin"] = &config.RemoteConfig{
		Name:  "origin",
		URLs:  []string{w.Public},
		Fetch: []config.RefSpec{"+refs/heads/*:refs/remotes/origin/*"},
	}
	for _, l := range ordered {
		cfg.Branches[l.PublicBranch] = &config.Branch{
			Name:   l.PublicBranch,
			Remote: "origin",
			Merge:  plumbing.NewBranchReferenceName(l.PublicBranch),
		}
	}
	if err := src.SetConfig(cfg); err != nil {
		return nil, fmt.Errorf("world: source config: %w", err)
	}

	wt, err := src.Worktree()
	if err != nil {
		return nil, err
	}
	if err := wt.Reset(&git.ResetOptions{Commit: parent, Mode: git.HardReset}); err != nil {
		return nil, fmt.Errorf("world: check out %s: %w", newest.Short(), err)
	}
	return w, nil
}

var (
	crateName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	version   = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
)

func validate(spec Spec) (object.Signature, error) {
	var sig object.Signature
	if spec.Dir == "" {
		return sig, errors.New("world: spec has no Dir")
	}
	if len(spec.Crates) == 0 {
		return sig, errors.New("world: spec has no crates")
	}
	if len(spec.Lines) == 0 {
		return sig, errors.New("world: spec has no release lines")
	}
	if len(spec.Dependencies) > 0 && !spec.NoLockfile {
		return sig, errors.New("world: a spec with registry dependencies needs NoLockfile (a committed lockfile would pin checksums only the registry knows)")
	}
	for name, req := range spec.Dependencies {
		if !crateName.MatchString(name) || req == "" {
			return sig, fmt.Errorf("world: invalid dependency %q = %q", name, req)
		}
	}
	addr, err := mail.ParseAddress(spec.Author)
	if err != nil || addr.Name == "" {
		return sig, fmt.Errorf("world: author %q is not \"Name <email>\"", spec.Author)
	}
	sig = object.Signature{Name: addr.Name, Email: addr.Address}
	seen := map[string]bool{}
	for _, c := range spec.Crates {
		if !crateName.MatchString(c) {
			return sig, fmt.Errorf("world: invalid crate name %q", c)
		}
		if seen[c] {
			return sig, fmt.Errorf("world: crate %q listed twice", c)
		}
		seen[c] = true
	}
	refs := map[string]string{}
	claim := func(ref, what string) error {
		if prev, ok := refs[ref]; ok {
			return fmt.Errorf("world: %s is both %s and %s", ref, prev, what)
		}
		refs[ref] = what
		return nil
	}
	for _, l := range spec.Lines {
		for _, v := range []string{l.PublicVersion, l.FixVersion} {
			if !version.MatchString(v) {
				return sig, fmt.Errorf("world: line %s: version %q is not MAJOR.MINOR.PATCH", l.Line, v)
			}
		}
		if compareVersions(l.FixVersion, l.PublicVersion) <= 0 {
			return sig, fmt.Errorf("world: line %s: fix version %s is not above %s", l.Line, l.FixVersion, l.PublicVersion)
		}
		for _, b := range []string{l.PublicBranch, l.HeldBranch} {
			if b == "" || plumbing.NewBranchReferenceName(b).Validate() != nil {
				return sig, fmt.Errorf("world: line %s: invalid branch name %q", l.Line, b)
			}
		}
		if l.Tag == "" || plumbing.NewTagReferenceName(l.Tag).Validate() != nil {
			return sig, fmt.Errorf("world: line %s: invalid tag %q", l.Line, l.Tag)
		}
		for ref, what := range map[string]string{
			"refs/heads/" + l.PublicBranch: "public branch of " + l.Line,
			"refs/heads/" + l.HeldBranch:   "held branch of " + l.Line,
			"refs/tags/" + l.PublicTag():   "public tag of " + l.Line,
			"refs/tags/" + l.Tag:           "fix tag of " + l.Line,
		} {
			if err := claim(ref, what); err != nil {
				return sig, err
			}
		}
	}
	return sig, nil
}

func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return len(as) - len(bs)
}

// CommitFile adds a commit on branch of the repository at repoPath (bare or
// not) that sets path to content, and moves the branch to it. No work tree or
// index is touched, so it simulates a push from elsewhere: the public tip
// moving, or a fix leaking. The commit reuses the tip's committer, one minute
// later.
func CommitFile(repoPath, branch, path, content, message string) (string, error) {
	clean := filepath.ToSlash(filepath.Clean(path))
	if path == "" || filepath.IsAbs(path) || clean == "." || strings.HasPrefix(clean, "../") || clean == ".." || strings.HasPrefix(clean, ".git/") || clean == ".git" {
		return "", fmt.Errorf("world: invalid path %q", path)
	}
	repo, err := git.PlainOpen(repoPath)
	if err != nil {
		return "", fmt.Errorf("world: open %s: %w", repoPath, err)
	}
	name := plumbing.NewBranchReferenceName(branch)
	ref, err := repo.Reference(name, true)
	if err != nil {
		return "", fmt.Errorf("world: %s in %s: %w", name, repoPath, err)
	}
	tip, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return "", fmt.Errorf("world: %s: %w", name, err)
	}
	tree, err := tip.Tree()
	if err != nil {
		return "", err
	}
	files := map[string]entry{}
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		p, e, err := walker.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("world: read tree of %s: %w", name, err)
		}
		if e.Mode != filemode.Dir {
			files[p] = entry{mode: e.Mode, hash: e.Hash}
		}
	}
	to := []storer.Storer{repo.Storer}
	h, err := put(to, blob(content))
	if err != nil {
		return "", err
	}
	mode := filemode.Regular
	if old, ok := files[clean]; ok && old.mode == filemode.Executable {
		mode = old.mode
	}
	files[clean] = entry{mode: mode, hash: h}
	root, err := writeTree(to, files)
	if err != nil {
		return "", err
	}
	sig := tip.Committer
	sig.When = sig.When.Add(time.Minute)
	if !strings.HasSuffix(message, "\n") {
		message += "\n"
	}
	c, err := put(to, &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      message,
		TreeHash:     root,
		ParentHashes: []plumbing.Hash{tip.Hash},
	})
	if err != nil {
		return "", err
	}
	// Compare-and-swap so a concurrent move of the branch is not lost.
	if err := repo.Storer.CheckAndSetReference(plumbing.NewHashReference(name, c), ref); err != nil {
		return "", fmt.Errorf("world: move %s: %w", name, err)
	}
	return c.String(), nil
}
