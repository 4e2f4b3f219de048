// Package mailserver is the sandbox world's mail server: an SMTP server on
// this machine's loopback (github.com/emersion/go-smtp) that a rehearsal's
// announcement and the tests send to in place of the project's. It asks
// for a login (AUTH PLAIN or LOGIN) when it has one, offers STARTTLS with a
// self-signed certificate when asked, keeps every message it accepts with
// its envelope and the time on its clock, and answers each with a queue id
// as Postfix does ("250 2.0.0 Ok: queued as 4B7A1C9F2E"). Knobs make it
// fail as real servers do: refuse a recipient, answer 4xx or 5xx at a
// step, or lose the connection after a message's data, before the reply.
package mailserver

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Options configure a Server.
type Options struct {
	// User and Password are the login the server asks for before MAIL
	// (AUTH PLAIN or LOGIN); with no User it takes mail without one.
	User, Password string
	// TLS offers STARTTLS with a self-signed certificate (ClientTLS
	// trusts it); a login is then taken only over TLS, as a submission
	// server does.
	TLS bool
	// ImplicitTLS speaks TLS from the connection's first byte, as a
	// server on port 465 does, instead of offering STARTTLS.
	ImplicitTLS bool
	// Clock says when a message or command arrived; time.Now by default.
	// A test of the gate passes its fake clock's Now.
	Clock func() time.Time
	// Listen is the address to listen on, 127.0.0.1:0 by default: a test
	// of what a client will not send in clear to a host other than the
	// loopback listens on another address of this machine.
	Listen string
	// MaxMessageBytes, when set, is the largest message the server takes,
	// as a submission server's limit: it says SIZE in EHLO and answers a
	// larger message's data with 552 5.3.4.
	MaxMessageBytes int64
}

// Message is a message the server accepted.
type Message struct {
	From    string   // MAIL FROM
	To      []string // RCPT TO, in order
	Data    []byte   // as received, CRLF line endings
	At      time.Time
	QueueID string // in the reply that accepted it
	User    string // the login it came with; "" none
	TLS     bool   // whether it came over TLS
}

// Event is a command the server answered.
type Event struct {
	At      time.Time
	Conn    int    // the connection, counted from 1
	TLS     bool   // whether the connection was on TLS then
	Command string // EHLO, AUTH, MAIL, RCPT, DATA (the end of a message's data), RSET
	Arg     string // the host, mechanism and user, or address; "" for DATA and RSET
	Code    int    // the reply's code
}

// Step is where a fault is made.
type Step string

// The steps a fault can be made at.
const (
	StepMail Step = "MAIL"
	StepRcpt Step = "RCPT"
	StepData Step = "DATA" // the reply to the end of a message's data
)

// Always makes a fault at every command of its step, until it is set again.
const Always = -1

// Server is a running sandbox mail server.
type Server struct {
	opts   Options
	srv    *smtp.Server
	ln     net.Listener
	cert   []byte
	served chan struct{}

	mu       sync.Mutex
	messages []Message
	events   []Event
	conns    map[*smtp.Conn]int
	refuse   map[string]int
	faults   map[Step]fault
	drops    int
}

type fault struct{ code, times int }

// Start starts a server on 127.0.0.1, on a port of its own.
func Start(opts Options) (*Server, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	s := &Server{opts: opts, served: make(chan struct{}), conns: map[*smtp.Conn]int{}, refuse: map[string]int{}, faults: map[Step]fault{}}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.MaxMessageBytes = opts.MaxMessageBytes
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("sandbox mail server: listen on %s: %w", opts.Listen, err)
	}
	withTLS := opts.TLS || opts.ImplicitTLS
	srv.AllowInsecureAuth = !withTLS
	var conf *tls.Config
	if withTLS {
		certPEM, keyPEM, err := SelfSigned(host)
		if err != nil {
			return nil, fmt.Errorf("sandbox mail server: certificate: %w", err)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("sandbox mail server: certificate: %w", err)
		}
		conf = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		s.cert = certPEM
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("sandbox mail server: %w", err)
	}
	if opts.ImplicitTLS {
		ln = tls.NewListener(ln, conf)
	} else {
		srv.TLSConfig = conf
	}
	s.srv, s.ln = srv, ln
	go func() {
		defer close(s.served)
		_ = srv.Serve(ln)
	}()
	return s, nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// ClientTLS is a TLS configuration that trusts the server's certificate;
// nil when it speaks no TLS.
func (s *Server) ClientTLS() *tls.Config {
	if s.cert == nil {
		return nil
	}
	return &tls.Config{RootCAs: CertPool(s.cert), MinVersion: tls.VersionTLS12}
}

// CertPEM is the server's certificate, PEM-encoded; nil without TLS.
func (s *Server) CertPEM() []byte { return s.cert }

// Close stops the server and drops its connections.
func (s *Server) Close() error {
	err := s.srv.Close()
	// go-smtp knows the listener only once Serve has begun: closed here
	// too, a Serve that begins after Close returns at once.
	_ = s.ln.Close()
	<-s.served
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Messages are the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Events are the commands answered so far, in order.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Refuse answers RCPT TO:<addr> with code (a 550 refuses for good, a 450
// for now) until Refuse(addr, 0).
func (s *Server) Refuse(addr string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		delete(s.refuse, strings.ToLower(addr))
		return
	}
	s.refuse[strings.ToLower(addr)] = code
}

// Fail answers the next times commands at step with code (a 4xx: try
// again later; a 5xx: refused), every one when times is Always; Fail(step,
// 0, 0) ends it. A message failed at StepData is not kept.
func (s *Server) Fail(step Step, code, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if times == 0 {
		delete(s.faults, step)
		return
	}
	s.faults[step] = fault{code: code, times: times}
}

// DropAfterData makes the next times messages be kept as accepted and
// their connection closed before the reply is written: the client cannot
// know that the message went through.
func (s *Server) DropAfterData(times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drops = times
}

// faultAt takes one use of the fault at step, if any: its error.
func (s *Server) faultAt(step Step, subject string) *smtp.SMTPError {
	f, ok := s.faults[step]
	if !ok {
		return nil
	}
	if f.times > 0 {
		f.times--
		if f.times == 0 {
			delete(s.faults, step)
		} else {
			s.faults[step] = f
		}
	}
	return reply(f.code, subject)
}

// reply is the error of a fault: a text like a real server's, saying it
// is the sandbox's doing.
func reply(code int, subject string) *smtp.SMTPError {
	e := &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}}
	switch {
	case code/100 == 4:
		e.Message = subject + ": temporary failure, try again later (sandbox fault)"
	default:
		e.Message = subject + ": rejected (sandbox fault)"
	}
	return e
}

// record adds an event; the caller holds mu.
func (s *Server) record(c *smtp.Conn, command, arg string, code int) {
	_, isTLS := c.TLSConnectionState()
	s.events = append(s.events, Event{At: s.opts.Clock(), Conn: s.conns[c], TLS: isTLS, Command: command, Arg: arg, Code: code})
}

func queueID() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}
