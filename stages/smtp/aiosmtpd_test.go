package smtp_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/internal/mailtest"
	"github.com/async-rs/embargo/stages/smtp"
)

// ctx bounds a session with aiosmtpd: a server that stops answering fails
// the test in seconds, not after the client's minute per reply.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// Through a real SMTP server nobody here wrote (Debian's aiosmtpd, which
// requires STARTTLS before mail): the message is delivered whole, a line
// that starts with a dot included, and a probe delivers nothing.
func TestAiosmtpdDeliversWhatSendSends(t *testing.T) {
	a := mailtest.StartAiosmtpd(t, mailtest.AiosmtpdOptions{STARTTLS: true})
	c := smtp.New(smtp.Options{Addr: a.Addr, TLS: a.TLS})
	p, err := c.Probe(ctx(t), env)
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, a.Log())
	}
	if p.TLS == "" {
		t.Errorf("probe = %+v; aiosmtpd requires STARTTLS", p)
	}
	if got := a.Messages(t); len(got) != 0 {
		t.Fatalf("a probe delivered %d messages", len(got))
	}

	reply, err := c.Send(ctx(t), env, msg)
	if err != nil {
		t.Fatalf("send: %v\n%s", err, a.Log())
	}
	if reply.Code != 250 {
		t.Errorf("reply %s; want 250", reply)
	}
	got := a.Messages(t)
	if len(got) != 1 {
		t.Fatalf("aiosmtpd delivered %d messages, want 1", len(got))
	}
	m := string(got[0])
	for _, want := range []string{"X-MailFrom: " + env.From, "X-RcptTo: " + strings.Join(env.To, ", "), "\n.a line that starts with a dot\n", "Subject: Security advisory for async-std (CVE-2026-12345)"} {
		if !strings.Contains(m, want) {
			t.Errorf("the delivered message has no %q:\n%s", want, m)
		}
	}
}

// The login works with another implementation than the sandbox's: AUTH
// PLAIN, and AUTH LOGIN where PLAIN is not offered (aiosmtpd prompts
// "User Name" and "Password" in words of its own); a wrong password is
// refused for good and named nowhere.
func TestAiosmtpdTakesTheLogin(t *testing.T) {
	for _, onlyLogin := range []bool{false, true} {
		a := mailtest.StartAiosmtpd(t, mailtest.AiosmtpdOptions{STARTTLS: true, User: user, Password: password, OnlyLogin: onlyLogin})
		want := map[bool]string{false: "PLAIN", true: "LOGIN"}[onlyLogin]
		p, err := smtp.New(smtp.Options{Addr: a.Addr, User: user, Password: password, TLS: a.TLS}).Probe(ctx(t), env)
		if err != nil {
			t.Fatalf("probe with %s: %v\n%s", want, err, a.Log())
		}
		if p.Auth != want {
			t.Errorf("logged in with %q, want %s", p.Auth, want)
		}
		if _, err := smtp.New(smtp.Options{Addr: a.Addr, User: user, Password: password, TLS: a.TLS}).Send(ctx(t), env, msg); err != nil {
			t.Fatalf("send with %s: %v\n%s", want, err, a.Log())
		}
		if got := a.Messages(t); len(got) != 1 || !bytes.Contains(got[0], []byte("the advisory")) {
			t.Errorf("with %s aiosmtpd delivered %d messages, want 1", want, len(got))
		}

		_, err = smtp.New(smtp.Options{Addr: a.Addr, User: user, Password: "wrong " + password, TLS: a.TLS}).Probe(ctx(t), env)
		e := asError(t, err)
		if e.Step != smtp.StepAuth || e.Outcome != smtp.Permanent || e.Reply.Code != 535 {
			t.Errorf("a wrong password with %s: %+v; want a permanent 535 at AUTH", want, e)
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("%q names the password", err)
		}
	}
}
