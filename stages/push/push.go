// Package push is the stage that makes the held branches and their tags
// public at T0 in one atomic push, prepared before T0, once the registry
// has taken the first upload, and reads the remote back to prove it.
package push

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/retry"
	"github.com/async-rs/embargo/stages/vault"
)

// Stage makes the held branches and their tags public in one atomic push,
// then reads the remote back to prove it.
type Stage struct {
	Vault release.PushVaultOpener
}

func (Stage) Name() string { return release.Push }

// Needs: the push is prepared before T0 and sent when the gate opens.
func (Stage) Needs() []string { return []string{release.Preflight} }
func (Stage) Summary() string {
	return "one atomic push of every held branch and tag, once the registry has taken the first upload; remote refs verified"
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
func preparePush(ctx context.Context, r *release.Run, v release.PushVault, url string, auth transport.AuthMethod, held map[string]plumbing.Hash) (release.PreparedPush, int, error) {
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

func (s Stage) Run(ctx context.Context, r *release.Run) error {
	v, err := s.Vault(release.VaultPath(r.StateDir))
	if err != nil {
		return err
	}
	held, err := release.ReadHeldTips(ctx, r, v, "pushed")
	if err != nil {
		return err
	}
	p := &pushing{r: r, cfg: r.Config, v: v, url: r.Targets.Public.URL, auth: r.Targets.Public.Auth, held: held}
	defer func() { release.ClosePush(p.ready) }()
	// Everything but the write is done before T0: the tags made, the
	// remote's refs read, the commands and the pack computed.
	return release.RunSteps(ctx,
		release.Step(r, tagsMadeKey, p.tags),    // in the vault: nothing public yet
		release.Step(r, preparedKey, p.prepare), // close to T0, so the refs read are those the push finds
		p.recheckIfPrepared,                     // one more look, one round trip, just before T0
		p.awaitGate,
		release.Step(r, RefsPushedKey, p.push),     // the one public write: one atomic push
		release.Step(r, pushVerifiedKey, p.verify), // the remote holds every branch and tag
	)
}

// pushing is the push stage's work, a step a method: the held tips, and
// the push prepared before T0 that the push step sends.
type pushing struct {
	r     *release.Run
	cfg   *config.Config
	v     release.PushVault
	url   string
	auth  transport.AuthMethod
	held  map[string]plumbing.Hash // by line
	ready release.PreparedPush     // nil when not prepared (or no longer valid)
	// waited is how long the push waited, once the gate had opened, for
	// the registry to take the first upload.
	waited time.Duration
}

// The push stage's steps.
var (
	tagsMadeKey     = pipeline.Key[TagsMade]{Stage: release.Push, Step: "tags"}
	preparedKey     = pipeline.Key[pipeline.Said]{Stage: release.Push, Step: "prepare"}
	recheckedKey    = pipeline.Key[pipeline.Said]{Stage: release.Push, Step: "recheck"}
	RefsPushedKey   = pipeline.Key[RefsPushed]{Stage: release.Push, Step: "push"}
	pushVerifiedKey = pipeline.Key[pipeline.Said]{Stage: release.Push, Step: "verify"}
)

// TagsMade is the tags step: each release tag's object, by tag.
type TagsMade struct {
	Tags map[string]string `json:"tags"`
}

// Summary is empty: the push says what went public.
func (TagsMade) Summary() string { return "" }

// RefsPushed is the push step: the refs the one atomic push wrote, and
// when.
type RefsPushed struct {
	Pushed   []string  `json:"pushed,omitempty"`
	PushedAt time.Time `json:"pushed_at,omitzero"`
	Text     string    `json:"summary,omitempty"`
}

func (p RefsPushed) Summary() string { return p.Text }

// Moments: the push is a public write.
func (p RefsPushed) Moments() []pipeline.Moment {
	return []pipeline.Moment{{Name: "pushed_at", At: p.PushedAt, Public: true}}
}

func (p *pushing) tags(_ context.Context, res *TagsMade) error {
	res.Tags = map[string]string{}
	for _, rel := range p.cfg.Releases {
		h, err := p.v.EnsureTag(rel.Tag, p.held[rel.Line], release.Tagger(p.cfg), tagMessage(p.cfg, rel))
		if err != nil {
			return err
		}
		res.Tags[rel.Tag] = h.String()
	}
	return nil
}

func (p *pushing) prepare(ctx context.Context, res *pipeline.Said) error {
	r := p.r
	if err := release.SleepUntilLead(ctx, r, pushLead); err != nil {
		return err
	}
	pp, n, err := preparePush(ctx, r, p.v, p.url, p.auth, p.held)
	var refused *refusedError
	switch {
	case errors.As(err, &refused):
		return err
	case err != nil:
		// The remote may be back at T0: the push step reads it again.
		r.Warnf("could not prepare the push (%v); trying again at T0", err)
		*res = pipeline.Said("not prepared: " + err.Error())
		return nil
	}
	p.ready = pp
	*res = pipeline.Said(fmt.Sprintf("%d ref(s) and %d object(s) ready to push", n, pp.Objects()))
	return nil
}

// recheckIfPrepared is the recheck step, for a push prepared with
// something to send.
func (p *pushing) recheckIfPrepared(ctx context.Context) error {
	if p.ready == nil || p.ready.Empty() {
		return nil
	}
	return release.Step(p.r, recheckedKey, p.recheck)(ctx)
}

// recheck reads the remote's refs once more: a ref that moved since the
// push was prepared is found before a byte of the pack is sent, and the
// push is prepared again at T0.
func (p *pushing) recheck(ctx context.Context, res *pipeline.Said) error {
	if err := release.SleepUntilLead(ctx, p.r, pushRecheck); err != nil {
		return err
	}
	same, err := p.ready.Recheck(ctx, p.url, p.auth)
	if err != nil || !same {
		release.ClosePush(p.ready)
		p.ready = nil
		*res = "the remote changed since the push was prepared: it is prepared again at T0"
		if err != nil {
			*res = pipeline.Said("could not read the remote again (" + err.Error() + "): the push is prepared again at T0")
		}
		return nil
	}
	*res = "the remote is as it was when the push was prepared"
	return nil
}

// awaitGate waits for the gate, then for the registry to take the first
// upload: a credential it refuses leaves the fix unpushed.
func (p *pushing) awaitGate(ctx context.Context) error {
	if err := release.AwaitGate(ctx, p.r); err != nil {
		return err
	}
	waited, err := release.AwaitRegistry(ctx, p.r, "pushed")
	if err != nil {
		return err
	}
	p.waited = waited
	pipeline.Checkpoint("push.before")
	return nil
}

// push sends the prepared push. A try that failed may have landed: the
// next one reads the remote again and pushes only what is still missing,
// never the same push blindly.
func (p *pushing) push(ctx context.Context, res *RefsPushed) error {
	r, cfg := p.r, p.cfg
	var lastErr error
	for attempt := 1; ; attempt++ {
		if attempt > 1 || p.ready == nil {
			release.ClosePush(p.ready)
			pp, _, err := preparePush(ctx, r, p.v, p.url, p.auth, p.held)
			if err != nil {
				var refused *refusedError
				if errors.As(err, &refused) {
					return err
				}
				lastErr = err
				p.ready = nil
			} else {
				p.ready = pp
			}
		}
		if p.ready != nil {
			if p.ready.Empty() {
				if attempt == 1 {
					res.Text = "every ref already public at the held tips: nothing pushed"
				}
				return nil
			}
			// The gate is asked by the step that writes, right before
			// it writes.
			if err := r.Gate.Allow("push to " + cfg.Source.Public); err != nil {
				return err
			}
			start := r.Now()
			err := p.ready.Send(ctx)
			if err == nil {
				res.Pushed, res.PushedAt = p.ready.Refs(), start.UTC()
				res.Text = fmt.Sprintf("pushed %d refs in one atomic push at %s", len(res.Pushed), start.UTC().Format("15:04:05.000"))
				if p.waited >= time.Millisecond {
					res.Text += fmt.Sprintf(", once the registry had taken the first upload (%s after the gate opened)", pipeline.HumanDuration(p.waited.Round(time.Millisecond)))
				}
				pipeline.Checkpoint("push.after")
				return nil
			}
			if !release.Transient(err) {
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
}

func (p *pushing) verify(ctx context.Context, res *pipeline.Said) error {
	cfg := p.cfg
	remote, err := p.v.ListRemote(ctx, p.url, p.auth)
	if err != nil {
		return err
	}
	var wrong []string
	for _, rel := range cfg.Releases {
		h := p.held[rel.Line]
		if got := remote["refs/heads/"+rel.PublicBranch]; got.Hash != h {
			wrong = append(wrong, fmt.Sprintf("%s is at %s, expected %s", rel.PublicBranch, shortOrNone(got.Hash), release.Short(h)))
		}
		if got := remote["refs/tags/"+rel.Tag]; got.Commit != h {
			wrong = append(wrong, fmt.Sprintf("tag %s points to %s, expected %s", rel.Tag, shortOrNone(got.Commit), release.Short(h)))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("public refs are not as pushed: %s", strings.Join(wrong, "; "))
	}
	*res = pipeline.Said(fmt.Sprintf("%d branches and %d tags public at the held tips", len(cfg.Releases), len(cfg.Releases)))
	return nil
}

// missingUpdates compares the remote with what must be there and returns
// the refs still to push. A public branch that moved since preflight stops
// the release: the fix must be rebased and checked again.
func missingUpdates(r *release.Run, v release.PushVault, remote map[string]vault.RemoteRef, held map[string]plumbing.Hash) ([]vault.Update, error) {
	var out []vault.Update
	for _, rel := range r.Config.Releases {
		h := held[rel.Line]
		branch := "refs/heads/" + rel.PublicBranch
		cur, exists := remote[branch]
		if cur.Hash != h {
			line, _ := release.CheckedLine(r.Journal, rel.Line)
			checked := line.PublicTip
			switch {
			case checked != "" && (!exists || cur.Hash.String() != checked):
				return nil, pipeline.RerunFrom(release.Preflight, fmt.Errorf("public %s moved since preflight (was %s, now %s): rebase %s onto it; preflight checks it again",
					rel.PublicBranch, vault.ShortHex(checked), shortOrNone(cur.Hash), rel.Branch))
			case checked == "" && exists:
				// No journal: decide from the objects themselves.
				ok, err := v.IsAncestor(cur.Hash, h)
				if err != nil || !ok {
					return nil, pipeline.RerunFrom(release.Preflight, fmt.Errorf("public %s is at %s, which %s does not fast-forward: rebase it; preflight checks it again",
						rel.PublicBranch, release.Short(cur.Hash), rel.Branch))
				}
			case checked == "" && !exists:
				return nil, pipeline.RerunFrom(release.Preflight, fmt.Errorf("public branch %s does not exist", rel.PublicBranch))
			}
			out = append(out, vault.Update{Local: "refs/held/" + rel.Branch, Remote: branch})
		}
		tag := "refs/tags/" + rel.Tag
		if cur, exists := remote[tag]; !exists {
			out = append(out, vault.Update{Local: tag, Remote: tag})
		} else if cur.Commit != h {
			return nil, fmt.Errorf("tag %s exists publicly at %s, not at the held tip %s", rel.Tag, release.Short(cur.Commit), release.Short(h))
		}
	}
	return out, nil
}

func shortOrNone(h plumbing.Hash) string {
	if h.IsZero() {
		return "(absent)"
	}
	return release.Short(h)
}

// tagMessage is the message of the annotated tag made for rel.
func tagMessage(cfg *config.Config, rel config.Release) string {
	return fmt.Sprintf("%s %s\n\nSecurity release for %s (line %s).\n", strings.TrimPrefix(rel.Tag, "v"), cfg.Advisory.Package, cfg.Embargo.ID, rel.Line)
}
