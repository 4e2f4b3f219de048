// Package publish is the stage that uploads every crate of every line at
// T0 with the real `cargo publish`, exactly the bytes sealed before it: in
// dependency order inside a line, the lines in parallel, each version
// skipped when the registry has it with the sealed checksum and refused
// when it has other bytes.
package publish

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/index"
	"github.com/async-rs/embargo/stages/release"
)

// Stage uploads every crate of every line with the real `cargo publish`,
// exactly the bytes sealed before T0: in dependency order inside a line,
// the lines in parallel.
type Stage struct {
	Vault release.VaultOpener
	Index release.IndexOpener
	Cargo release.CargoOpener
}

func (Stage) Name() string { return release.Publish }

// Needs: the packages and the index are ready before T0; the uploads wait
// for the gate.
func (Stage) Needs() []string { return []string{release.Preflight} }
func (Stage) Summary() string {
	return "cargo publish of every crate, dependency order, lines in parallel; sealed checksums verified in the index"
}

// cargoKey is the step checking cargo is the sealed packages' cargo.
var cargoKey = pipeline.Key[pipeline.Said]{Stage: release.Publish, Step: "cargo"}

// lineReadyKey is the step preparing line's checkout before T0.
func lineReadyKey(line string) pipeline.Key[pipeline.Said] {
	return pipeline.Key[pipeline.Said]{Stage: release.Publish, Step: "prepare " + line}
}

// Bounds of the publish loop.
const (
	// parallelPrepare bounds the lines checked (or packaged again, with a
	// verification build) at once before T0; at T0 every line publishes
	// at once.
	parallelPrepare = 4
	// publishLead is how long before T0 the index is read for the first
	// looks and for cargo's view.
	publishLead = 10 * time.Second
	// prefetchParallel bounds the index reads made ahead of cargo.
	prefetchParallel = 8
	// A server error is tried again up to publishRetries times; a rate
	// limit as long as the registry asks, within the window (see retryPlan).
	publishRetries = 6
	// lateRunGrace is how long rate limits are waited out by a run started
	// after the window closed.
	lateRunGrace = 30 * time.Minute
	// visibleWithin bounds the wait for the index to show an upload.
	visibleWithin = 5 * time.Minute
	// The index is polled every pollFast for fastPollFor after an upload
	// (a dependent crate cannot be published before the index shows its
	// dependency, so every poll interval lengthens the release), then less
	// and less often, up to every 2 s.
	pollFast    = 50 * time.Millisecond
	fastPollFor = 15 * time.Second
	// orphanGrace is how long a version whose step a kill cut off is
	// given to show in the index before it is uploaded again.
	orphanGrace = 5 * time.Second
	// viewHoldFor bounds how long a line's View keeps cargo's read of a
	// dependency's index file waiting for the new version (index.View.Hold):
	// well below cargo's own 30 s HTTP timeout, so that cargo gets the file
	// as it is, fails to resolve, and is started again once the index shows
	// the dependency, instead of failing on a timeout of its own.
	viewHoldFor = 20 * time.Second
)

func (s Stage) Run(ctx context.Context, r *release.Run) error {
	v, err := s.Vault(release.VaultPath(r.StateDir))
	if err != nil {
		return err
	}
	idx, err := s.Index(r.Targets.Registry, release.Clock(r.Gate))
	if err != nil {
		return err
	}
	auth, turns := newPublishAuth(r, idx), &uploadTurns{clock: r.Gate.Clock}
	defer auth.close() // revokes a Trusted Publishing token, whatever happened
	// Stage runs beside push, not after it: it reads the held tips and
	// checks them against preflight and the seal itself.
	held, err := release.ReadHeldTips(ctx, r, v, "published")
	if err != nil {
		return err
	}
	seals := map[string]release.Packaged{} // by line, for the lines preflight sealed
	for _, rel := range r.Config.Releases {
		s, ok, err := release.ReleaseSealed(r, rel)
		if err != nil {
			return fmt.Errorf("line %s: %w", rel.Line, err)
		}
		if ok {
			seals[rel.Line] = s
		}
	}
	if _, err := pipeline.Step(r.Run, cargoKey, func(res *pipeline.Said) error {
		have, err := s.Cargo(release.CargoFor(r, r.Config.Releases[0].Line)).Version(ctx)
		if err != nil {
			return err
		}
		for _, s := range seals {
			if s.Cargo != "" && s.Cargo != have {
				return fmt.Errorf("cargo is %q but the packages were verified with %q: the same cargo is needed to reproduce the sealed bytes", have, s.Cargo)
			}
		}
		*res = pipeline.Said(have)
		return nil
	}); err != nil {
		return err
	}

	// Before T0: every line's checkout holds its sealed packages (packaged
	// again where it does not). A line that cannot be prepared is not
	// published; the others are.
	lines := make([]*publishingLine, len(r.Config.Releases))
	prepErr := eachLine(r, parallelPrepare, func(i int, rel config.Release) error {
		sealed, ok := seals[rel.Line]
		l, err := prepareLine(ctx, r, v, s.Cargo(release.CargoFor(r, rel.Line)), rel, held[rel.Line], sealed, ok)
		if err == nil {
			lines[i] = l
		}
		return err
	})

	// Close to T0, what cargo and the first look at each version will read
	// is read now: the index files of every version and of every package
	// the lockfiles pin, served to cargo from a local view.
	if err := release.SleepUntilLead(ctx, r, publishLead); err != nil {
		return err
	}
	looks := map[string]*lookup{}
	for _, l := range lines {
		if l == nil {
			continue
		}
		for _, nv := range l.sealed.Order {
			if looks[nv] == nil {
				name, version := release.SplitNV(nv)
				looks[nv] = startLookup(ctx, r.Gate.Clock, idx, name, version)
			}
		}
	}
	auth.prepare(ctx)
	views := startViews(ctx, idx)
	defer views.close()
	for i, l := range lines {
		if l == nil {
			continue
		}
		l.cargo = s.Cargo(release.CargoFor(r, l.rel.Line))
		l.auth, l.turns, l.index = auth, turns, i
		if v := views.open(ctx); v != nil {
			l.cargo = l.cargo.WithView(v.URL(), v.Token())
			if l.cargo.ResolvesThroughView() {
				l.view = v
				l.deps, _ = cargo.WorkspaceDependencies(l.dir)
			}
		}
		if l.cargo.ResolvesThroughView() {
			// cargo resolves every package of the registry the lockfile
			// pins before its first upload, level by level; read them
			// all now.
			if names, err := cargo.LockedFrom(l.dir, r.Config.Registry.Name, r.Config.Registry.Index); err == nil {
				go idx.Prefetch(ctx, names, prefetchParallel)
			}
		}
	}

	if err := release.AwaitGate(ctx, r); err != nil {
		return errors.Join(prepErr, err)
	}
	progress := newPublishProgress(r, lines)
	defer progress.close()
	for _, l := range lines {
		if l != nil {
			l.progress = progress
		}
	}
	// At T0 every line publishes at once: the lines share nothing but the
	// registry.
	return errors.Join(prepErr, eachLine(r, len(lines), func(i int, rel config.Release) error {
		if lines[i] == nil {
			return nil // its failure to prepare is in prepErr
		}
		return publishLine(ctx, r, idx, lines[i], looks)
	}))
}

// eachLine runs fn for every release line, at most parallel at once, and
// joins the failures, each naming its line; a failure stops its line only.
func eachLine(r *release.Run, parallel int, fn func(i int, rel config.Release) error) error {
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(parallel, 1))
	errs := make([]error, len(r.Config.Releases))
	for i, rel := range r.Config.Releases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := fn(i, rel); err != nil {
				errs[i] = fmt.Errorf("line %s: %w", rel.Line, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// publishingLine is a line ready to publish: its checkout holds the sealed
// packages.
type publishingLine struct {
	rel    config.Release
	dir    string
	sealed release.Packaged
	cargo  release.LineCargo
	// view is the line's own View of the index when cargo resolves
	// through it, else nil; deps says which of the line's crates each
	// depends on (cargo.WorkspaceDependencies), nil when unknown.
	view     *index.View
	deps     map[string]map[string]bool
	progress *publishProgress // nil but on a terminal
	// auth gives each upload its token, turns orders the uploads once the
	// registry limits them (index is the line's place in the config).
	auth  *publishAuth
	turns *uploadTurns
	index int
}

// prepareLine checks out the line's held tip (as heldTips read and checked
// it) with its sealed packages. s is what preflight sealed for the line,
// when ok.
func prepareLine(ctx context.Context, r *release.Run, v release.HeldWorktrees, cg release.LineCargo, rel config.Release, held plumbing.Hash, s release.Packaged, ok bool) (*publishingLine, error) {
	dir := release.WorktreeDir(r.StateDir, rel.Line)
	_, err := pipeline.Step(r.Run, lineReadyKey(rel.Line), func(res *pipeline.Said) error {
		if ok {
			// The usual case at T0: the worktree and its packages from
			// preflight are still there; checking them costs no build.
			if asSealed, err := release.PreparedAsSealed(ctx, r, v, rel, held, s); err != nil {
				return err
			} else if asSealed {
				*res = pipeline.Said(fmt.Sprintf("worktree at %s holds the %d sealed package(s)", release.Short(held), len(s.Order)))
				return nil
			}
		}
		// Otherwise (a fresh machine, --only publish, a cleaned worktree)
		// package again from the held tip, with verification; publishing
		// then proceeds only with bytes equal to the sealed ones, and the
		// registry check refuses any version whose bytes differ from what
		// is already published.
		pkgs, lock, err := release.LinePackages(ctx, r, v, cg, rel, held)
		if err != nil {
			return err
		}
		if ok {
			if err := release.ReproducesSealed(r, rel, pkgs, s); err != nil {
				return err
			}
		} else {
			s = release.PackagedOf(pkgs, "", lock.Sum())
			r.Warnf("line %s: no sealed checksums in the journal; packaged again from the held tip", rel.Line)
		}
		*res = pipeline.Said(fmt.Sprintf("worktree at %s, %d crate(s) reproduce their sealed checksums", release.Short(held), len(pkgs)))
		return nil
	})
	return &publishingLine{rel: rel, dir: dir, sealed: s}, err
}

// publishLine publishes one line's crates in order; a failure stops this
// line only.
//
