package releasetest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	pgp "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/smtp"
)

// The mail of the fake worlds: the variables of [announce] and what they
// hold.
const (
	SMTPPasswordEnv = "EMBARGO_SMTP_PASSWORD"
	SMTPPassword    = "smtp-pass-3e9c1d7a5f"
	SigningKeyEnv   = "EMBARGO_SIGNING_KEY"
	PassphraseEnv   = "EMBARGO_SIGNING_PASSPHRASE"
	Passphrase      = "unit test passphrase 81f2"
)

// AnnounceConfig is AdvisoryConfig with [announce]: the announcement to
// one list, the notice to another.
func AnnounceConfig() *config.Config {
	cfg := AdvisoryConfig()
	cfg.GHSA = nil
	cfg.Description = "An out-of-bounds read.\n"
	cfg.Advisory.References = []string{"https://git.example/demo/issues/7"}
	cfg.Announce = &config.AnnounceSection{SMTP: "smtp.example.org:587", User: "security@demo.rs", PasswordEnv: SMTPPasswordEnv,
		From: "demo security <security@demo.rs>", To: []string{"announce@lists.example.org"}, Notice: []string{"oss-security@lists.example.org"},
		SigningKeyEnv: SigningKeyEnv, PassphraseEnv: PassphraseEnv}
	return cfg
}

// AnnounceEnv holds the secrets of AnnounceConfig: the SMTP password, the
// armored key and its passphrase.
func AnnounceEnv(t *testing.T) map[string]string {
	return map[string]string{SMTPPasswordEnv: SMTPPassword, SigningKeyEnv: SigningKey(t), PassphraseEnv: Passphrase}
}

var (
	keyOnce  sync.Once
	keyArmor string
	keyErr   error
)

// SigningKey is an armored Ed25519 secret key protected by Passphrase,
// made once per test binary.
func SigningKey(t *testing.T) string {
	t.Helper()
	keyOnce.Do(func() {
		cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return T0.Add(-30 * 24 * time.Hour) }}
		e, err := pgp.NewEntity("demo security", "", "security@demo.rs", cfg)
		if err != nil {
			keyErr = err
			return
		}
		if err := e.EncryptPrivateKeys([]byte(Passphrase), cfg); err != nil {
			keyErr = err
			return
		}
		var b bytes.Buffer
		w, err := armor.Encode(&b, pgp.PrivateKeyType, nil)
		if err == nil {
			err = e.SerializePrivateWithoutSigning(w, nil)
		}
		if err == nil {
			err = w.Close()
		}
		keyArmor, keyErr = b.String(), err
	})
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return keyArmor
}

// Mail is a mail server that takes each mail as its answers say, each
// session stamped with the clock's time.
type Mail struct {
	mu    sync.Mutex
	clock *pipeline.FakeClock
	// Answers are the outcomes of the next sends, in order: nil takes
	// the mail; an *smtp.Error refuses it, except that one with the
	// Unknown outcome takes it and loses the answer.
	Answers []error
	sent    []MailSent
	probes  []smtp.Envelope
	// ProbeErr is every probe's answer.
	ProbeErr error
	// Made are the options of each client made.
	Made []smtp.Options
}

// MailSent is one mail the server took.
type MailSent struct {
	At       time.Time
	Envelope smtp.Envelope
	Bytes    []byte
}

func NewMail(clock *pipeline.FakeClock) *Mail { return &Mail{clock: clock} }

// Opener is the fake as the stages' mail server.
func (m *Mail) Opener(opts smtp.Options) release.Mailer {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Made = append(m.Made, opts)
	return m
}

func (m *Mail) Probe(_ context.Context, env smtp.Envelope) (smtp.Probe, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.probes = append(m.probes, env)
	if m.ProbeErr != nil {
		return smtp.Probe{}, m.ProbeErr
	}
	return smtp.Probe{Recipients: env.To}, nil
}

func (m *Mail) Send(_ context.Context, env smtp.Envelope, msg []byte) (smtp.Reply, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var answer error
	if len(m.Answers) > 0 {
		answer, m.Answers = m.Answers[0], m.Answers[1:]
	}
	if e, ok := answer.(*smtp.Error); ok && e.Outcome != smtp.Unknown {
		return smtp.Reply{}, answer
	}
	m.sent = append(m.sent, MailSent{At: m.clock.Now(), Envelope: env, Bytes: bytes.Clone(msg)})
	if answer != nil {
		return smtp.Reply{}, answer
	}
	return smtp.ParseReply(250, "2.0.0 Ok: queued as Q"+string(rune('A'+len(m.sent)))), nil
}

// Sent are the mails the server took.
func (m *Mail) Sent() []MailSent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]MailSent(nil), m.sent...)
}

// Probes are the envelopes of the probes.
func (m *Mail) Probes() []smtp.Envelope {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]smtp.Envelope(nil), m.probes...)
}
