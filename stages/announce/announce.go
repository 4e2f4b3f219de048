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
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/retry"
	"github.com/async-rs/embargo/stages/smtp"
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
	c, err := release.MailClient(r, s.Mail)
	if err != nil {
		return err
	}
	for _, m := range mails {
		if err := deliver(ctx, r, c, m); err != nil {
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

// deliver sends m unless the journal says the server took it, or that
// it may have.
func deliver(ctx context.Context, r *release.Run, c release.Mailer, m release.Outgoing) error {
	hk, sk := handedKey(m.Kind), sentKey(m.Kind)
	prev, _ := pipeline.Load(r.Journal, sk)
	handed, wasHanded := pipeline.Load(r.Journal, hk)
	if prev.MessageID != m.MessageID {
		prev = Sent{}
	}
	if !wasHanded || handed.MessageID != m.MessageID {
		handed = release.MailHanded{}
	}
	// Handed over in a try whose outcome no step recorded: the run was
	// killed between the two, and the server may have the mail.
	cutOff := handed.Try > prev.Try
	_, err := pipeline.Step(r.Run, sk, func(res *Sent) error {
		switch {
		case prev.Accepted():
			*res = prev
			res.Text = fmt.Sprintf("%s %s: accepted by the server at %s already (%s); nothing sent", m.Kind, m.MessageID, prev.AcceptedAt.Format(time.RFC3339), prev.Reply)
			return nil
		case (prev.Outcome == release.MailUnknown || cutOff) && !r.Mode.Force:
			*res = prev
			res.MessageID, res.Try, res.Outcome = m.MessageID, max(prev.Try, handed.Try), release.MailUnknown
			res.Text = fmt.Sprintf("%s %s: may have been accepted; not sent again", m.Kind, m.MessageID)
			return unknownError(r, m, handed, prev.Outcome == release.MailUnknown)
		}
		if err := r.Gate.Allow(fmt.Sprintf("mail the %s to %s", m.Kind, m.Kind.Key())); err != nil {
			return err
		}
		try := max(prev.Try, handed.Try) + 1
		if _, err := pipeline.Step(r.Run, hk, func(h *release.MailHanded) error {
			*h = release.MailHanded{MessageID: m.MessageID, Try: try, At: r.Now().UTC()}
			return nil
		}); err != nil {
			return err
		}
		return send(ctx, r, c, m, try, res)
	})
	return err
}

// send hands m to the server, again while it refuses for now.
func send(ctx context.Context, r *release.Run, c release.Mailer, m release.Outgoing, try int, res *Sent) error {
	*res = Sent{MessageID: m.MessageID, To: m.Envelope.To, Try: try}
	err := retry.Do(ctx, release.Clock(r.Gate), sendRetry, func(int) error {
		start := r.Now().UTC()
		reply, err := c.Send(ctx, m.Envelope, m.Bytes)
		if err != nil {
			return err
		}
		res.SentAt, res.AcceptedAt = start, r.Now().UTC()
		res.Code, res.Reply, res.QueueID, res.Outcome = reply.Code, reply.String(), reply.QueueID, release.MailAccepted
		return nil
	})
	if err == nil {
		res.Text = fmt.Sprintf("%s %s accepted for %s: %s", m.Kind, m.MessageID, strings.Join(m.Envelope.To, ", "), res.Reply)
		return nil
	}
	var se *smtp.Error
	if errors.As(err, &se) && se.Outcome == smtp.Unknown {
		res.Outcome = release.MailUnknown
		res.Text = fmt.Sprintf("%s %s: the connection was lost after the whole mail was handed over", m.Kind, m.MessageID)
		return unknownError(r, m, release.MailHanded{MessageID: m.MessageID, Try: try, At: r.Now().UTC()}, true)
	}
	res.Outcome = release.MailRefused
	if f, ok := release.MailFinding(r.Config, m.Kind, err); ok {
		if se.Outcome == smtp.Temporary {
			f.Fix += "; the server refused for now: `embargo run --from announce` tries again"
		}
		return &pipeline.FindingsError{Findings: []pipeline.Finding{f}}
	}
	return err
}

// unknownError says the list may have the mail, how to tell, and how to
// send it again.
func unknownError(r *release.Run, m release.Outgoing, h release.MailHanded, lost bool) error {
	how := "the connection to the mail server was lost after the whole mail was handed over"
	if !lost {
		how = fmt.Sprintf("a run was stopped after it handed the mail to the server at %s, before it recorded the server's answer", h.At.Format(time.RFC3339))
	}
	return &pipeline.RerunError{From: release.Announce, Force: true, Err: fmt.Errorf(
		"the %s to %s may have been accepted: %s. Look for Message-ID %s in the list's archive (or ask the server's operators for it); if it is not there, `embargo run --from announce --force` sends it again, with the same Message-ID",
		m.Kind, strings.Join(m.Envelope.To, ", "), how, m.MessageID)}
}
