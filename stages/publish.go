package stages

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/index"
	"github.com/async-rs/embargo/stages/vault"
)

// Publish uploads every crate of every line with the real `cargo publish`,
// exactly the bytes sealed before T0: in dependency order inside a line,
// the lines in parallel.
type Publish struct{}

func (Publish) Name() string { return "publish" }

// Needs: the packages and the index are ready before T0; the uploads wait
// for the gate.
func (Publish) Needs() []string { return []string{"preflight"} }
func (Publish) Summary() string {
	return "cargo publish of every crate, dependency order, lines in parallel; sealed checksums verified in the index"
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

func (Publish) Run(ctx context.Context, r *pipeline.Run) error {
	v, err := openVault(r)
	if err != nil {
		return err
	}
	idx, err := indexClient(r)
	if err != nil {
		return err
	}
	auth, turns := newPublishAuth(r, idx), &uploadTurns{}
	defer auth.close() // revokes a Trusted Publishing token, whatever happened
	// Publish runs beside push, not after it: it reads the held tips and
	// checks them against preflight and the seal itself.
	held, err := heldTips(ctx, r, v, "published")
	if err != nil {
		return err
	}
	seals := map[string]sealed{} // by line, for the lines preflight sealed
	for _, rel := range r.Config.Releases {
		s, ok, err := releaseSealed(r, rel)
		if err != nil {
			return fmt.Errorf("line %s: %w", rel.Line, err)
		}
		if ok {
			seals[rel.Line] = s
		}
	}
	if err := r.Step("cargo", func(res map[string]string) error {
		have, err := cargoFor(r, r.Config.Releases[0]).Version(ctx)
		if err != nil {
			return err
		}
		res[resCargoVersion] = have
		for _, s := range seals {
			if s.cargo != "" && s.cargo != have {
				return fmt.Errorf("cargo is %q but the packages were verified with %q: the same cargo is needed to reproduce the sealed bytes", have, s.cargo)
			}
		}
		res["summary"] = have
		return nil
	}); err != nil {
		return err
	}

	// Before T0: every line's checkout holds its sealed packages (packaged
	// again where it does not). A line that cannot be prepared is not
	// published; the others are.
	lines := make([]*publishingLine, len(r.Config.Releases))
	prepErr := eachLine(r, parallelPrepare, func(i int, rel pipeline.Release) error {
		s, ok := seals[rel.Line]
		l, err := prepareLine(ctx, r, v, rel, held[rel.Line], s, ok)
		if err == nil {
			lines[i] = l
		}
		return err
	})

	// Close to T0, what cargo and the first look at each version will read
	// is read now: the index files of every version and of every package
	// the lockfiles pin, served to cargo from a local view.
	if err := sleepUntilLead(ctx, r, publishLead); err != nil {
		return err
	}
	looks := map[string]*lookup{}
	for _, l := range lines {
		if l == nil {
			continue
		}
		for _, nv := range l.sealed.order {
			if looks[nv] == nil {
				name, version := splitNV(nv)
				looks[nv] = startLookup(ctx, idx, name, version)
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
		l.cargo = cargoFor(r, l.rel)
		l.auth, l.turns, l.index = auth, turns, i
		if v := views.open(ctx); v != nil {
			l.cargo.View = v.URL()
			if l.cargo.ResolvesThroughView() {
				l.view = v
				l.deps, _ = cargo.WorkspaceDependencies(l.dir)
			}
		}
		if l.cargo.ResolvesThroughView() {
			// cargo resolves every crates.io package the lockfile pins
			// before its first upload, level by level; read them all now.
			if names, err := cargo.LockedFromCratesIO(l.dir); err == nil {
				go idx.Prefetch(ctx, names, prefetchParallel)
			}
		}
	}

	if err := awaitGate(ctx, r); err != nil {
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
	return errors.Join(prepErr, eachLine(r, len(lines), func(i int, rel pipeline.Release) error {
		if lines[i] == nil {
			return nil // its failure to prepare is in prepErr
		}
		return publishLine(ctx, r, idx, lines[i], looks)
	}))
}

// eachLine runs fn for every release line, at most parallel at once, and
// joins the failures, each naming its line; a failure stops its line only.
func eachLine(r *pipeline.Run, parallel int, fn func(i int, rel pipeline.Release) error) error {
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
	rel    pipeline.Release
	dir    string
	sealed sealed
	cargo  *cargo.Cargo
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
func prepareLine(ctx context.Context, r *pipeline.Run, v *vault.Vault, rel pipeline.Release, held plumbing.Hash, s sealed, ok bool) (*publishingLine, error) {
	dir := worktreeDir(r, rel)
	err := r.Step("prepare "+rel.Line, func(res map[string]string) error {
		if ok {
			// The usual case at T0: the worktree and its packages from
			// preflight are still there; checking them costs no build.
			if asSealed, err := preparedAsSealed(ctx, r, v, rel, held, s); err != nil {
				return err
			} else if asSealed {
				res["summary"] = fmt.Sprintf("worktree at %s holds the %d sealed package(s)", short(held), len(s.order))
				return nil
			}
		}
		// Otherwise (a fresh machine, --only publish, a cleaned worktree)
		// package again from the held tip, with verification; publishing
		// then proceeds only with bytes equal to the sealed ones, and the
		// registry check refuses any version whose bytes differ from what
		// is already published.
		pkgs, lock, err := linePackages(ctx, r, v, rel, held)
		if err != nil {
			return err
		}
		if ok {
			if err := reproducesSealed(r, rel, pkgs, s); err != nil {
				return err
			}
		} else {
			s = sealedOf(pkgs, "", lock.sum())
			r.Warnf("line %s: no sealed checksums in the journal; packaged again from the held tip", rel.Line)
		}
		res["summary"] = fmt.Sprintf("worktree at %s, %d crate(s) reproduce their sealed checksums", short(held), len(pkgs))
		return nil
	})
	return &publishingLine{rel: rel, dir: dir, sealed: s}, err
}

// publishLine publishes one line's crates in order; a failure stops this
// line only.
//
// A crate's step starts once the steps before it have ended, but when
// cargo resolves through the line's View, a crate depending on earlier
// ones (by the line's Cargo.lock) starts as soon as the registry has
// accepted their uploads, while they still wait for the index: cargo's
// start-up and its own reads of the registry then overlap the index delay,
// and the View holds cargo's read of their index files until embargo's
// polling has seen them there with the sealed checksums (index.View.Hold).
// cargo's locked resolution needs those versions, so it cannot upload
// before; and if one of them never shows, it is stopped. (A dependence
// only through a dev-dependency that cargo strips from the published
// manifest counts too: such a crate needs nothing of the other to upload.)
func publishLine(ctx context.Context, r *pipeline.Run, idx *index.Client, l *publishingLine, looks map[string]*lookup) error {
	s := l.sealed
	var started []*inFlight
	for _, nv := range s.order {
		name, version := splitNV(nv)
		for _, e := range unfinished(started) {
			if l.view != nil && l.deps[name][e.name] {
				select {
				case <-e.accepted:
				case <-e.done:
				}
			} else {
				<-e.done
			}
		}
		if failed(started) {
			break
		}
		f := &inFlight{name: name, version: version, sum: s.sha256[nv], pos: len(started), accepted: make(chan struct{}), done: make(chan struct{})}
		after := unfinished(started)
		started = append(started, f)
		go func() {
			defer close(f.done)
			f.err = r.Step("publish "+nv, func(res map[string]string) error {
				res["sha256"] = f.sum
				return publishCrate(ctx, r, idx, l, f, looks[nv], after, res)
			})
			l.progress.ended(l.rel.Line, f.err)
		}()
	}
	// The first failure in the line's order is the line's: a crate
	// started early fails with the one it waited for.
	var first error
	for _, f := range started {
		<-f.done
		if f.err != nil && first == nil {
			first = f.err
		}
	}
	return first
}

// failed is true when a step of fs has ended in failure.
func failed(fs []*inFlight) bool {
	for _, f := range fs {
		select {
		case <-f.done:
			if f.err != nil {
				return true
			}
		default:
		}
	}
	return false
}

// inFlight is one crate of a line being published.
type inFlight struct {
	name, version, sum string
	pos                int           // in the line's publish order
	accepted           chan struct{} // closed once the registry accepted its upload
	done               chan struct{} // closed once its step ended; err is then set
	err                error
	once               sync.Once
}

func (f *inFlight) accept() { f.once.Do(func() { close(f.accepted) }) }

// unfinished are the crates of fs whose step has not ended.
func unfinished(fs []*inFlight) []*inFlight {
	var out []*inFlight
	for _, f := range fs {
		select {
		case <-f.done:
		default:
			out = append(out, f)
		}
	}
	return out
}

// publishCrate converges one version: observe the index first, upload only
// if absent, retry rate limits and server errors, then wait until the index
// shows the sealed checksum. first, when set, is an observation of the
// index made earlier in this run; it stands for the first look (a version
// never leaves the index, and one that appeared since is refused by the
// registry and then checked like any other). after are the line's earlier
// crates it depends on that still wait for the index (see publishLine).
func publishCrate(ctx context.Context, r *pipeline.Run, idx *index.Client, l *publishingLine, c *inFlight, first *lookup, after []*inFlight, res map[string]string) error {
	name, version, sum := c.name, c.version, c.sum
	nv := name + "@" + version
	refusals := 0 // of the token, each answered with a new one
	horizon := r.Gate.Deadline()
	if late := r.Now().Add(lateRunGrace); late.After(horizon) {
		horizon = late
	}
	for attempt := 1; ; attempt++ {
		var e index.Entry
		var found bool
		var err error
		if attempt == 1 && first != nil {
			e, found, err = first.wait(ctx)
		} else {
			e, found, err = idx.Lookup(ctx, name, version)
		}
		if err == nil && !found && attempt == 1 && cutOff(r, "publish "+nv) {
			// The run before was killed while this step ran: its cargo,
			// orphaned, may still be uploading. Give that upload time to
			// show before trying again.
			e, found, err = showsWithin(ctx, idx, name, version, orphanGrace)
		}
		if err != nil {
			return err
		}
		if found {
			if e.Cksum != sum {
				return fmt.Errorf("%s is on the registry with sha256 %s, not the sealed %s: stop and investigate, a published version cannot be replaced", nv, e.Cksum, sum)
			}
			if attempt == 1 {
				res["summary"] = "already on the registry with the sealed checksum"
			}
			return nil
		}
		if err := r.Gate.Allow("publish " + nv); err != nil {
			return err
		}
		pipeline.Checkpoint("publish.upload")
		res["resolved_through"] = "registry"
		if l.cargo.ResolvesThroughView() {
			res["resolved_through"] = "index view"
		}
		release, err := l.turns.acquire(ctx, turn{l.index, c.pos})
		if err != nil {
			return err
		}
		tok, err := l.auth.token(ctx)
		if err != nil {
			release()
			return fmt.Errorf("%s: not uploaded: %w", nv, err)
		}
		cg := l.cargo.WithToken(tok)
		early := startEarly(ctx, l.view, unfinished(after))
		start, wallStart := r.Now(), time.Now()
		up, err := cg.StartPublish(ctx, l.dir, name)
		if err == nil {
			err = up.Accepted(early.ctx)
		}
		release()
		shown, waitedFor := early.end()
		if cause := context.Cause(early.ctx); err != nil && ctx.Err() == nil && cause != context.Canceled {
			// An earlier crate's wait for the index failed: cargo,
			// waiting for it, is stopped, and uploaded nothing.
			return fmt.Errorf("%s: not uploaded: %w", nv, cause)
		}
		var pe *cargo.PublishError
		switch {
		case err == nil || (errors.As(err, &pe) && pe.Exists):
			// Uploaded, now or by an earlier attempt: wait for the index.
			// cargo waits for it too, polling about once a second; embargo
			// polls faster and, once it has seen the sealed checksum there
			// itself, stops cargo's wait.
			//
			// Started early, cargo uploaded once the View showed it the
			// earlier crates: the upload is no earlier than that.
			uploaded := start
			if d := shown.Sub(wallStart); d > 0 {
				uploaded = start.Add(d)
			}
			res["uploaded_at"] = uploaded.UTC().Format(time.RFC3339Nano)
			pipeline.Checkpoint("publish.uploaded")
			c.accept()
			err := waitVisible(ctx, r, idx, name, version, sum, res)
			up.Stop()
			return err
		case errors.As(err, &pe) && pe.Retryable():
			wait, err := retryPlan(r.Now(), horizon, pe, attempt)
			if err != nil {
				return fmt.Errorf("%s: %w", nv, err)
			}
			r.Warnf("%s: registry answered %d; retrying in %s (attempt %d)", nv, pe.Status, wait.Round(time.Second), attempt+1)
			if pe.Status == http.StatusTooManyRequests {
				l.turns.limit(time.Now().Add(wait)) // the uploads now take turns
				continue
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		case errors.As(err, &pe) && refusedToken(pe.Output) && refusals < 2 && l.auth.refused(tok):
			// A Trusted Publishing token the registry no longer takes
			// (it ran out sooner than its 30 minutes): exchange again.
			refusals++
			r.Warnf("%s: the registry refused the publish token; exchanging the OIDC token for a new one", nv)
		case waitedFor != nil && ctx.Err() == nil:
			// Started early, cargo failed without ever being shown an
			// earlier crate's new version (held beyond viewHoldFor, or
			// failed before it read the file): it is started again as it
			// would have been, once the index shows them.
			for _, d := range waitedFor {
				select {
				case <-d.done:
				case <-ctx.Done():
					return ctx.Err()
				}
				if d.err != nil {
					return fmt.Errorf("%s: not uploaded: %s@%s did not show in the index", nv, d.name, d.version)
				}
			}
			r.Warnf("%s: cargo, started before the crates before it were in the index, failed; starting it again now that they are: %v", nv, err)
			after = nil
		default:
			return err
		}
	}
}

// earlyStart is one cargo started while earlier crates of its line wait
// for the index: the View holds their files for it, and its context ends
// when one of them fails.
type earlyStart struct {
	ctx   context.Context
	stop  context.CancelCauseFunc
	deps  []*inFlight
	holds []*index.Hold
}

func startEarly(ctx context.Context, view *index.View, deps []*inFlight) *earlyStart {
	es := &earlyStart{deps: deps}
	es.ctx, es.stop = context.WithCancelCause(ctx)
	if view == nil || len(deps) == 0 {
		es.deps = nil
		return es
	}
	for _, d := range deps {
		es.holds = append(es.holds, view.Hold(d.name, d.version, d.sum, viewHoldFor))
	}
	go func() {
		for _, d := range deps {
			select {
			case <-d.done:
				if d.err != nil {
					es.stop(fmt.Errorf("%s@%s, which it waited for, did not show in the index", d.name, d.version))
					return
				}
			case <-es.ctx.Done():
				return
			}
		}
	}()
	return es
}

// end releases the holds and reports when the View last showed cargo an
// earlier crate's new version (zero if none was held), and, when one held
// was never shown, the crates it waited for.
func (es *earlyStart) end() (shown time.Time, waitedFor []*inFlight) {
	for _, h := range es.holds {
		h.Release()
		at := h.Shown()
		if at.IsZero() {
			waitedFor = es.deps
		} else if at.After(shown) {
			shown = at
		}
	}
	es.stop(context.Canceled)
	return shown, waitedFor
}

// cutOff is true when an earlier attempt of the step was cut off by a
// kill or a crash (the journal's history says so).
func cutOff(r *pipeline.Run, step string) bool {
	for _, st := range r.Journal.Steps("publish") {
		if st.Name != step {
			continue
		}
		for _, a := range st.Attempts[:max(len(st.Attempts)-1, 0)] {
			if a.State == pipeline.StateFailed && a.Ended == nil {
				return true
			}
		}
	}
	return false
}

// showsWithin polls the index for a version for at most d.
func showsWithin(ctx context.Context, idx *index.Client, name, version string, d time.Duration) (index.Entry, bool, error) {
	deadline := time.Now().Add(d)
	for {
		e, found, err := idx.Lookup(ctx, name, version)
		if err != nil || found || time.Now().After(deadline) {
			return e, found, err
		}
		select {
		case <-ctx.Done():
			return index.Entry{}, false, ctx.Err()
		case <-time.After(pollFast):
		}
	}
}

// indexViews are the index.Views cargo resolves dependencies through, one
// a line, started with the stage: the files cargo reads are the ones this
// stage has just polled, so cargo's reads before each upload cost loopback
// round trips instead of registry ones. A line has its own View so that
// what it holds for its cargo (index.View.Hold) never delays another
// line's, which reads the same crates' files for other versions.
type indexViews struct {
	idx    *index.Client
	ready  chan struct{}
	ok     bool // the index may be served by a View
	mu     sync.Mutex
	served []*index.View
}

func startViews(ctx context.Context, idx *index.Client) *indexViews {
	iv := &indexViews{idx: idx, ready: make(chan struct{})}
	go func() {
		defer close(iv.ready)
		// A registry that wants a token to be read is read by cargo
		// itself, with the token: a view would serve anyone on this
		// machine what the token opens (see index.Client.Serve).
		if _, err := idx.Config(ctx); err != nil || idx.WantsToken() {
			return
		}
		iv.ok = true
	}()
	return iv
}

// open starts a View for one line, or returns nil to read the registry
// directly.
func (iv *indexViews) open(ctx context.Context) *index.View {
	select {
	case <-iv.ready:
	case <-ctx.Done():
		return nil
	}
	if !iv.ok {
		return nil
	}
	v, err := iv.idx.Serve()
	if err != nil {
		return nil
	}
	iv.mu.Lock()
	defer iv.mu.Unlock()
	iv.served = append(iv.served, v)
	return v
}

func (iv *indexViews) close() {
	<-iv.ready
	iv.mu.Lock()
	defer iv.mu.Unlock()
	for _, v := range iv.served {
		v.Close()
	}
}

// lookup is an observation of the index running in the background.
type lookup struct {
	done  chan struct{}
	e     index.Entry
	found bool
	err   error
}

func startLookup(ctx context.Context, idx *index.Client, name, version string) *lookup {
	l := &lookup{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.e, l.found, l.err = idx.Lookup(ctx, name, version)
	}()
	return l
}

func (l *lookup) wait(ctx context.Context) (index.Entry, bool, error) {
	select {
	case <-ctx.Done():
		return index.Entry{}, false, ctx.Err()
	case <-l.done:
		return l.e, l.found, l.err
	}
}

// retryPlan says how long to wait before trying an upload again that the
// registry refused with a retryable status, or why not to. A rate limit is
// waited out as often as the registry asks, as long as the next try comes
// before horizon (the end of the window): crates.io lets a burst of new
// versions through, then one a minute, so a release of many crates is slowed
// by it, never failed. A server error is retried publishRetries times.
func retryPlan(now, horizon time.Time, pe *cargo.PublishError, attempt int) (time.Duration, error) {
	if pe.Status != http.StatusTooManyRequests && attempt >= publishRetries {
		return 0, fmt.Errorf("the registry answered %d to %d attempts: %w", pe.Status, attempt, pe)
	}
	wait := retryWait(now, pe, attempt)
	if at := now.Add(wait); at.After(horizon) {
		return 0, fmt.Errorf("the registry answered %d and asks to wait until %s, beyond %s, the latest this run waits (the end of the window, or %s after a late start): re-run `embargo run --from publish` then: %w",
			pe.Status, at.UTC().Format(time.RFC3339), horizon.UTC().Format(time.RFC3339), lateRunGrace, pe)
	}
	return wait, nil
}

// retryWait honours the registry's "try again after" when it said one, and
// backs off exponentially otherwise, from 0.5 s up to 30 s.
func retryWait(now time.Time, pe *cargo.PublishError, attempt int) time.Duration {
	if !pe.RetryAfter.IsZero() {
		if d := pe.RetryAfter.Sub(now); d > 0 {
			return d
		}
	}
	d := time.Duration(1<<min(attempt-1, 6)) * 500 * time.Millisecond
	return min(d, 30*time.Second)
}

// waitVisible polls the index until it shows the version, and checks it
// shows the sealed checksum.
func waitVisible(ctx context.Context, r *pipeline.Run, idx *index.Client, name, version, sum string, res map[string]string) error {
	began := time.Now()
	deadline := began.Add(visibleWithin)
	wait := pollFast
	for {
		asked := time.Now()
		e, found, err := idx.Lookup(ctx, name, version)
		if err != nil {
			return err
		}
		if found {
			if e.Cksum != sum {
				return fmt.Errorf("%s@%s is in the index with sha256 %s, not the sealed %s", name, version, e.Cksum, sum)
			}
			res["visible_at"] = r.Now().UTC().Format(time.RFC3339Nano)
			res["summary"] = "published; the index shows the sealed checksum"
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s@%s was uploaded but the index does not show it after %s; re-run `embargo run --from publish` to check again", name, version, visibleWithin)
		}
		if time.Since(began) > fastPollFor {
			wait = min(wait*2, 2*time.Second)
		}
		// wait is from one question to the next: a slow answer is
		// not followed by a full pause.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait - time.Since(asked)):
		}
	}
}

// packagedAsSealed reports whether every sealed .crate is in the worktree
// with its sealed checksum.
func packagedAsSealed(dir string, s sealed) bool {
	for _, nv := range s.order {
		name, version := splitNV(nv)
		sum, err := cargo.FileSha256(cargo.PackagedFile(dir, name, version))
		if err != nil || sum != s.sha256[nv] {
			return false
		}
	}
	return true
}

func splitNV(nv string) (string, string) {
	for i := len(nv) - 1; i >= 0; i-- {
		if nv[i] == '@' {
			return nv[:i], nv[i+1:]
		}
	}
	return nv, ""
}
