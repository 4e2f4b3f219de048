package smtp_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/async-rs/embargo/sandbox/mailserver"
	"github.com/async-rs/embargo/stages/retry"
	"github.com/async-rs/embargo/stages/smtp"
)

const (
	user     = "security@async.rs"
	password = "correct horse battery staple"
)

var (
	env = smtp.Envelope{From: "security@async.rs", To: []string{"announce@lists.example.org", "oss-security@lists.example.org"}}
	msg = []byte("From: async-std security <security@async.rs>\r\n" +
		"To: announce@lists.example.org, oss-security@lists.example.org\r\n" +
		"Subject: Security advisory for async-std (CVE-2026-12345)\r\n" +
		"Message-ID: <ASYNC-STD-SA-2026-001.20261201T140000Z.announcement@async.rs>\r\n" +
		"\r\n" +
		".a line that starts with a dot\r\n" +
		"the advisory\r\n")
)

func start(t *testing.T, opts mailserver.Options) *mailserver.Server {
	t.Helper()
	srv, err := mailserver.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func client(srv *mailserver.Server) *smtp.Client {
	return smtp.New(smtp.Options{Addr: srv.Addr(), User: user, Password: password, TLS: srv.ClientTLS()})
}

// commands lists the server's events as "COMMAND arg code".
func commands(srv *mailserver.Server) []string {
	var out []string
	for _, e := range srv.Events() {
		out = append(out, strings.TrimSpace(e.Command+" "+e.Arg)+" "+strconv.Itoa(e.Code))
	}
	return out
}

func asError(t *testing.T, err error) *smtp.Error {
	t.Helper()
	var e *smtp.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *smtp.Error", err, err)
	}
	return e
}

// The announcement goes to the server over STARTTLS, after the login, to
// every recipient in one transaction, byte for byte; what Send returns is
// the server's acceptance with its queue id, which the journal records.
func TestSendStartsTLSLogsInAndReturnsTheQueueID(t *testing.T) {
	srv := start(t, mailserver.Options{User: user, Password: password, TLS: true})
	reply, err := client(srv).Send(context.Background(), env, msg)
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 {
		t.Fatalf("the server holds %d messages, want 1", len(got))
	}
	m := got[0]
	if !m.TLS || m.User != user || m.From != env.From || !slices.Equal(m.To, env.To) {
		t.Errorf("the message came with TLS %v, login %q, from %q to %q; want TLS, %q, %q to %q", m.TLS, m.User, m.From, m.To, user, env.From, env.To)
	}
	if !bytes.Equal(m.Data, msg) {
		t.Errorf("the server got\n%q\nwant\n%q", m.Data, msg)
	}
	if reply.Code != 250 || reply.Enhanced != "2.0.0" || reply.QueueID == "" || reply.QueueID != m.QueueID {
		t.Errorf("Send returned %+v; want 250 2.0.0 with the queue id %s", reply, m.QueueID)
	}
}

// Preflight's probe proves the server, the login and every recipient
// without sending anything: the session ends with RSET before any DATA.
func TestProbeGoesUpToRCPTAndSendsNothing(t *testing.T) {
	srv := start(t, mailserver.Options{User: user, Password: password, TLS: true})
	p, err := client(srv).Probe(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if p.TLS == "" || p.Auth != "PLAIN" || !slices.Equal(p.Recipients, env.To) {
		t.Errorf("probe = %+v; want TLS, PLAIN and both recipients", p)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("a probe left %d messages on the server", n)
	}
	want := []string{"EHLO localhost 250", "EHLO localhost 250", "AUTH PLAIN " + user + " 235", "MAIL " + env.From + " 250",
		"RCPT " + env.To[0] + " 250", "RCPT " + env.To[1] + " 250", "RSET 250"}
	if got := commands(srv); !slices.Equal(got, want) {
		t.Errorf("the server saw\n%q\nwant\n%q", got, want)
	}
}

// A login refused is a permanent failure at AUTH that names the user and
// never the password; no MAIL follows it.
func TestARefusedLoginIsPermanentAndNamesNoPassword(t *testing.T) {
	srv := start(t, mailserver.Options{User: user, Password: "another", TLS: true})
	for name, call := range map[string]func() error{
		"probe": func() error { _, err := client(srv).Probe(context.Background(), env); return err },
		"send":  func() error { _, err := client(srv).Send(context.Background(), env, msg); return err },
	} {
		err := call()
		e := asError(t, err)
		if e.Step != smtp.StepAuth || e.Outcome != smtp.Permanent || e.Reply.Code != 535 || retry.Retryable(err) {
			t.Errorf("%s: %+v; want a permanent 535 at AUTH", name, e)
		}
		if strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), user) {
			t.Errorf("%s: %q names the password or not the user", name, err)
		}
	}
	for _, c := range commands(srv) {
		if strings.HasPrefix(c, "MAIL") {
			t.Errorf("the server saw %s after a refused login", c)
		}
	}
}

// Neither the password nor the advisory crosses a network in clear: a
// server on another address of this machine that offers no STARTTLS gets
// no AUTH and no MAIL, and the error says why.
func TestNothingInClearToAHostOtherThanTheLoopback(t *testing.T) {
	ip := nonLoopback(t)
	srv := start(t, mailserver.Options{User: user, Password: password, Listen: net.JoinHostPort(ip, "0")})
	_, err := client(srv).Send(context.Background(), env, msg)
	e := asError(t, err)
	if !errors.Is(err, smtp.ErrCleartext) || e.Step != smtp.StepTLS || e.Outcome != smtp.Permanent {
		t.Errorf("Send in clear to %s: %v (%+v); want ErrCleartext, permanent, at STARTTLS", srv.Addr(), err, e)
	}
	if got := commands(srv); !slices.Equal(got, []string{"EHLO localhost 250"}) {
		t.Errorf("the server saw %q; want the greeting only", got)
	}

	// The same host with STARTTLS takes the login and the message.
	tls := start(t, mailserver.Options{User: user, Password: password, TLS: true, Listen: net.JoinHostPort(ip, "0")})
	if _, err := client(tls).Send(context.Background(), env, msg); err != nil {
		t.Fatalf("Send over STARTTLS to %s: %v", tls.Addr(), err)
	}
	if m := tls.Messages(); len(m) != 1 || !m[0].TLS {
		t.Errorf("the server on %s holds %+v; want one message, over TLS", ip, m)
	}
}

// A server that speaks TLS from the first byte (port 465) is spoken to so.
func TestImplicitTLS(t *testing.T) {
	srv := start(t, mailserver.Options{User: user, Password: password, ImplicitTLS: true})
	c := smtp.New(smtp.Options{Addr: srv.Addr(), ImplicitTLS: true, User: user, Password: password, TLS: srv.ClientTLS()})
	if _, err := c.Send(context.Background(), env, msg); err != nil {
		t.Fatal(err)
	}
	if m := srv.Messages(); len(m) != 1 || !m[0].TLS {
		t.Errorf("the server holds %+v; want one message, over TLS", m)
	}
}

// A certificate the client does not trust ends the session before the
// login, for good: it is the configuration's to fix.
func TestAnUntrustedCertificateIsPermanent(t *testing.T) {
	srv := start(t, mailserver.Options{User: user, Password: password, TLS: true})
	_, err := smtp.New(smtp.Options{Addr: srv.Addr(), User: user, Password: password}).Send(context.Background(), env, msg)
	if e := asError(t, err); e.Step != smtp.StepTLS || e.Outcome != smtp.Permanent {
		t.Errorf("Send with an untrusted certificate: %+v; want permanent, at STARTTLS", e)
	}
	for _, c := range commands(srv) {
		if strings.HasPrefix(c, "AUTH") || strings.HasPrefix(c, "MAIL") {
			t.Errorf("the server saw %s", c)
		}
	}
}

func nonLoopback(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Skip("this machine has no IPv4 address besides the loopback to serve on")
	return ""
}
