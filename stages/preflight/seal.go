package preflight

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/seal"
)

// A release that was sealed (`embargo seal` wrote <state>/seal.json) must
// be, when it is run, exactly what was sealed: the config, the held tips and
// the bytes cargo packages. Stage reports every difference as a finding,
// before the gate; push checks again right before the first public write
// and refuses. Without a seal.json nothing here applies.

// checkSeal is preflight's comparison with the seal: a finding per
// difference; advisory outputs that render differently are only warned
// about (they depend on the registry's versions, which T0 itself changes).
func checkSeal(ctx context.Context, r *release.Run, v release.HeldBranches, add func(subject, fix, format string, args ...any)) error {
	if r.Mode.Reseal() {
		return nil
	}
	m, ok, err := release.ReadSeal(r.StateDir)
	if err != nil {
		add("seal", "move the corrupt seal.json aside and seal again with `embargo seal`", "%v", err)
		return nil
	}
	if !ok {
		return nil
	}
	_, err = pipeline.Step(r.Run, release.SealKey(release.Preflight), func(res *pipeline.Said) error {
		held := func(rel config.Release) (plumbing.Hash, bool) { return v.Held(rel.Branch) }
		findings := release.CompareSeal(r, m, held, false)
		for _, f := range findings {
			add(f.Subject, f.Fix, "%s", f.Msg)
		}
		if !r.Mode.Rehearsal() {
			// A rehearsal renders the advisory for its own T0, whose
			// date it shows; the sealed one is for the real T0.
			for _, w := range compareAdvisory(r.Journal, m) {
				r.Warnf("%s", w)
			}
		}
		if len(findings) > 0 {
			return fmt.Errorf("%w: %d", errLineProblems, len(findings))
		}
		*res = pipeline.Said(fmt.Sprintf("as sealed at %s: config, %d held tips, %d crates", m.SealedAt.UTC().Format("2006-01-02 15:04:05Z"), len(m.Lines), countCrates(m)))
		return nil
	})
	if err != nil && !errors.Is(err, errLineProblems) {
		add("seal", "", "%v", err)
	}
	return nil
}

// countCrates is how many crates the seal m holds, over every line.
func countCrates(m *seal.Manifest) int {
	n := 0
	for _, l := range m.Lines {
		n += len(l.Crates)
	}
	return n
}

// compareAdvisory compares the outputs preflight just rendered with the
// sealed ones.
func compareAdvisory(j *pipeline.Journal, m *seal.Manifest) []string {
	now := release.AdvisoryDigests(j)
	if len(now) == 0 || len(m.Advisory) == 0 {
		return nil
	}
	var out []string
	for path, sum := range m.Advisory {
		switch got, ok := now[path]; {
		case !ok:
			out = append(out, fmt.Sprintf("advisory output %s was sealed but is not rendered now", path))
		case got != sum:
			out = append(out, fmt.Sprintf("advisory output %s renders differently than when sealed (the registry's versions or the templates changed): review it with `embargo render`", path))
		}
	}
	sort.Strings(out)
	return out
}
