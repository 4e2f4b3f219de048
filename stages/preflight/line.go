package preflight

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"golang.org/x/mod/semver"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/stages/release"
)

// checkLine runs the per-line checks, reporting problems through add and
// recording what later stages need in res.
func checkLine(v release.PublicHistory, cfg *config.Config, idx int, rel config.Release, held plumbing.Hash, afterT0 bool, res *release.LineChecked,
	add func(subject, fix, format string, args ...any), leak leakFunc) {
	subject := "release " + rel.Line
	key := func(k string) string { return fmt.Sprintf("release[%d].%s in %s", idx+1, k, cfg.Path) }

	public, hasPublic := v.PublicBranch(rel.PublicBranch)
	pushed := hasPublic && public == held
	switch {
	case !hasPublic:
		add(subject, "check "+key("public_branch"), "public branch %s does not exist in %s", rel.PublicBranch, cfg.Source.Public)
		return
	case pushed:
		if !afterT0 {
			leak(subject, "%s is already at the held tip %s before T0", rel.PublicBranch, release.Short(held))
		}
		res.PublicTip = public.String()
		res.Text = fmt.Sprintf("%s already at %s (pushed)", rel.PublicBranch, release.Short(held))
	default:
		ff, err := v.IsAncestor(public, held)
		if err != nil {
			add(subject, "", "cannot compare %s with %s: %v", rel.Branch, rel.PublicBranch, err)
			return
		}
		if !ff {
			add(subject, fmt.Sprintf("rebase %s onto the public %s (now %s), then re-run", rel.Branch, rel.PublicBranch, release.Short(public)),
				"held branch %s does not fast-forward public %s", rel.Branch, rel.PublicBranch)
			return
		}
		res.PublicTip = public.String()
		ahead, err := v.Ahead(held, public)
		if err != nil {
			add(subject, "", "%v", err)
			return
		}
		leaks, err := v.Leaks(ahead)
		if err != nil {
			add(subject, "", "leak check: %v", err)
			return
		}
		for _, c := range ahead {
			if ref, ok := leaks[c]; ok && !afterT0 {
				leak(subject, "held commit %s is reachable from public %s", release.Short(c), ref)
			}
		}
		res.Text = fmt.Sprintf("%s at %s fast-forwards %s (%d commit(s) ahead), none public", rel.Branch, release.Short(held), rel.PublicBranch, len(ahead))
	}

	if tagAt, ok, err := v.SourceTag(rel.Tag); err == nil && ok && tagAt != held {
		add(subject, fmt.Sprintf("delete or move the local tag %s in %s", rel.Tag, cfg.Source.Repo), "tag %s in the source repository points to %s, not the held tip %s", rel.Tag, release.Short(tagAt), release.Short(held))
	}
	if tagAt, ok, err := v.PublicTag(rel.Tag); err != nil {
		add(subject, "", "read public tag %s: %v", rel.Tag, err)
	} else if ok && tagAt != held {
		add(subject, fmt.Sprintf("pick another tag in %s, or move the held branch", key("tag")), "tag %s already exists publicly at %s, not at the held tip %s", rel.Tag, release.Short(tagAt), release.Short(held))
	} else if ok && !afterT0 {
		leak(subject, "tag %s is already public at the held tip", rel.Tag)
	}

	ws, err := release.WorkspaceAt(v, held)
	if err != nil {
		add(subject, "", "read the workspace at %s: %v", release.Short(held), err)
		return
	}
	crates, err := ws.Select(rel.Crates)
	if err != nil {
		add(subject, "check "+key("crates"), "%v", err)
		return
	}
	want := config.TagVersion(rel.Tag)
	var oldWS = ws
	if !pushed {
		if oldWS, err = release.WorkspaceAt(v, public); err != nil {
			oldWS = nil // the public tip may predate the workspace layout
		}
	}
	var list []string
	for _, c := range crates {
		list = append(list, c.Name+"@"+c.Version)
		if c.Version != want {
			add(subject, fmt.Sprintf("set version = %q in %s/Cargo.toml on %s, or fix %s", want, c.Dir, rel.Branch, key("tag")),
				"crate %s is %s at the held tip but the tag %s says %s", c.Name, c.Version, rel.Tag, want)
			continue
		}
		if pushed || oldWS == nil {
			continue
		}
		if old, ok := oldWS.Crates[c.Name]; ok && !semverGreater(c.Version, old.Version) {
			add(subject, fmt.Sprintf("bump %s above %s on %s", c.Name, old.Version, rel.Branch),
				"crate %s is not bumped: %s at the held tip, %s on public %s", c.Name, c.Version, old.Version, rel.PublicBranch)
		}
	}
	res.Crates = list
}

// semverGreater reports a > b by semver precedence.
func semverGreater(a, b string) bool {
	va, vb := "v"+a, "v"+b
	if !semver.IsValid(va) || !semver.IsValid(vb) {
		return a != b && a > b
	}
	return semver.Compare(va, vb) > 0
}
