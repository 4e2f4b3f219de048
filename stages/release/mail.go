package release

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/mail"
	"github.com/async-rs/embargo/stages/openpgp"
	"github.com/async-rs/embargo/stages/retry"
	"github.com/async-rs/embargo/stages/smtp"
	"github.com/async-rs/embargo/templates"
)

// Mailer is a mail server as the announce stage and preflight use it
// (stages/smtp): a session up to RCPT TO that sends nothing, and a send.
type Mailer interface {
	Probe(ctx context.Context, env smtp.Envelope) (smtp.Probe, error)
	Send(ctx context.Context, env smtp.Envelope, msg []byte) (smtp.Reply, error)
}

// MailOpener is the mail server of the run's targets (smtp.New).
type MailOpener func(opts smtp.Options) Mailer

// Mail is the mail server the release's mails go through, its login and
// the key that signs the announcement (zero without [announce]).
type Mail struct {
	Addr           string
	User, Password string
	// PasswordEnv is the variable of the config the password was read
	// from ("" for a sandbox's server).
	PasswordEnv string
	// TLS trusts a sandbox server's certificate; nil: the system's roots.
	TLS *tls.Config
	// SigningKey and Passphrase sign the announcement: the armored secret
	// key and its passphrase, from the variables of the config, or a
	// sandbox key of the rehearsal's own.
	SigningKey, Passphrase string
	// Sandbox is a rehearsal's server and key.
	Sandbox bool
	// Unreachable, when set, says why no mail server may be used.
	Unreachable string
}

// realMail is the mail server and key [announce] names, with the values
// of the variables it names.
func realMail(a *config.AnnounceSection, token func(string) string) Mail {
	return Mail{Addr: a.SMTP, User: a.User, Password: token(a.PasswordEnv), PasswordEnv: a.PasswordEnv,
		SigningKey: token(a.SigningKeyEnv), Passphrase: token(a.PassphraseEnv)}
}

// MailClient opens the run's mail server.
func MailClient(r *Run, open MailOpener) (Mailer, error) {
	m := r.Targets.Mail
	if m.Unreachable != "" {
		return nil, errors.New(m.Unreachable)
	}
	if a := r.Config.Announce; a.PasswordEnv != "" && m.Password == "" && !m.Sandbox {
		return nil, &pipeline.FindingsError{Findings: []pipeline.Finding{{Subject: "announce.password_env",
			Msg: fmt.Sprintf("environment variable %s is not set: the mail server's login needs it", a.PasswordEnv),
			Fix: fmt.Sprintf("export %s in the environment of the run (the value is never printed)", a.PasswordEnv)}}}
	}
	return open(smtp.Options{Addr: m.Addr, User: m.User, Password: m.Password, TLS: m.TLS}), nil
}

// SigningKey reads the key that signs the announcement, valid at at.
// Its errors name the config key and never quote the key.
func SigningKey(r *Run, at time.Time) (*openpgp.Key, error) {
	a, m := r.Config.Announce, r.Targets.Mail
	finding := func(subject, msg, fix string) error {
		return &pipeline.FindingsError{Findings: []pipeline.Finding{{Subject: subject, Msg: msg, Fix: fix}}}
	}
	if m.SigningKey == "" {
		return nil, finding("announce.signing_key_env", fmt.Sprintf("environment variable %s is not set: the announcement is signed with the key it holds", a.SigningKeyEnv),
			fmt.Sprintf("export %s with the armored secret key (gpg --armor --export-secret-keys KEYID); the value is never printed", a.SigningKeyEnv))
	}
	k, err := openpgp.ReadKey(m.SigningKey, m.Passphrase, at)
	switch {
	case err == nil:
		return k, nil
	case errors.Is(err, openpgp.ErrPassphrase) && a.PassphraseEnv == "":
		return nil, finding("announce.passphrase_env", fmt.Sprintf("the key in %s: %v", a.SigningKeyEnv, err),
			`name the variable holding its passphrase, e.g. passphrase_env = "EMBARGO_SIGNING_PASSPHRASE"`)
	case errors.Is(err, openpgp.ErrPassphrase):
		return nil, finding("announce.passphrase_env", fmt.Sprintf("the key in %s: %v", a.SigningKeyEnv, err),
			fmt.Sprintf("put the key's passphrase in %s", a.PassphraseEnv))
	}
	return nil, finding("announce.signing_key_env", fmt.Sprintf("the key in %s %v", a.SigningKeyEnv, err),
		fmt.Sprintf("put in %s the armored secret key that signs the announcement, valid at T0", a.SigningKeyEnv))
}

// SigningKeyFor is the key that signs the run's announcement, or nil
// when it mails none.
func SigningKeyFor(r *Run, at time.Time) (*openpgp.Key, error) {
	if a := r.Config.Announce; a == nil || len(a.To) == 0 {
		return nil, nil
	}
	return SigningKey(r, at)
}

// MailKind is one of the mails of the release.
type MailKind string

const (
	// Announcement is the full advisory, clearsigned, to announce.to.
	Announcement = MailKind(mail.Announcement)
	// NoticeMail is the short notice with the links, to announce.notice.
	NoticeMail = MailKind(mail.Notice)
	// PreNotice is the distros pre-notice `embargo notify` sends before
	// T0, to announce.private.
	PreNotice = MailKind(mail.PreNotice)
)

// What names the kind in what is said of a mail of it.
func (k MailKind) What() string {
	switch k {
	case Announcement:
		return "the announcement"
	case PreNotice:
		return "the distros pre-notice"
	}
	return "the notice"
}

// Key is the config key of the kind's recipients.
func (k MailKind) Key() string {
	switch k {
	case Announcement:
		return "announce.to"
	case PreNotice:
		return "announce.private"
	}
	return "announce.notice"
}

// MailRetry is how a mail at T0 the server did not take for now (a 4xx,
// a refused recipient, a connection lost before the data) is tried again,
// on the gate's clock, within the window.
var MailRetry = retry.Policy{Attempts: 6, First: 15 * time.Second, Max: 5 * time.Minute}

// PlanMail is plan's line for a mail of kind k: its recipients, its
// Message-ID and the server; none when [announce] names no recipient.
func PlanMail(cfg *config.Config, k MailKind) []string {
	a := cfg.Announce
	if a == nil || len(k.Recipients(a)) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%s to %s (%s), through %s", k, strings.Join(k.Recipients(a), ", "), MessageID(cfg, k), a.SMTP)}
}

// Recipients are the kind's recipients in the config.
func (k MailKind) Recipients(a *config.AnnounceSection) []string {
	switch k {
	case Announcement:
		return a.To
	case PreNotice:
		return a.Private
	}
	return a.Notice
}

// Outgoing is one mail, ready to hand to the server.
type Outgoing struct {
	Kind      MailKind
	MessageID string
	Envelope  smtp.Envelope
	Bytes     []byte
}

// Envelope is the envelope of the release's mail of kind.
type Envelope struct {
	Kind     MailKind
	Envelope smtp.Envelope
}

// Envelopes are the envelopes of the release's mails at T0, for the
// probe: one for each kind with recipients.
func Envelopes(cfg *config.Config) []Envelope {
	var out []Envelope
	for _, k := range []MailKind{Announcement, NoticeMail} {
		var to []string
		for _, r := range config.Recipients(k.Recipients(cfg.Announce)) {
			to = append(to, r.Addr)
		}
		if len(to) > 0 {
			out = append(out, Envelope{k, smtp.Envelope{From: cfg.Announce.FromAddress(), To: to}})
		}
	}
	return out
}

// MessageID is the Message-ID of the release's mail of kind: the same on
// every machine and every run (the advisory's id, T0, the kind and the
// sender's domain, as stages/mail makes it), so that a mail sent twice is
// seen to be one, and the journal finds a mail's answer by it.
func MessageID(cfg *config.Config, kind MailKind) string {
	return mail.MessageID(cfg.Embargo.ID, cfg.T0(), mail.Kind(kind), cfg.Announce.FromDomain())
}

// ComposeMails are the release's mails, one for each kind with
// recipients (ComposeMail), as preflight checks them all.
func ComposeMails(cfg *config.Config, m *templates.Model, text []byte, key *openpgp.Key) ([]Outgoing, error) {
	var out []Outgoing
	for _, k := range []MailKind{Announcement, NoticeMail} {
		if len(k.Recipients(cfg.Announce)) == 0 {
			continue
		}
		o, err := ComposeMail(cfg, k, m, text, key)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// ComposeMail is the release's mail of kind, composed by stages/mail: the
// announcement, the advisory's mail text clearsigned with key at T0 in
// the body and the signed copy attached, or the notice with the excerpt,
// the versions and the links (key unused). Both are dated T0, so that
// composing them again gives the same bytes.
func ComposeMail(cfg *config.Config, kind MailKind, m *templates.Model, text []byte, key *openpgp.Key) (Outgoing, error) {
	adv := MailAdvisory(cfg, m, text)
	if kind == Announcement {
		if key == nil {
			return Outgoing{}, errors.New("no signing key for the announcement")
		}
		msg, err := mail.Announce(adv, header(cfg, Announcement), cfg.T0(), key)
		if err != nil {
			return Outgoing{}, err
		}
		return MailOut(Announcement, msg), nil
	}
	msg, err := mail.Notify(adv, header(cfg, NoticeMail), cfg.T0())
	if err != nil {
		return Outgoing{}, &pipeline.FindingsError{Findings: []pipeline.Finding{{Subject: "announce.notice", Msg: err.Error(),
			Fix: fmt.Sprintf("the notice links to the post (blog.url), the GitHub advisory ([ghsa]) or advisory.references: give %s one of them", cfg.Path)}}}
	}
	return MailOut(NoticeMail, msg), nil
}

// MailAdvisory is what every mail of the advisory says, the
// announcement's, the notice's and the distros pre-notice's alike: text is
// the advisory's rendered mail text (templates' Outputs.Mail), whose
// Subject line the mails leave out.
func MailAdvisory(cfg *config.Config, m *templates.Model, text []byte) mail.Advisory {
	_, body, ok := bytes.Cut(text, []byte("\n\n"))
	if !ok {
		body = text
	}
	adv := mail.Advisory{ID: m.ID, Project: m.Package, Title: m.Title, Severity: m.Severity, Text: string(body),
		Excerpt: excerpt(m), Affected: m.Affected(), Patched: m.FixVersions()}
	if m.CVSS != "" {
		adv.Severity = m.CVSS
	}
	for _, alias := range m.Aliases {
		if strings.HasPrefix(alias, "CVE-") && adv.CVE == "" {
			adv.CVE = alias
		}
	}
	if m.URL != "" {
		adv.Links = append(adv.Links, m.URL)
	}
	if g := cfg.GHSA; g != nil && strings.TrimRight(g.API, "/") == config.DefaultGHSAAPI {
		adv.Links = append(adv.Links, fmt.Sprintf("https://github.com/%s/security/advisories/%s", g.Repo, g.ID))
	}
	if u := m.RustSecURL(); u != "" {
		adv.Links = append(adv.Links, u)
	}
	adv.Links = append(adv.Links, m.References...)
	return adv
}

// excerpt is what the notice quotes: the advisory in a sentence, and the
// first paragraph of its description.
func excerpt(m *templates.Model) string {
	first, _, _ := strings.Cut(strings.TrimSpace(m.Description), "\n\n")
	if first == "" {
		return m.Summary()
	}
	return m.Summary() + "\n\n" + first
}

// header is the sender and the recipients of the mail of kind, dated T0.
func header(cfg *config.Config, kind MailKind) mail.Header {
	return mail.Header{From: cfg.Announce.From, To: kind.Recipients(cfg.Announce), Date: cfg.T0()}
}

// MailOut is m, composed by stages/mail, as the mail of kind to hand over.
func MailOut(kind MailKind, m mail.Message) Outgoing {
	return Outgoing{Kind: kind, MessageID: m.MessageID, Envelope: smtp.Envelope{From: m.From, To: m.To}, Bytes: m.Data}
}

// MailHanded is a mail about to be handed to the server, the
// announcement's, the notice's or the pre-notice's, recorded before the
// session opens: a run or a notify killed before the server's answer is
// recorded leaves it, and the next one knows the server may have the mail.
type MailHanded struct {
	MessageID string    `json:"message_id"`
	Try       int       `json:"try"`
	At        time.Time `json:"at"`
}

func (h MailHanded) Summary() string { return "handing " + h.MessageID + " to the server" }

// The outcomes of a mail's send, as its step records them.
const (
	MailAccepted = "accepted"
	MailRefused  = "refused"
	// MailUnknown: the whole mail was handed over and no answer came.
	MailUnknown = "unknown"
)

// MailFinding is a refusal of the mail server as a finding naming the
// config key to fix, for the mail of kind; ok is false for errors that
// are not the server's.
func MailFinding(cfg *config.Config, kind MailKind, err error) (pipeline.Finding, bool) {
	var e *smtp.Error
	if !errors.As(err, &e) {
		return pipeline.Finding{}, false
	}
	a := cfg.Announce
	switch e.Step {
	case smtp.StepConnect, smtp.StepTLS:
		return pipeline.Finding{Subject: "announce.smtp", Msg: e.Error(),
			Fix: fmt.Sprintf("check announce.smtp in %s: a submission port with STARTTLS (587) or implicit TLS (465)", cfg.Path)}, true
	case smtp.StepAuth:
		return pipeline.Finding{Subject: "announce.password_env", Msg: fmt.Sprintf("the server refused the login of %s with the password in %s: %s", a.User, a.PasswordEnv, e.Error()),
			Fix: fmt.Sprintf("put the password of %s in %s (or correct announce.user)", a.User, a.PasswordEnv)}, true
	case smtp.StepMail:
		return pipeline.Finding{Subject: "announce.from", Msg: e.Error(),
			Fix: fmt.Sprintf("send from an address %s may send as (announce.from in %s)", a.User, cfg.Path)}, true
	case smtp.StepData, smtp.StepMessage:
		// The server took the sender and every recipient and refused
		// what it was sent: the recipients are not what to correct.
		what := kind.What()
		msg := fmt.Sprintf("the server took the sender and the recipients of %s and refused the message itself (its size or its content): %s", what, e.Reply)
		if e.Reply.Code == 0 {
			msg = fmt.Sprintf("the server took the sender and the recipients of %s, and the message did not reach it: %s", what, e.Error())
		}
		// RFC 3463: x.3.4 a message too big for the system, x.2.3 one
		// over the mailbox's limit; 552 is the exceeded storage
		// allocation RFC 5321 gives a message over the server's SIZE.
		tooBig := e.Reply.Code == 552 || strings.HasSuffix(e.Reply.Enhanced, ".3.4") || strings.HasSuffix(e.Reply.Enhanced, ".2.3")
		switch {
		case tooBig && kind == PreNotice:
			return pipeline.Finding{Subject: "announce.smtp", Msg: msg,
				Fix: fmt.Sprintf("the pre-notice carries every held commit as a patch: ask the operators of %s to raise the size limit for %s, or send through a server that takes it (announce.smtp in %s)", a.SMTP, a.FromAddress(), cfg.Path)}, true
		case tooBig:
			return pipeline.Finding{Subject: "announce.smtp", Msg: msg,
				Fix: fmt.Sprintf("shorten the advisory's text (advisory.description), or ask the operators of %s to raise the size limit for %s (announce.smtp in %s)", a.SMTP, a.FromAddress(), cfg.Path)}, true
		}
		return pipeline.Finding{Subject: "announce.smtp", Msg: msg,
			Fix: fmt.Sprintf("ask the operators of %s why its policy refuses the message, quoting its reply; correcting %s would not help", a.SMTP, kind.Key())}, true
	}
	return pipeline.Finding{Subject: kind.Key(), Msg: e.Error(),
		Fix: fmt.Sprintf("correct %s in %s, or ask the list's owners why it refuses", kind.Key(), cfg.Path)}, true
}
