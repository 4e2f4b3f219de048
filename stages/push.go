package stages

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/retry"
	"github.com/async-rs/embargo/stages/vault"
)

// Push makes the held branches and their tags public in one atomic push,
// then reads the remote back to prove it.
type Push struct{}

func (Push) Name() string { return "push" }

// Needs: the push is prepared before T0 and sent when the gate opens.
func (Push) Needs() []string { return []string{"preflight"} }
func (Push) Summary() string {
	return "one atomic push of every held branch and tag; remote refs verified"
}

// pushRetry is how a push that failed on the network is tried again: each
// try first re-reads the remote and pushes only what is still missing, so
// a push that landed without its answer is never repeated.
var pushRetry = retry.Policy{Attempts: 4, First: time.Second}

// pushLead is how long before T0 the push is prepared: late enough that the
// remote's refs are still as read at T0, early enough that a repository
// with many refs is listed and packed in time.
const pushLead = 10 * time.Second

// pushRecheck is how long before T0 the remote's refs are read once more:
// a round trip fits, and little can change in what is left.
const pushRecheck = 1500 * time.Millisecond

// preparePush reads the remote and prepares the push of what it lacks; n is
// how many refs. A public branch that moved since preflight, or a tag
// elsewhere, is a *refusedError: no retry changes it.
func preparePush(ctx context.Context, r *pipeline.Run, v *vault.Vault, url string, auth transport.AuthMethod, held map[string]plumbing.Hash) (*vault.PreparedPush, int, error) {
	sess, err := v.OpenPush(ctx, url, auth)
	if err != nil {
		return nil, 0, err
	}
	updates, err := missingUpdates(r, v, sess.Refs(), held)
	if err != nil {
		sess.Close()
		return nil, 0, &refusedError{err}
	}
	pp, err := sess.Prepare(updates)
	if err != nil {
		sess.Close()
		return nil, 0, &refusedError{err}
	}
	return pp, len(updates), nil
}

// refusedError is a push that must not be retried.
type refusedError struct{ error }

func (e *refusedError) Unwrap() error { return e.error }

func (Push) Run(ctx context.Context, r *pipeline.Run) error {
	cfg := r.Config
	v, err := openVault(r)
	if err != nil {
		return err
	}
	url, auth := publicURL(r), gitAuth(r)

	held, err := heldTips(ctx, r, v, "pushed")
	if err != nil {
		return err
	}

	if err := r.Step("tags", func(res map[string]string) error {
		for _, rel := range cfg.Releases {
			h, err := v.EnsureTag(rel.Tag, held[rel.Line], tagger(cfg), tagMessage(cfg, rel))
			if err != nil {
				return err
			}
			res[rel.Tag] = h.String()
		}
		return nil
	}); err != nil {
		return err
	}

	// Everything but the write is done before T0: the remote's refs read,
	// the commands and the pack computed. Close to T0, so that the refs
	// read are the ones the push will find.
	var ready *vault.PreparedPush
	if err := r.Step("prepare", func(res map[string]string) error {
		if err := sleepUntilLead(ctx, r, pushLead); err != nil {
			return err
		}
		pp, n, err := preparePush(ctx, r, v, url, auth, held)
		var refused *refusedError
		switch {
		case errors.As(err, &refused):
			return err
		case err != nil:
			// The remote may be back at T0: the push step reads it again.
			r.Warnf("could not prepare the push (%v); trying again at T0", err)
			res["summary"] = "not prepared: " + err.Error()
			return nil
		}
		ready = pp
		res["summary"] = fmt.Sprintf("%d ref(s) and %d object(s) ready to push", n, pp.Objects)
		return nil
	}); err != nil {
		return err
	}
	defer func() { ready.Close() }()
	if ready != nil && !ready.Empty() {
		if err := r.Step("recheck", func(res map[string]string) error {
			if err := sleepUntilLead(ctx, r, pushRecheck); err != nil {
				return err
			}
			// One more look just before T0, one round trip: a ref that
			// moved since the push was prepared is found before a byte of
			// the pack is sent, and the push is prepared again at T0.
			same, err := ready.Recheck(ctx, url, auth)
			if err != nil || !same {
				ready.Close()
				ready = nil
				res["summary"] = "the remote changed since the push was prepared: it is prepared again at T0"
				if err != nil {
					res["summary"] = "could not read the remote again (" + err.Error() + "): the push is prepared again at T0"
				}
				return nil
			}
			res["summary"] = "the remote is as it was when the push was prepared"
			return nil
		}); err != nil {
			return err
		}
	}
	if err := awaitGate(ctx, r); err != nil {
		return err
	}

	pipeline.Checkpoint("push.before")
	if err := r.Step("push", func(res map[string]string) error {
		var lastErr error
		for attempt := 1; ; attempt++ {
			if attempt > 1 || ready == nil {
				// Whatever the last attempt did, the remote is read
				// again and only what is still missing is pushed.
				ready.Close()
				pp, _, err := preparePush(ctx, r, v, url, auth, held)
				if err != nil {
					var refused *refusedError
					if errors.As(err, &refused) {
						return err
					}
					lastErr = err
					ready = nil
				} else {
					ready = pp
				}
			}
			if ready != nil {
				if ready.Empty() {
					if attempt == 1 {
						res["summary"] = "every ref already public at the held tips: nothing pushed"
					}
					return nil
				}
				// The gate is asked by the step that writes, right before
				// it writes.
				if err := r.Gate.Allow("push to " + cfg.Source.Public); err != nil {
					return err
				}
				start := r.Now()
				err := ready.Send(ctx)
				if err == nil {
					res["pushed"] = strings.Join(ready.Refs(), ",")
					res["pushed_at"] = start.UTC().Format(time.RFC3339Nano)
					res["summary"] = fmt.Sprintf("pushed %d refs in one atomic push at %s", len(ready.Refs()), start.UTC().Format("15:04:05.000"))
					pipeline.Checkpoint("push.after")
					return nil
				}
				if !transient(err) {
					return fmt.Errorf("push to %s refused: %w", cfg.Source.Public, err)
				}
				lastErr = err
			}
			wait, err := pushRetry.Next(r.Now(), attempt, lastErr)
			if err != nil {
				return fmt.Errorf("push to %s %w", cfg.Source.Public, err)
			}
			r.Warnf("push attempt %d failed (%v); re-reading the remote in %s", attempt, lastErr, wait)
			if err := retry.Sleep(ctx, r.Gate.Clock, wait); err != nil {
				return err
			}
		}
	}); err != nil {
		return err
	}

	return r.Step("verify", func(res map[string]string) error {
		remote, err := vault.ListRemote(ctx, url, auth)
		if err != nil {
			return err
		}
		var wrong []string
		for _, rel := range cfg.Releases {
			h := held[rel.Line]
			if got := remote["refs/heads/"+rel.PublicBranch]; got.Hash != h {
				wrong = append(wrong, fmt.Sprintf("%s is at %s, expected %s", rel.PublicBranch, shortOrNone(got.Hash), short(h)))
			}
			if got := remote["refs/tags/"+rel.Tag]; got.Commit != h {
				wrong = append(wrong, fmt.Sprintf("tag %s points to %s, expected %s", rel.Tag, shortOrNone(got.Commit), short(h)))
			}
		}
		if len(wrong) > 0 {
			return fmt.Errorf("public refs are not as pushed: %s", strings.Join(wrong, "; "))
		}
		res["summary"] = fmt.Sprintf("%d branches and %d tags public at the held tips", len(cfg.Releases), len(cfg.Releases))
		return nil
	})
}

// missingUpdates compares the remote with what must be there and returns
// the refs still to push. A public branch that moved since preflight stops
// the release: the fix must be rebased and checked again.
func missingUpdates(r *pipeline.Run, v *vault.Vault, remote map[string]vault.RemoteRef, held map[string]plumbing.Hash) ([]vault.Update, error) {
	var out []vault.Update
	for _, rel := range r.Config.Releases {
		h := held[rel.Line]
		branch := "refs/heads/" + rel.PublicBranch
		cur, exists := remote[branch]
		if cur.Hash != h {
			checked := r.Journal.Result("preflight", lineStep(rel), resPublicTip)
			switch {
			case checked != "" && (!exists || cur.Hash.String() != checked):
				return nil, pipeline.RerunFrom("preflight", fmt.Errorf("public %s moved since preflight (was %s, now %s): rebase %s onto it; preflight checks it again",
					rel.PublicBranch, vault.ShortHex(checked), shortOrNone(cur.Hash), rel.Branch))
			case checked == "" && exists:
				// No journal: decide from the objects themselves.
				ok, err := v.IsAncestor(cur.Hash, h)
				if err != nil || !ok {
					return nil, pipeline.RerunFrom("preflight", fmt.Errorf("public %s is at %s, which %s does not fast-forward: rebase it; preflight checks it again",
						rel.PublicBranch, short(cur.Hash), rel.Branch))
				}
			case checked == "" && !exists:
				return nil, pipeline.RerunFrom("preflight", fmt.Errorf("public branch %s does not exist", rel.PublicBranch))
			}
			out = append(out, vault.Update{Local: "refs/held/" + rel.Branch, Remote: branch})
		}
		tag := "refs/tags/" + rel.Tag
		if cur, exists := remote[tag]; !exists {
			out = append(out, vault.Update{Local: tag, Remote: tag})
		} else if cur.Commit != h {
			return nil, fmt.Errorf("tag %s exists publicly at %s, not at the held tip %s", rel.Tag, short(cur.Commit), short(h))
		}
	}
	return out, nil
}

// transient is false for refusals a retry cannot change (credentials, a
// rejected or non-fast-forward update, a missing repository). Anything else
// (a dropped connection, a timeout, a 5xx) may or may not have landed:
// the retry re-reads the remote first and pushes only what is missing.
func transient(err error) bool {
	if errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed) ||
		errors.Is(err, transport.ErrRepositoryNotFound) {
		return false
	}
	msg := err.Error()
	for _, s := range []string{"non-fast-forward", "rejected", "denied", "protected branch", "hook declined"} {
		if strings.Contains(msg, s) {
			return false
		}
	}
	return true
}

func shortOrNone(h plumbing.Hash) string {
	if h.IsZero() {
		return "(absent)"
	}
	return short(h)
}
