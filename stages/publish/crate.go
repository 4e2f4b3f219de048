package publish

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/index"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/retry"
)

// One line's crates at T0: each crate's step, the decision to skip, upload
// or refuse it, its retries, and the cargo started early while the crates
// before it wait for the index.

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
func publishLine(ctx context.Context, r *release.Run, idx release.RegistryIndex, l *publishingLine, looks map[string]*lookup) error {
	s := l.sealed
	var started []*inFlight
	for _, nv := range s.Order {
		name, version := release.SplitNV(nv)
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
		f := &inFlight{name: name, version: version, sum: s.Sha256[nv], pos: len(started), first: looks[nv], after: unfinished(started),
			accepted: make(chan struct{}), done: make(chan struct{})}
		started = append(started, f)
		go func() {
			defer close(f.done)
			_, f.err = pipeline.Step(r.Run, release.CratePublishedKey(nv), func(res *release.CratePublished) error {
				res.Sha256 = f.sum
				return publishCrate(ctx, r, idx, l, f, res)
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
	pos                int // in the line's publish order
	// first, when set, is an observation of the index made earlier in
	// this run; after are the line's earlier crates still unfinished
	// when this one started, those it may depend on.
	first    *lookup
	after    []*inFlight
	accepted chan struct{} // closed once the registry accepted its upload
	done     chan struct{} // closed once its step ended; err is then set
	err      error
	once     sync.Once
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
// shows the sealed checksum. c.first, when set, stands for the first look
// (a version never leaves the index, and one that appeared since is
// refused by the registry and then checked like any other); c.after are
// the line's earlier crates it may depend on that still wait for the index
// (see publishLine).
func publishCrate(ctx context.Context, r *release.Run, idx release.RegistryIndex, l *publishingLine, c *inFlight, res *release.CratePublished) error {
	name, version, sum, first, after := c.name, c.version, c.sum, c.first, c.after
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
		var looked time.Time // when the index was read
		if attempt == 1 && first != nil {
			e, found, err = first.wait(ctx)
			looked = first.at
		} else {
			e, found, err = idx.Lookup(ctx, name, version)
			looked = r.Now()
		}
		if err == nil && !found && attempt == 1 && cutOff(r.Journal, release.CratePublishedKey(nv).Step) {
			// The run before was killed while this step ran: its cargo,
			// orphaned, may still be uploading. Give that upload time to
			// show before trying again.
			e, found, err = showsWithin(ctx, r.Gate.Clock, idx, name, version, orphanGrace)
			looked = r.Now()
		}
		if err != nil {
			return err
		}
		switch decide(e, found, sum) {
		case refuse:
			return fmt.Errorf("%s is on the registry with sha256 %s, not the sealed %s: stop and investigate, a published version cannot be replaced", nv, e.Cksum, sum)
		case skip:
			if attempt == 1 {
				res.Text = "already on the registry with the sealed checksum"
			}
			l.progress.foundOne(l.rel.Line)
			if !momentRecorded(r.Journal, release.CratePublishedKey(nv).Step, release.VisibleMoment) {
				// An earlier attempt uploaded it and was cut short while
				// it waited for the index: the look now is the latest it
				// became visible, for the timeline.
				res.SeenAt = looked.UTC()
			}
			// The release has begun publicly on the registry: holding
			// the rest back protects nothing.
			r.Settle(release.RegistryTakes, nil)
			return nil
		}
		if err := r.Gate.Allow("publish " + nv); err != nil {
			return err
		}
		pipeline.Checkpoint("publish.upload")
		res.ResolvedThrough = "registry"
		if l.cargo.ResolvesThroughView() {
			res.ResolvedThrough = "index view"
		}
		endTurn, err := l.turns.acquire(ctx, turn{l.index, c.pos})
		if err != nil {
			return err
		}
		tok, err := l.auth.token(ctx)
		if err != nil {
			endTurn()
			if refusal := (*pipeline.Refusal)(nil); errors.As(err, &refusal) {
				return fmt.Errorf("%s: not uploaded: %w", nv, err)
			}
			// No publish token to be had (the Trusted Publishing
			// exchange failed): no upload can be made, so nothing else
			// goes public either.
			refusal := exchangeRefusal(nv, err)
			r.Settle(release.RegistryTakes, refusal)
			return refusal
		}
		cg := l.cargo.WithToken(tok)
		early := startEarly(ctx, l.view, unfinished(after))
		start, wallStart := r.Now(), time.Now()
		up, err := cg.StartPublish(ctx, l.dir, name)
		if err == nil {
			err = up.Accepted(early.ctx)
		}
		endTurn()
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
			res.CargoStarted = start.UTC()
			res.UploadedAt = uploadedAt(start, wallStart, up.AcceptedAt(), shown).UTC()
			pipeline.Checkpoint("publish.uploaded")
			c.accept()
			l.progress.uploadedOne(l.rel.Line) // shown before the push, which waits for it, goes
			r.Settle(release.RegistryTakes, nil)
			err := waitVisible(ctx, r, idx, name, version, sum, res)
			up.Stop()
			if err == nil {
				l.progress.visibleOne(l.rel.Line)
			}
			return err
		case errors.As(err, &pe) && pe.Retryable():
			wait, err := retryPlan(r.Now(), horizon, pe, attempt)
			if err != nil {
				return fmt.Errorf("%s: %w", nv, err)
			}
			r.Warnf("%s: registry answered %d; retrying in %s (attempt %d)", nv, pe.Status, pipeline.HumanDuration(wait.Round(time.Second)), attempt+1)
			if pe.Status == http.StatusTooManyRequests {
				// crates.io limits an account's publishes once its
				// token has authenticated: the token is taken.
				r.Settle(release.RegistryTakes, nil)
				l.turns.limit(r.Now().Add(wait)) // the uploads now take turns
				continue
			}
			if err := retry.Sleep(ctx, r.Gate.Clock, wait); err != nil {
				return err
			}
		case errors.As(err, &pe) && refusedToken(pe.Output) && refusals < 2 && l.auth.refused(tok):
			// A Trusted Publishing token the registry no longer takes
			// (it ran out sooner than its 30 minutes): exchange again.
			refusals++
			r.Warnf("%s: the registry refused the publish token; exchanging the OIDC token for a new one", nv)
		case errors.As(err, &pe) && isRefused(pe):
			// The registry refused the credential: no upload after this
			// one uses it, and the stages awaiting the registry's answer
			// make nothing public.
			status, answer, _ := uploadRefused(pe)
			refusal := refusalAt(r, nv, tok, status, answer)
			l.auth.refuse(refusal)
			r.Settle(release.RegistryTakes, refusal)
			return refusal
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

// uploadedAt is when an upload became the registry's, on the gate's clock:
// when the registry's acceptance reached cargo (accepted), not when cargo
// started (start), which is its start-up, its reads and the request
// earlier. Without it (the registry had the version from an earlier
// attempt), the upload is no earlier than this attempt's start nor, for a
// cargo started early, than the View showing it the earlier crates (shown,
// on this machine's clock, where cargo started at wallStart).
func uploadedAt(start, wallStart, accepted, shown time.Time) time.Time {
	if !accepted.IsZero() {
		return accepted
	}
	if d := shown.Sub(wallStart); !shown.IsZero() && d > 0 {
		return start.Add(d)
	}
	return start
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

// decision is what publish does with a version, from what the index shows
// of it: a version on the registry can never be replaced.
type decision int

const (
	upload decision = iota // not on the registry
	skip                   // there with the sealed checksum: an earlier upload, ours
	refuse                 // there with other bytes: someone else's, never overwritten
)

func decide(e index.Entry, found bool, sealed string) decision {
	switch {
	case !found:
		return upload
	case e.Cksum == sealed:
		return skip // yanked or not: the sealed bytes are public
	default:
		return refuse
	}
}
