// Package announce is the stage that mails the advisory at T0, in the Rust
// Security Response WG's order: after publish (the mail tells users to
// upgrade to versions that must exist) and before the blog post, the
// announcement to announce.to, OpenPGP-clearsigned. The short notice to
// announce.notice comes after the post and the GitHub advisory it links
// to (stages/notice).
//
// SMTP cannot be read back, so the mail converges on the journal
// (release.DeliverOnce): the server's acceptance is recorded (its reply
// and queue id), and a re-run sends nothing recorded as accepted. A mail
// handed over whose outcome is unknown (the connection lost after the
// data, or a run killed between handing it over and recording the reply)
// is never sent again blindly: the stage fails, saying how to look for it
// by its Message-ID and that `--only announce --force` sends it again. A
// run on a machine without the journal sends it again, with the same
// Message-ID.
package announce

import (
	"context"
	"fmt"
	"strings"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

// Stage mails the announcement at T0.
type Stage struct {
	Mail  release.MailOpener
	Index release.IndexOpener
	Blog  release.BlogOpener
}

func (Stage) Name() string    { return release.Announce }
func (Stage) Needs() []string { return []string{release.Publish} }
func (Stage) Summary() string {
	return "the advisory mailed, OpenPGP-clearsigned, to the announcement list; once"
}

// Skip: the mail is optional.
func (Stage) Skip(cfg *config.Config) string {
	if cfg.Announce == nil {
		return "no [announce] configured: mail the announcement by hand"
	}
	if len(cfg.Announce.To) == 0 {
		return "announce.to names no announcement list"
	}
	return ""
}

// Plan names the mail, its recipients and the server.
func (Stage) Plan(cfg *config.Config) []string {
	return release.PlanMail(cfg, release.Announcement)
}

func (s Stage) Run(ctx context.Context, r *release.Run) error {
	if !r.Selected(release.Gate) {
		if err := release.CheckLateStart(r); err != nil {
			return err
		}
	}
	var m release.Outgoing
	if _, err := pipeline.Step(r.Run, composedKey, func(res *Composed) (err error) {
		m, err = s.compose(ctx, r, res)
		return err
	}); err != nil {
		return err
	}
	return release.DeliverAtT0(ctx, r, s.Mail, release.Announce, m)
}

// compose renders the advisory's mail text and signs the announcement
// with the key of announce.signing_key_env, at the time of the run.
func (s Stage) compose(ctx context.Context, r *release.Run, res *Composed) (release.Outgoing, error) {
	m, out, err := release.AdvisoryOutputs(ctx, r, s.Index, s.Blog)
	if err != nil {
		return release.Outgoing{}, err
	}
	// The announcement is signed as of T0, as it is dated, whenever the
	// run composes it: composed again, it is the same mail.
	signer, err := release.SigningKey(r, r.Config.T0())
	if err != nil {
		return release.Outgoing{}, err
	}
	res.Fingerprint = signer.Fingerprint()
	ml, err := release.ComposeMail(r.Config, release.Announcement, m, out.Mail.Content, signer)
	if err != nil {
		return release.Outgoing{}, err
	}
	res.Mails = []string{ml.MessageID}
	res.Text = fmt.Sprintf("%s %s to %s; signed with %s", ml.Kind, ml.MessageID, strings.Join(ml.Envelope.To, ", "), res.Fingerprint)
	return ml, nil
}
