package preflight

import (
	"context"
	"fmt"
	"strings"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/templates"
)

// checkAnnounce proves before T0 what the mail at T0 needs, sending
// nothing: the key reads and signs (the mails are rendered and signed as
// the announce stage will), and the server takes the login and every
// recipient of each mail in a session that ends in RSET. A variable that
// is not set is the credentials step's to report.
func checkAnnounce(ctx context.Context, r *release.Run, open release.MailOpener, m *templates.Model, mailText []byte, res *AnnounceChecked, add func(subject, fix, format string, args ...any)) error {
	a, t := r.Config.Announce, r.Targets.Mail
	if t.Unreachable != "" {
		add("announce.smtp", "", "%s", t.Unreachable)
		return nil
	}
	var said []string
	// Signed as of T0, as the announce stage signs it: a key that expires
	// before T0, or is made after it, cannot sign the announcement.
	signer, err := release.SigningKeyFor(r, r.Config.T0())
	switch {
	case len(a.To) > 0 && t.SigningKey == "":
		// Not set: the credentials step says so.
	case err != nil:
		addFindings(err, add)
	default:
		if signer != nil {
			res.Fingerprint = signer.Fingerprint()
			said = append(said, "signing key "+res.Fingerprint)
		}
		mails, err := release.ComposeMails(r.Config, m, mailText, signer)
		if err != nil {
			addFindings(err, add)
			break
		}
		for _, ml := range mails {
			res.Mails = append(res.Mails, ml.MessageID)
		}
		said = append(said, fmt.Sprintf("%d mail(s) rendered and signed", len(mails)))
	}
	if a.PasswordEnv != "" && t.Password == "" && !t.Sandbox {
		res.Text = strings.Join(said, "; ")
		return nil
	}
	c, err := release.MailClient(r, open)
	if err != nil {
		addFindings(err, add)
		return nil
	}
	env := release.Envelopes(r.Config)
	for _, e := range env {
		p, err := c.Probe(ctx, e.Envelope)
		if err != nil {
			f, ok := release.MailFinding(r.Config, e.Kind, err)
			if !ok {
				return err
			}
			add(f.Subject, f.Fix, "%s", f.Msg)
			continue
		}
		res.Probed = append(res.Probed, p.Recipients...)
		res.TLS, res.Auth = p.TLS, p.Auth
	}
	if len(res.Probed) > 0 {
		said = append(said, fmt.Sprintf("%s took %s, nothing sent", a.SMTP, proven(a.User, res.Auth, len(res.Probed))))
	}
	res.Text = strings.Join(said, "; ")
	return nil
}

// proven says what the probe proved: the login announce.user names and
// the recipients, or the recipients alone when no login is configured, so
// that a check with no login never reads as one that proved it.
func proven(user, mechanism string, recipients int) string {
	if user == "" {
		return fmt.Sprintf("%d recipient(s) with no login (none configured: announce.user is not set)", recipients)
	}
	return fmt.Sprintf("the login of %s (AUTH %s) and %d recipient(s)", user, mechanism, recipients)
}

// addFindings adds err's findings, or err itself as one about [announce].
func addFindings(err error, add func(subject, fix, format string, args ...any)) {
	fs := pipeline.AsFindings(err)
	if fs == nil {
		add("announce", "", "%v", err)
		return
	}
	for _, f := range fs {
		add(f.Subject, f.Fix, "%s", f.Msg)
	}
}
