// Package announce is the stage that mails the advisory at T0, in the Rust
// Security Response WG's order: after publish (the mail tells users to
// upgrade to versions that must exist) and before the blog post, the
// announcement to announce.to, OpenPGP-clearsigned, and the notice to
// announce.notice.
//
// SMTP cannot be read back, so each mail converges on the journal: the
// server's acceptance is recorded (its reply and queue id), and a re-run
// sends nothing recorded as accepted. A mail handed over whose outcome is
// unknown (the connection lost after the data, or a run killed between
// handing it over and recording the reply) is never sent again blindly:
// the stage fails, saying how to look for it by its Message-ID and that
// --force sends it again. A run on a machine without the journal sends
// every mail again, with the same Message-ID.
package announce

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/retry"
)

// Stage mails the announcement and the notice at T0.
type Stage struct {
	Mail  release.MailOpener
	Index release.IndexOpener
	Blog  release.BlogOpener
}

func (Stage) Name() string    { return release.Announce }
func (Stage) Needs() []string { return []string{release.Publish} }
func (Stage) Summary() string {
	return "the advisory mailed, OpenPGP-clearsigned, to the announcement list, and the notice with the links; once"
}

// Skip: the mail is optional.
func (Stage) Skip(cfg *config.Config) string {
	if cfg.Announce == nil {
		return "no [announce] configured: mail the announcement by hand"
	}
	if len(cfg.Announce.To) == 0 && len(cfg.Announce.Notice) == 0 {
		return "[announce] names no announcement or notice recipient"
	}
	return ""
}

// Plan names the mails, their recipients and the server.
func (Stage) Plan(cfg *config.Config) []string {
	a := cfg.Announce
	if a == nil {
		return nil
	}
	var out []string
	for _, k := range []release.MailKind{release.Announcement, release.Notice} {
		if to := k.Recipients(a); len(to) > 0 {
			out = append(out, fmt.Sprintf("%s to %s (%s), through %s", k, strings.Join(to, ", "), release.MessageID(cfg, k), a.SMTP))
		}
	}
	return out
}

// sendRetry is how a mail the server did not take (a 4xx, a refused
// recipient, a connection lost before the data) is tried again, on the
// gate's clock, within the window.
var sendRetry = retry.Policy{Attempts: 6, First: 15 * time.Second, Max: 5 * time.Minute}

func (s Stage) Run(ctx context.Context, r *release.Run) error {
	if !r.Selected(release.Gate) {
		if err := release.CheckLateStart(r); err != nil {
			return err
		}
	}
	var mails []release.Outgoing
	if _, err := pipeline.Step(r.Run, composedKey, func(res *Composed) (err error) {
		mails, err = s.compose(ctx, r, res)
		return err
	}); err != nil {
		return err
	}
	if err := release.AwaitGate(ctx, r); err != nil {
		return err
	}
	for _, m := range mails {
		k := release.MailSteps[Sent]{Handed: handedKey(m.Kind), Sent: sentKey(m.Kind)}
		if err := release.DeliverOnce(ctx, r, s.Mail, k, release.Delivery{Mail: m, What: "the " + string(m.Kind), Public: true, Retry: sendRetry,
			Again: "embargo run --from announce", Resend: "embargo run --from announce --force", Rerun: release.Announce}); err != nil {
			return err
		}
	}
	return nil
}

// compose renders the advisory's mail text and signs the announcement
// with the key of announce.signing_key_env, at the time of the run.
func (s Stage) compose(ctx context.Context, r *release.Run, res *Composed) ([]release.Outgoing, error) {
	m, out, err := release.AdvisoryOutputs(ctx, r, s.Index, s.Blog)
	if err != nil {
		return nil, err
	}
	// The announcement is signed as of T0, as it is dated, whenever the
	// run composes it: composed again, it is the same mail.
	signer, err := release.SigningKeyFor(r, r.Config.T0())
	if err != nil {
		return nil, err
	}
	if signer != nil {
		res.Fingerprint = signer.Fingerprint()
	}
	mails, err := release.ComposeMails(r.Config, m, out.Mail.Content, signer)
	if err != nil {
		return nil, err
	}
	var said []string
	for _, ml := range mails {
		res.Mails = append(res.Mails, ml.MessageID)
		said = append(said, fmt.Sprintf("%s %s to %s", ml.Kind, ml.MessageID, strings.Join(ml.Envelope.To, ", ")))
	}
	res.Text = strings.Join(said, "; ")
	if res.Fingerprint != "" {
		res.Text += "; signed with " + res.Fingerprint
	}
	return mails, nil
}
