package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/spf13/cobra"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/release"
)

// heldPatterns are the branch names a held fix usually goes by. A branch
// of that name that the public remote already has is a public branch.
var heldPatterns = []string{"embargo/*", "security/*", "release-*", "v*.x"}

func (a *app) initCommand() *cobra.Command {
	var dir, out string
	c := &cobra.Command{
		Use:   "init",
		Short: "Write a starter embargo.toml from the repository holding the held branches",
		Long: `init reads the repository (the clone holding the held branches): the
workspace's crates, the remote origin, and the local branches named like held
fixes (embargo/*, security/*, release-*, v*.x) that origin does not have. It
writes a starter embargo.toml with one [[release]] per held branch; every
guess is marked "check", every value it cannot guess is a "TODO:" placeholder
that the config refuses until it is replaced. An existing file is never
overwritten.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("output") {
				out = filepath.Join(dir, "embargo.toml")
			}
			return a.writeStarter(dir, out)
		},
	}
	c.Flags().StringVar(&dir, "dir", ".", "the repository holding the held branches")
	c.Flags().StringVarP(&out, "output", "o", "", "the config to write (default embargo.toml in --dir)")
	return c
}

// heldLine is one held branch and what init guessed of its release.
type heldLine struct {
	branch, line, publicBranch, tag string
	crates                          []string
	version                         string // the crates' version at the held tip
	notes                           []string
	author                          string // of the held tip: "Name <email>"
}

// survey is what init read of the repository.
type survey struct {
	root    string // the work tree (or the bare repository)
	public  string // origin's URL, or ""
	crates  []*cargo.Crate
	lines   []heldLine
	skipped []string // branches of a held name that origin already has
}

func (a *app) writeStarter(dir, out string) error {
	if _, err := os.Lstat(out); err == nil {
		return &codeError{code: ExitUsage, err: fmt.Errorf("%s already exists: init never overwrites a config; move it away or write elsewhere with -o", out)}
	}
	s, err := surveyRepository(dir)
	if err != nil {
		return err
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	repo, err := filepath.Rel(filepath.Dir(absOut), s.root)
	if err != nil {
		repo = s.root
	}
	text := starterConfig(s, filepath.ToSlash(repo), a.clock.Now().UTC().Year())
	// O_EXCL: a file that appeared since the check above is not replaced either.
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return &codeError{code: ExitUsage, err: fmt.Errorf("%s already exists: init never overwrites a config; move it away or write elsewhere with -o", out)}
	}
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Fprintf(a.stdout, "wrote %s from %s\n", out, s.root)
	for _, l := range s.lines {
		fmt.Fprintf(a.stdout, "  release %s: held %s -> public %s, tag %s\n", l.line, l.branch, l.publicBranch, l.tag)
	}
	for _, b := range s.skipped {
		fmt.Fprintf(a.stdout, "  %s: origin has it, taken for a public branch\n", b)
	}
	if len(s.lines) == 0 {
		fmt.Fprintf(a.stdout, "  no held branch found (%s, not on origin): fill in the [[release]] table\n", strings.Join(heldPatterns, ", "))
	}
	fmt.Fprintf(a.stdout, "next: replace every TODO: and review every \"check\" in %s, write %s, then run embargo check -c %s\n", out, "advisory.md", out)
	return nil
}

// surveyRepository reads dir's repository with go-git, never changing it.
func surveyRepository(dir string) (*survey, error) {
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("open the repository at %s: %w (run init in the clone holding the held branches, or pass --dir)", dir, err)
	}
	s := &survey{}
	if wt, err := r.Worktree(); err == nil {
		s.root = wt.Filesystem.Root()
	} else if s.root, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	if origin, err := r.Remote("origin"); err == nil && len(origin.Config().URLs) > 0 {
		s.public = origin.Config().URLs[0]
	}
	if head, err := r.Head(); err == nil {
		if ws, err := workspaceOf(r, head.Hash()); err == nil {
			s.crates, _ = ws.Select(nil)
		}
	}

	public, err := originTips(r)
	if err != nil {
		return nil, err
	}
	tags, err := tagsByCommit(r)
	if err != nil {
		return nil, err
	}
	branches, err := r.Branches()
	if err != nil {
		return nil, err
	}
	var held []*plumbing.Reference
	err = branches.ForEach(func(ref *plumbing.Reference) error {
		name := ref.Name().Short()
		if !heldName(name) {
			return nil
		}
		if isPublic(r, ref.Hash(), public) {
			s.skipped = append(s.skipped, name)
			return nil
		}
		held = append(held, ref)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, ref := range held {
		l, err := guessLine(r, ref, public, tags)
		if err != nil {
			return nil, fmt.Errorf("held branch %s: %w", ref.Name().Short(), err)
		}
		s.lines = append(s.lines, l)
	}
	if s.crates == nil && len(s.lines) == 0 {
		return nil, fmt.Errorf("%s: no Cargo workspace at HEAD and no held branch: run init in the clone of the Rust project holding the held branches", s.root)
	}
	// Newest line first, as a release manager lists them.
	sort.SliceStable(s.lines, func(i, j int) bool {
		return compareVersions(s.lines[i].version, s.lines[j].version) > 0
	})
	return s, nil
}

func heldName(name string) bool {
	for _, p := range heldPatterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// originTips maps each commit a branch of origin points to (as this clone
// last fetched it) to those branches' names.
func originTips(r *git.Repository) (map[plumbing.Hash][]string, error) {
	refs, err := r.References()
	if err != nil {
		return nil, err
	}
	out := map[plumbing.Hash][]string{}
	prefix := "refs/remotes/origin/"
	err = refs.ForEach(func(ref *plumbing.Reference) error {
		n := ref.Name().String()
		if ref.Type() == plumbing.HashReference && strings.HasPrefix(n, prefix) && n != prefix+"HEAD" {
			out[ref.Hash()] = append(out[ref.Hash()], strings.TrimPrefix(n, prefix))
		}
		return nil
	})
	return out, err
}

// isPublic: the commit is a tip of origin's or an ancestor of one.
func isPublic(r *git.Repository, h plumbing.Hash, public map[plumbing.Hash][]string) bool {
	if _, ok := public[h]; ok {
		return true
	}
	c, err := r.CommitObject(h)
	if err != nil {
		return false
	}
	for tip := range public {
		if t, err := r.CommitObject(tip); err == nil {
			if ok, _ := c.IsAncestor(t); ok {
				return true
			}
		}
	}
	return false
}

// tagsByCommit maps each commit to the tags naming it, annotated ones peeled.
func tagsByCommit(r *git.Repository) (map[plumbing.Hash][]string, error) {
	iter, err := r.Tags()
	if err != nil {
		return nil, err
	}
	out := map[plumbing.Hash][]string{}
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		h := ref.Hash()
		if t, err := r.TagObject(h); err == nil {
			h = t.Target
		}
		out[h] = append(out[h], ref.Name().Short())
		return nil
	})
	return out, err
}

var lineRE = regexp.MustCompile(`(\d+\.\d+|\d+)(?:\.x)?$`)

// guessLine reads a held branch: its crates and version, the public branch
// it grew from and the tag it will carry.
func guessLine(r *git.Repository, ref *plumbing.Reference, public map[plumbing.Hash][]string, tags map[plumbing.Hash][]string) (heldLine, error) {
	l := heldLine{branch: ref.Name().Short()}
	tip, err := r.CommitObject(ref.Hash())
	if err != nil {
		return l, err
	}
	l.author = fmt.Sprintf("%s <%s>", tip.Author.Name, tip.Author.Email)
	ws, err := workspaceOf(r, tip.Hash)
	if err != nil {
		return l, fmt.Errorf("read its Cargo workspace: %w", err)
	}
	crates, err := ws.Select(nil)
	if err != nil {
		return l, err
	}
	for _, c := range crates {
		l.crates = append(l.crates, c.Name)
		if l.version == "" {
			l.version = c.Version
		} else if c.Version != l.version {
			l.notes = append(l.notes, fmt.Sprintf("check: the crates differ in version (%s %s, not %s); the tag names the fixed version", c.Name, c.Version, l.version))
		}
	}

	if m := lineRE.FindStringSubmatch(l.branch); m != nil {
		l.line = m[1]
	} else if mm := majorMinor(l.version); mm != "" {
		l.line = mm
	} else {
		l.line = config.Placeholder + " the release line, e.g. 1.13"
	}

	base, names := forkPoint(r, tip, public)
	switch {
	case len(names) > 0:
		l.publicBranch = pickBranch(names, l.line)
	default:
		l.publicBranch = config.Placeholder + " the public branch " + l.branch + " fast-forwards"
		l.notes = append(l.notes, "no branch of origin is an ancestor of "+l.branch+": has origin been fetched?")
	}

	publicVersion := ""
	if base != nil {
		if pws, err := workspaceOf(r, base.Hash); err == nil && len(crates) > 0 {
			if c, ok := pws.Crates[crates[0].Name]; ok {
				publicVersion = c.Version
			}
		}
	}
	for _, t := range tags[tip.Hash] {
		if config.TagVersion(t) != "" {
			l.tag = t
			l.notes = append(l.notes, "tag "+t+" is already at the held tip")
			break
		}
	}
	switch {
	case l.tag != "":
	case l.version != "" && l.version != publicVersion:
		l.tag = "v" + l.version
	case l.version != "":
		next := bumpPatch(l.version)
		l.tag = "v" + next
		l.notes = append(l.notes, fmt.Sprintf("check: the crates at the held tip are still %s, as public %s: bump them to %s before sealing", l.version, l.publicBranch, next))
	default:
		l.tag = config.Placeholder + " the release tag, e.g. v1.13.1"
	}
	return l, nil
}

// forkPoint walks back from the held tip to the first commit a branch of
// origin points to: the public branch the held one must fast-forward.
func forkPoint(r *git.Repository, tip *object.Commit, public map[plumbing.Hash][]string) (*object.Commit, []string) {
	const limit = 10000 // a held fix is a few commits; this bounds a repository with no public ancestor
	var found *object.Commit
	n := 0
	iter := object.NewCommitPreorderIter(tip, nil, nil)
	defer iter.Close()
	_ = iter.ForEach(func(c *object.Commit) error {
		if _, ok := public[c.Hash]; ok {
			found = c
			return storer.ErrStop
		}
		if n++; n > limit {
			return storer.ErrStop
		}
		return nil
	})
	if found == nil {
		return nil, nil
	}
	return found, public[found.Hash]
}

// pickBranch prefers a branch named after the line, then main or master.
func pickBranch(names []string, line string) string {
	sort.Strings(names)
	for _, n := range names {
		if strings.Contains(n, line) {
			return n
		}
	}
	for _, n := range names {
		if n == "main" || n == "master" {
			return n
		}
	}
	return names[0]
}

func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return ""
	}
	return parts[0] + "." + parts[1]
}

// bumpPatch is the next patch release: 1.13.0 → 1.13.1 (a pre-release
// suffix is dropped).
func bumpPatch(v string) string {
	core, _, _ := strings.Cut(v, "-")
	core, _, _ = strings.Cut(core, "+")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return v
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil {
		return v
	}
	return fmt.Sprintf("%s.%s.%d", parts[0], parts[1], n+1)
}

// compareVersions orders MAJOR.MINOR.PATCH numerically; "" sorts first.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < 3; i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(strings.SplitN(pa[i], "-", 2)[0])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(strings.SplitN(pb[i], "-", 2)[0])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

func workspaceOf(r *git.Repository, commit plumbing.Hash) (*cargo.Workspace, error) {
	c, err := r.CommitObject(commit)
	if err != nil {
		return nil, err
	}
	t, err := c.Tree()
	if err != nil {
		return nil, err
	}
	return cargo.ReadWorkspace(release.TreeOf(t))
}
