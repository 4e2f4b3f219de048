// Package smtp sends the announcement's mails through the project's
// submission server, and proves before T0 that it would (Probe): the
// server, the login and every recipient, with nothing sent. It never sends
// the password or a message in clear to a host other than this machine's
// loopback, and it returns the server's reply that accepted a message (its
// queue id, when it names one), since SMTP cannot be asked later what it
// took. A failure is an *Error whose Outcome says what the caller may do:
// try again, fix something, or look before sending again.
//
// It is built on net/smtp, which is frozen but whole for a client and, unlike
// go-smtp's client, can start TLS on a session already open (so a loopback
// server without STARTTLS still works) and lets the reply to a message be
// read in full (its Text is exported).
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	netsmtp "net/smtp"
	"time"
)

// Options say how to reach the server.
type Options struct {
	// Addr is the server, host:port: a submission port with STARTTLS
	// (587), or implicit TLS (465).
	Addr string
	// ImplicitTLS speaks TLS from the first byte instead of STARTTLS; New
	// sets it when Addr's port is 465.
	ImplicitTLS bool
	// User and Password are the login (AUTH PLAIN, else LOGIN); no User:
	// no login. The password is sent only over TLS or to the loopback,
	// and never appears in an error.
	User, Password string
	// TLS is the TLS configuration to start from (RootCAs for a private
	// CA, or the sandbox's certificate); the server's name is Addr's host.
	TLS *tls.Config
	// LocalName is the name given in EHLO; "localhost" by default.
	LocalName string
	// Timeout bounds the connection and each command's reply; 1 minute by
	// default. The reply to a message's data has 10 minutes, as RFC 5321
	// (4.5.3.2.6) asks of a client: a server may scan it first, and a
	// wait cut short there leaves the outcome unknown.
	Timeout time.Duration
}

// finalReply is how long the reply to a message's data may take.
const finalReply = 10 * time.Minute

// Client sends through one server. Each call opens a session of its own.
type Client struct{ opts Options }

// New makes a client of the server opts names.
func New(opts Options) *Client {
	if opts.LocalName == "" {
		opts.LocalName = "localhost"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	if _, port, err := net.SplitHostPort(opts.Addr); err == nil && port == "465" {
		opts.ImplicitTLS = true
	}
	return &Client{opts: opts}
}

// Envelope is who a message is from and to, as SMTP carries it (MAIL FROM
// and RCPT TO), apart from its headers.
type Envelope struct {
	From string   // an address: security@async.rs
	To   []string // addresses
}

// Session is what a session learned of the server.
type Session struct {
	// TLS is the TLS version the session ran on ("TLS 1.3"); "" when it
	// ran in clear, which only a loopback server is allowed.
	TLS string
	// Auth is the login's mechanism ("PLAIN", "LOGIN"); "" without one.
	Auth string
}

// session is an open SMTP session.
type session struct {
	addr    string
	timeout time.Duration
	raw     net.Conn
	c       *netsmtp.Client
	info    Session
	stop    func() bool
	ctx     context.Context
}

// open connects, starts TLS and logs in: the part every session shares.
func (c *Client) open(ctx context.Context) (*session, error) {
	o := c.opts
	s := &session{addr: o.Addr, timeout: o.Timeout, ctx: ctx}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	conf, err := s.dial(o)
	if err != nil {
		return nil, err
	}
	if err := s.startTLS(o, conf); err != nil {
		return nil, err
	}
	if o.User != "" {
		if err := s.login(o.User, o.Password); err != nil {
			return nil, err
		}
	}
	ok = true
	return s, nil
}

// dial connects to the server, speaks TLS from the first byte when the
// port is implicit TLS, and greets it (EHLO); it returns the TLS
// configuration the session starts TLS with.
func (s *session) dial(o Options) (*tls.Config, error) {
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, s.classify(StepConnect, Permanent, err)
	}
	d := net.Dialer{Timeout: o.Timeout}
	raw, err := d.DialContext(s.ctx, "tcp", o.Addr)
	if err != nil {
		return nil, s.classify(StepConnect, Temporary, err)
	}
	s.raw = raw
	// A context that ends closes the connection: whatever waits on it
	// returns, and the step it was at says what that means.
	s.stop = context.AfterFunc(s.ctx, func() { raw.Close() })
	conf := o.TLS.Clone()
	if conf == nil {
		conf = &tls.Config{}
	}
	if conf.ServerName == "" {
		conf.ServerName = host
	}
	if conf.MinVersion == 0 {
		conf.MinVersion = tls.VersionTLS12
	}
	conn := raw
	s.deadline(o.Timeout)
	if o.ImplicitTLS {
		tc := tls.Client(raw, conf)
		if err := tc.HandshakeContext(s.ctx); err != nil {
			return nil, s.classify(StepTLS, tlsOutcome(err), err)
		}
		conn = tc
	}
	if s.c, err = netsmtp.NewClient(conn, host); err != nil {
		return nil, s.classify(StepConnect, Temporary, err)
	}
	if err := s.c.Hello(o.LocalName); err != nil {
		return nil, s.classify(StepConnect, Temporary, err)
	}
	return conf, nil
}

// startTLS starts TLS when the server offers STARTTLS, unless the session
// already speaks it, and stops a session left in clear with a host other
// than this machine's loopback.
func (s *session) startTLS(o Options, conf *tls.Config) error {
	if !o.ImplicitTLS {
		if has, _ := s.c.Extension("STARTTLS"); has {
			s.deadline(o.Timeout)
			if err := s.c.StartTLS(conf); err != nil {
				return s.classify(StepTLS, tlsOutcome(err), err)
			}
		}
	}
	if st, isTLS := s.c.TLSConnectionState(); isTLS {
		s.info.TLS = tls.VersionName(st.Version)
	} else if !loopback(s.raw.RemoteAddr()) {
		return s.classify(StepTLS, Permanent, ErrCleartext)
	}
	return nil
}

// login logs in with PLAIN, or LOGIN when the server offers only that.
func (s *session) login(user, password string) error {
	has, offered := s.c.Extension("AUTH")
	if !has {
		return s.classify(StepAuth, Permanent, errors.New("the server offers no AUTH, and a user is configured: give the submission port, where the server takes a login"))
	}
	var a netsmtp.Auth
	switch {
	case hasWord(offered, "PLAIN"):
		a, s.info.Auth = plainAuth{user, password}, "PLAIN"
	case hasWord(offered, "LOGIN"):
		a, s.info.Auth = &loginAuth{user: user, password: password}, "LOGIN"
	default:
		return s.classify(StepAuth, Permanent, errors.New("the server offers AUTH "+offered+", and neither PLAIN nor LOGIN"))
	}
	s.deadline(s.timeout)
	if err := s.c.Auth(a); err != nil {
		if r, ok := replyOf(err); ok {
			// A refused login is the configuration's to put right,
			// whatever the code: a 454 that says "try later" is the
			// one exception RFC 4954 makes.
			outcome := Permanent
			if r.Code == 454 {
				outcome = Temporary
			}
			return &Error{Addr: s.addr, Step: StepAuth, Outcome: outcome, Reply: r, Err: errors.New("the login as " + user + " was refused")}
		}
		return s.classify(StepAuth, Temporary, err)
	}
	return nil
}

// deadline bounds what the session waits for next: d from now, or the
// context's deadline when that comes first, so that a server that goes
// silent ends the wait when the caller's time is up, not after d.
func (s *session) deadline(d time.Duration) {
	t := time.Now().Add(d)
	if end, ok := s.ctx.Deadline(); ok && end.Before(t) {
		t = end
	}
	_ = s.raw.SetDeadline(t)
}

// ctxErr is why the caller's context ended, nil while it has not: a read
// cut at the context's deadline may return a moment before the context
// itself says so.
func (s *session) ctxErr() error { return ctxErr(s.ctx) }

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if end, ok := ctx.Deadline(); ok && !time.Now().Before(end) {
		return context.DeadlineExceeded
	}
	return nil
}

// close ends the session: QUIT when it can, and the connection in any case.
func (s *session) close() {
	if s.raw == nil {
		return
	}
	if s.c != nil {
		s.deadline(5 * time.Second)
		_ = s.c.Quit()
		_ = s.c.Close()
	}
	s.stop()
	_ = s.raw.Close()
}

// classify is a failure of this session at step: a server's reply is
// classed by its code (4xx temporary, any other permanent); anything else
// on this side (the connection, TLS, a timeout) is def, and a context that
// ended is named as the cause rather than the closed connection it left.
func (s *session) classify(step Step, def Outcome, err error) *Error {
	if r, ok := replyOf(err); ok {
		return &Error{Addr: s.addr, Step: step, Outcome: outcomeOf(r.Code), Reply: r}
	}
	if cerr := s.ctxErr(); cerr != nil && !errors.Is(err, ErrCleartext) {
		err = cerr
	}
	return &Error{Addr: s.addr, Step: step, Outcome: def, Err: err}
}

// tlsOutcome: a certificate the client does not trust, or a server that
// answers in something other than TLS, is the configuration's to fix;
// anything else on the way may pass (a reply to
// STARTTLS is classed by its code before this is asked).
func tlsOutcome(err error) Outcome {
	var verify *tls.CertificateVerificationError
	var notTLS tls.RecordHeaderError
	if errors.As(err, &verify) || errors.As(err, &notTLS) {
		return Permanent
	}
	return Temporary
}

// loopback reports whether the peer is this machine's loopback: bytes to
// it never cross a network, so a server there may be spoken to in clear.
func loopback(addr net.Addr) bool {
	a, ok := addr.(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}
