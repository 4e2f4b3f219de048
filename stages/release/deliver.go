package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/retry"
	"github.com/async-rs/embargo/stages/smtp"
)

// MailSent is the server's answer to one mail, the announcement's, the
// notice's or the distros pre-notice's: its acceptance (the reply and its
// queue id: SMTP cannot be asked later what it took), a refusal, or no
// answer after the data.
type MailSent struct {
	MessageID string   `json:"message_id"`
	To        []string `json:"to,omitempty"`
	// Try is the MailHanded try this answers.
	Try     int    `json:"try"`
	Outcome string `json:"outcome,omitempty"`
	// SentAt is when the session that was accepted opened; AcceptedAt
	// when the server's acceptance came.
	SentAt     time.Time `json:"sent_at,omitzero"`
	AcceptedAt time.Time `json:"accepted_at,omitzero"`
	Code       int       `json:"code,omitempty"`
	Reply      string    `json:"reply,omitempty"`
	QueueID    string    `json:"queue_id,omitempty"`
	// First is the server's first acceptance of this kind of mail, kept
	// whatever a forced send again answers: that the list has it once is
	// what a plain re-run, plan and status go by.
	First *MailAcceptance `json:"first_accepted,omitempty"`
	Text  string          `json:"summary,omitempty"`
}

// PublicMailSent is the server's answer to a mail to a public list: its
// acceptance is the public write.
type PublicMailSent struct{ MailSent }

// Moments: the mail accepted is the public write.
func (s PublicMailSent) Moments() []pipeline.Moment {
	return []pipeline.Moment{{Name: "accepted_at", At: s.AcceptedAt, Public: true}}
}

// MailAcceptance is a server's acceptance of a mail: when, and its reply.
type MailAcceptance struct {
	MessageID  string    `json:"message_id"`
	To         []string  `json:"to,omitempty"`
	AcceptedAt time.Time `json:"accepted_at"`
	Code       int       `json:"code,omitempty"`
	Reply      string    `json:"reply,omitempty"`
	QueueID    string    `json:"queue_id,omitempty"`
}

func (s MailSent) Summary() string { return s.Text }

// FirstAccepted is the server's first acceptance of the mail; ok is false
// when it never took it.
func (s MailSent) FirstAccepted() (MailAcceptance, bool) {
	switch {
	case s.First != nil:
		return *s.First, true
	case s.Accepted() && !s.AcceptedAt.IsZero():
		return MailAcceptance{MessageID: s.MessageID, To: s.To, AcceptedAt: s.AcceptedAt, Code: s.Code, Reply: s.Reply, QueueID: s.QueueID}, true
	}
	return MailAcceptance{}, false
}

// Accepted is whether the server took the mail.
func (s MailSent) Accepted() bool { return s.Outcome == MailAccepted }

// Mail is the record itself, for DeliverOnce to fill in the result types
// that embed it.
func (s *MailSent) Mail() *MailSent { return s }

// MailRecord is a step result that records a mail's answer: a type that
// embeds MailSent.
type MailRecord[T any] interface {
	*T
	pipeline.Result
	Mail() *MailSent
}

// MailSteps are the two steps that record one mail: the moment it was
// handed to the server, then the server's answer.
type MailSteps[T pipeline.Result] struct {
	Handed pipeline.Key[MailHanded]
	Sent   pipeline.Key[T]
}

// PublicMailSteps are the steps of stage that record its mail of kind k
// to a public list: "<kind> handed", then "<kind>".
func PublicMailSteps(stage string, k MailKind) MailSteps[PublicMailSent] {
	return MailSteps[PublicMailSent]{
		Handed: pipeline.Key[MailHanded]{Stage: stage, Step: string(k) + " handed"},
		Sent:   pipeline.Key[PublicMailSent]{Stage: stage, Step: string(k)},
	}
}

// DeliverAtT0 waits for the gate, then delivers m, stage's one mail to a
// public list, once (DeliverOnce), tried again on the gate's clock while
// the server refuses for now; the commands it suggests re-run stage, and
// force only it.
func DeliverAtT0(ctx context.Context, r *Run, open MailOpener, stage string, m Outgoing) error {
	if err := AwaitGate(ctx, r); err != nil {
		return err
	}
	return DeliverOnce(ctx, r, open, PublicMailSteps(stage, m.Kind), Delivery{Mail: m, What: m.Kind.What(), Public: true, Retry: MailRetry,
		Again: "embargo run --from " + stage, Resend: "embargo run --only " + stage + " --force", Rerun: stage})
}

// Delivery is one mail and what its sender does about each outcome.
type Delivery struct {
	Mail Outgoing
	// What names the mail in what is said of it ("the announcement").
	What string
	// Public says the mail reaches a public list: the gate must allow it.
	Public bool
	// Retry is how a refusal for now is tried again, on the gate's clock;
	// zero: once, and Again says how to try again.
	Retry retry.Policy
	// ForceResendsAccepted: --force sends again a mail the server took
	// (notify --force); otherwise --force sends again only a mail whose
	// outcome is unknown.
	ForceResendsAccepted bool
	// Again is the command that tries again after a refusal for now;
	// Resend the one that sends the mail again when it may have gone.
	Again, Resend string
	// Rerun is the stage whose re-run with --force, alone (--only), sends
	// the mail again: the unknown outcome is then a *pipeline.RerunError
	// the command line turns into its next: hint. "" for a command of its
	// own.
	Rerun string
}

// DeliverOnce sends d's mail through the run's mail server (open) as the
// steps k record it, unless the journal says the server took it, or that
// it may have: a mail handed over whose outcome no step recorded (a run
// killed between the two, or the connection lost after the data) is never
// sent again blindly. Mail cannot be read back, so the journal is all
// there is to go on.
func DeliverOnce[T pipeline.Result, P MailRecord[T]](ctx context.Context, r *Run, open MailOpener, k MailSteps[T], d Delivery) error {
	m := d.Mail
	prevT, _ := pipeline.Load(r.Journal, k.Sent)
	prev := *P(&prevT).Mail()
	handed, _ := pipeline.Load(r.Journal, k.Handed)
	// Handed over in a try whose outcome no step recorded: the run was
	// killed between the two, and the server may have the mail.
	cutOff := handed.Try > prev.Try
	first, accepted := prev.FirstAccepted()
	// The journal knows the mail by its kind, whatever its Message-ID: one
	// the server took, or may have, under another Message-ID (announce.from
	// or the advisory's id or T0 edited since) is the same mail to the
	// same list.
	var earlier string
	switch {
	case accepted && first.MessageID != m.MessageID:
		earlier = first.MessageID
	case prev.Outcome == MailUnknown && prev.MessageID != m.MessageID:
		earlier = prev.MessageID
	case cutOff && handed.MessageID != m.MessageID:
		earlier = handed.MessageID
	}
	_, err := pipeline.Step(r.Run, k.Sent, func(res *T) error {
		rec := P(res).Mail()
		switch {
		case earlier != "" && !r.Mode.Force:
			*res = prevT
			rec.Text = fmt.Sprintf("%s went as %s, or may have; %s not sent", d.What, earlier, m.MessageID)
			return d.renamed(earlier, accepted && first.MessageID == earlier)
		case earlier != "":
			// Forced: the mail goes under its new Message-ID.
		case accepted && !(d.ForceResendsAccepted && r.Mode.Force):
			*res = prevT
			rec.Text = fmt.Sprintf("%s %s: accepted by the server at %s already (%s); nothing sent", d.What, m.MessageID, first.AcceptedAt.Format(time.RFC3339), first.Reply)
			return nil
		case (prev.Outcome == MailUnknown || cutOff) && !r.Mode.Force:
			*res = prevT
			rec.MessageID, rec.Try, rec.Outcome = m.MessageID, max(prev.Try, handed.Try), MailUnknown
			rec.Text = fmt.Sprintf("%s %s: may have been accepted; not sent again", d.What, m.MessageID)
			return d.unknown(handed, prev.Outcome == MailUnknown)
		}
		if d.Public {
			if err := r.Gate.Allow(fmt.Sprintf("mail the %s to %s", m.Kind, m.Kind.Key())); err != nil {
				return err
			}
		}
		c, err := MailClient(r, open)
		if err != nil {
			return err
		}
		try := max(prev.Try, handed.Try) + 1
		if _, err := pipeline.Step(r.Run, k.Handed, func(h *MailHanded) error {
			*h = MailHanded{MessageID: m.MessageID, Try: try, At: r.Now().UTC()}
			return nil
		}); err != nil {
			return err
		}
		err = d.send(ctx, r, c, try, rec)
		if accepted {
			rec.First = &first
		} else if f, ok := rec.FirstAccepted(); ok {
			rec.First = &f
		}
		return err
	})
	return err
}

// send hands the mail to the server, again while it refuses for now if
// d.Retry says so.
func (d Delivery) send(ctx context.Context, r *Run, c Mailer, try int, res *MailSent) error {
	m := d.Mail
	*res = MailSent{MessageID: m.MessageID, To: m.Envelope.To, Try: try}
	once := func(int) error {
		start := r.Now().UTC()
		reply, err := c.Send(ctx, m.Envelope, m.Bytes)
		if err != nil {
			return err
		}
		res.SentAt, res.AcceptedAt = start, r.Now().UTC()
		res.Code, res.Reply, res.QueueID, res.Outcome = reply.Code, reply.String(), reply.QueueID, MailAccepted
		return nil
	}
	var err error
	if d.Retry.Attempts > 0 {
		err = retry.Do(ctx, Clock(r.Gate), d.Retry, once)
	} else {
		err = once(1)
	}
	if err == nil {
		res.Text = fmt.Sprintf("%s %s accepted for %s at %s: %s", d.What, m.MessageID, strings.Join(m.Envelope.To, ", "), res.AcceptedAt.Format(time.RFC3339), res.Reply)
		return nil
	}
	var se *smtp.Error
	if errors.As(err, &se) && se.Outcome == smtp.Unknown {
		res.Outcome = MailUnknown
		res.Text = fmt.Sprintf("%s %s: the connection was lost after the whole mail was handed over", d.What, m.MessageID)
		return d.unknown(MailHanded{MessageID: m.MessageID, Try: try, At: r.Now().UTC()}, true)
	}
	res.Outcome = MailRefused
	if f, ok := MailFinding(r.Config, m.Kind, err); ok {
		if se.Outcome == smtp.Temporary {
			f.Fix += fmt.Sprintf("; the server refused for now: `%s` tries again", d.Again)
		}
		return &pipeline.FindingsError{Findings: []pipeline.Finding{f}}
	}
	return err
}

// unknown says the list may have the mail, how to tell, and how to send
// it again.
func (d Delivery) unknown(h MailHanded, lost bool) error {
	m := d.Mail
	how := "the connection to the mail server was lost after the whole mail was handed over"
	if !lost {
		how = fmt.Sprintf("a run was stopped after it handed the mail to the server at %s, before it recorded the server's answer", h.At.Format(time.RFC3339))
	}
	err := fmt.Errorf("%s to %s may have been accepted: %s. Look for Message-ID %s in the list's archive (or ask the list or the server's operators for it); if it is not there, `%s` sends it again, with the same Message-ID",
		d.What, strings.Join(m.Envelope.To, ", "), how, m.MessageID, d.Resend)
	if d.Rerun == "" {
		return err
	}
	return &pipeline.RerunError{From: d.Rerun, Force: true, Only: true, Err: err}
}

// renamed refuses to send again under a new Message-ID a mail the server
// took (accepted), or may have, under the earlier one.
func (d Delivery) renamed(earlier string, accepted bool) error {
	m := d.Mail
	how := "may have been accepted"
	if accepted {
		how = "was accepted"
	}
	err := fmt.Errorf("%s to %s %s under Message-ID %s, and the mail of this config has Message-ID %s: announce.from's domain, embargo.id or embargo.at changed since it went. Nothing was sent, so that the list does not get it twice; if it must have it again, `%s` sends it under %s",
		d.What, strings.Join(m.Envelope.To, ", "), how, earlier, m.MessageID, d.Resend, m.MessageID)
	if d.Rerun == "" {
		return err
	}
	return &pipeline.RerunError{From: d.Rerun, Force: true, Only: true, Err: err}
}
