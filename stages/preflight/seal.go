package preflight

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
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
			for _, w := range release.CompareAdvisory(r, m) {
				r.Warnf("%s", w)
			}
		}
		if len(findings) > 0 {
			return fmt.Errorf("%w: %d", errLineProblems, len(findings))
		}
		*res = pipeline.Said(fmt.Sprintf("as sealed at %s: config, %d held tips, %d crates", m.SealedAt.UTC().Format("2006-01-02 15:04:05Z"), len(m.Lines), release.CountCrates(m)))
		return nil
	})
	if err != nil && !errors.Is(err, errLineProblems) {
		add("seal", "", "%v", err)
	}
	return nil
}
