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
	"github.com/async-rs/embargo/stages/openpgp"
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
	Announcement MailKind = "announcement"
	// Notice is the short notice with the links, to announce.notice.
	Notice MailKind = "notice"
	// PreNotice is the distros pre-notice `embargo notify` sends before
	// T0, to announce.private.
	PreNotice MailKind = "distros pre-notice"
)

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
	for _, k := range []MailKind{Announcement, Notice} {
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
// every machine and every run (the advisory's id, the kind, T0 and the
// sender's domain), so that a mail sent twice is seen to be one.
func MessageID(cfg *config.Config, kind MailKind) string {
	return fmt.Sprintf("<%s.%s.%s@%s>", cfg.Embargo.ID, kind, cfg.T0().Format("20060102T150405Z"), cfg.Announce.FromDomain())
}

// ComposeMails are the release's mails, the announcement signed with key
// at at: one for each kind with recipients.
func ComposeMails(cfg *config.Config, m *templates.Model, text []byte, key *openpgp.Key, at time.Time) ([]Outgoing, error) {
	a := cfg.Announce
	subject, body := splitSubject(text)
	var out []Outgoing
	if len(a.To) > 0 {
		if key == nil {
			return nil, errors.New("no signing key for the announcement")
		}
		signed, err := key.ClearSign(body, at)
		if err != nil {
			return nil, fmt.Errorf("sign the announcement: %w", err)
		}
		out = append(out, outgoing(cfg, Announcement, subject, signed))
	}
	if len(a.Notice) > 0 {
		out = append(out, outgoing(cfg, Notice, subject, noticeBody(m)))
	}
	return out, nil
}

// splitSubject parses the rendered mail: its Subject line, then the body.
func splitSubject(text []byte) (string, []byte) {
	head, body, ok := bytes.Cut(text, []byte("\n\n"))
	if !ok {
		return "", text
	}
	var subject []string
	for _, l := range strings.Split(string(head), "\n") {
		subject = append(subject, strings.TrimSpace(strings.TrimPrefix(l, "Subject:")))
	}
	return strings.Join(subject, " "), body
}

// noticeBody is the notice: the title, the severity, the fixed versions
// and the links.
func noticeBody(m *templates.Model) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n%s (%s) is fixed in:\n", m.Title, m.ID, m.Package)
	for _, f := range m.Fixes {
		fmt.Fprintf(&b, "  %s %s\n", m.Package, f.Version)
	}
	if m.CVSS != "" {
		fmt.Fprintf(&b, "\nCVSS: %s\n", m.CVSS)
	} else if m.Severity != "" {
		fmt.Fprintf(&b, "\nSeverity: %s\n", m.Severity)
	}
	if len(m.Aliases) > 0 {
		fmt.Fprintf(&b, "Aliases: %s\n", strings.Join(m.Aliases, ", "))
	}
	if m.URL != "" {
		fmt.Fprintf(&b, "\nThe advisory: %s\n", m.URL)
	}
	for _, r := range m.References {
		fmt.Fprintf(&b, "  %s\n", r)
	}
	fmt.Fprintf(&b, "\n--\n%s\n", m.Handler)
	return []byte(b.String())
}

func outgoing(cfg *config.Config, kind MailKind, subject string, body []byte) Outgoing {
	a := cfg.Announce
	var to []string
	for _, r := range config.Recipients(kind.Recipients(a)) {
		to = append(to, r.Addr)
	}
	id := MessageID(cfg, kind)
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", a.From)
	header("To", strings.Join(kind.Recipients(a), ", "))
	header("Subject", subject)
	header("Date", cfg.T0().Format(time.RFC1123Z))
	header("Message-ID", id)
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	b.Write(bytes.ReplaceAll(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n")))
	return Outgoing{Kind: kind, MessageID: id, Envelope: smtp.Envelope{From: a.FromAddress(), To: to}, Bytes: b.Bytes()}
}

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
	}
	return pipeline.Finding{Subject: kind.Key(), Msg: e.Error(),
		Fix: fmt.Sprintf("correct %s in %s, or ask the list's owners why it refuses", kind.Key(), cfg.Path)}, true
}
