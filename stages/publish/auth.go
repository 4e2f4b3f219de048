package publish

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/trustpub"
)

// tokenMargin is the least life a Trusted Publishing token must have left
// when an upload starts: a cargo publish, with its reads of the index, can
// take a minute, and a token that runs out half-way fails the upload.
const tokenMargin = 5 * time.Minute

// publishAuth is the publish stage's registry token: the configured one,
// or with Trusted Publishing one exchanged just before the first upload,
// exchanged again when too little of its life is left for the next upload
// or the registry refuses it, and revoked, every one, when the stage ends.
type publishAuth struct {
	static  string
	trusted bool
	r       *release.Run
	idx     release.RegistryIndex
	// lifetime is what the exchanged tokens are taken to live.
	lifetime time.Duration

	mu sync.Mutex
	// refusal, once the registry has refused the credential for good,
	// is every later upload's answer: none is tried with it.
	refusal   *pipeline.Refusal
	ids       trustpub.IDTokens
	client    *trustpub.Client
	cur       string
	expires   time.Time
	exchanged []string // every token, to revoke
}

func newPublishAuth(r *release.Run, idx release.RegistryIndex) *publishAuth {
	return &publishAuth{static: r.Targets.Registry.Token, trusted: r.Config.Registry.TrustedPublishing, r: r, idx: idx, lifetime: trustpub.Lifetime}
}

// prepare exchanges in the background, so that the uploads at T0 find a
// token ready: called close to T0 (publishLead), never at the job's start,
// since the job starts long before T0 and the token lives 30 minutes.
func (a *publishAuth) prepare(ctx context.Context) {
	if a.trusted {
		go a.token(ctx)
	}
}

// token is the token for the next upload.
func (a *publishAuth) token(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.refusal != nil {
		return "", &pipeline.Refusal{Err: errors.New("the registry refused the publish credential on an earlier upload of this run"), Fix: a.refusal.Fix}
	}
	if !a.trusted {
		return a.static, nil
	}
	now := a.r.Now()
	if a.cur != "" && a.expires.Sub(now) >= tokenMargin {
		return a.cur, nil
	}
	if a.cur != "" && a.ids != nil && !a.ids.Fresh() {
		if now.Before(a.expires) {
			return a.cur, nil // the one there is, since no other can be had
		}
		return "", a.spent()
	}
	if err := a.exchange(ctx); err != nil {
		return "", err
	}
	return a.cur, nil
}

// refuse records the registry's final refusal of the credential.
func (a *publishAuth) refuse(refusal *pipeline.Refusal) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.refusal == nil {
		a.refusal = refusal
	}
}

// refused is told that the registry refused tok (403): it expired sooner
// than taken, or was revoked. It reports whether another can be had.
func (a *publishAuth) refused(tok string) bool {
	if !a.trusted {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if tok != a.cur {
		return true // already replaced
	}
	if a.ids != nil && !a.ids.Fresh() {
		return false
	}
	a.cur = ""
	return true
}

// spent explains why no token can be had: the CI gives one OIDC token a
// job and the registry takes it once.
func (a *publishAuth) spent() error {
	return fmt.Errorf("the publish token from Trusted Publishing ran out (%s), and %s holds one OIDC token for the job, which the registry takes once: re-run the publish stage in a new job",
		a.expires.UTC().Format(time.RFC3339), a.ids.Describe())
}

// exchange gets a new token. a.mu held.
func (a *publishAuth) exchange(ctx context.Context) error {
	if a.ids == nil {
		ids, err := release.IDTokens(a.r)
		if err != nil {
			return err
		}
		a.ids = ids
	}
	if a.client == nil {
		c, err := release.ExchangeClient(ctx, a.r, a.idx)
		if err != nil {
			return err
		}
		a.client = c
	}
	if len(a.exchanged) > 0 && !a.ids.Fresh() {
		return a.spent()
	}
	jwt, err := a.ids.IDToken(ctx, trustpub.Audience(a.client.API))
	if err != nil {
		return fmt.Errorf("trusted publishing: %w", err)
	}
	began := a.r.Now()
	tok, err := a.client.Exchange(ctx, jwt)
	if err != nil {
		return fmt.Errorf("trusted publishing: %w", err)
	}
	a.cur, a.expires = tok, began.Add(a.lifetime)
	a.exchanged = append(a.exchanged, tok)
	if len(a.exchanged) > 1 {
		a.r.Infof("Trusted Publishing: a new publish token (number %d this run), valid until %s", len(a.exchanged), a.expires.UTC().Format(time.RFC3339))
	}
	return nil
}

// close revokes every token exchanged, whatever the stage's outcome; ctx
// may be over already (an interrupt), so the revocation has its own.
func (a *publishAuth) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.exchanged) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var errs []error
	for _, tok := range a.exchanged {
		if err := a.client.Revoke(ctx, tok); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		a.r.Warnf("Trusted Publishing: %v (it expires by itself within %s)", err, a.lifetime)
	} else {
		a.r.Infof("Trusted Publishing: %d publish token(s) revoked", len(a.exchanged))
	}
	a.exchanged = nil
}

// refusedToken is true when cargo's failure is the registry refusing the
// token itself (not the crate, nor the version).
func refusedToken(out string) bool {
	return strings.Contains(out, "status 403") && !strings.Contains(out, "creating new crates")
}
