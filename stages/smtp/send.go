package smtp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	netsmtp "net/smtp"
	"net/textproto"
	"strings"
)

// Probe is what a probe proved: the server, over Session, took the login
// and every recipient.
type Probe struct {
	Session
	Recipients []string
}

// Probe goes through a session as far as a send would before its message:
// connect, STARTTLS, the login, MAIL FROM and RCPT TO for every recipient;
// then RSET and QUIT. Nothing is sent. It is what preflight runs before T0
// to prove the server, the login and the recipients; a refused recipient is
// an *Error naming each one refused.
func (c *Client) Probe(ctx context.Context, env Envelope) (Probe, error) {
	s, err := c.open(ctx)
	if err != nil {
		return Probe{}, err
	}
	defer s.close()
	if err := s.envelope(env); err != nil {
		return Probe{}, err
	}
	s.deadline(s.timeout)
	if err := s.c.Reset(); err != nil {
		return Probe{}, s.classify(StepMail, Temporary, err)
	}
	return Probe{Session: s.info, Recipients: append([]string(nil), env.To...)}, nil
}

// Send sends msg, a whole message (headers, a blank line, the body; LF or
// CRLF line endings), to env's recipients in one transaction, and returns
// the server's reply that accepted it. The message goes to every recipient
// or to none: when RCPT TO refuses one, the transaction is reset before
// any data and the *Error names each refusal. A failure's Outcome says
// whether it may be tried again (Temporary), needs a fix (Permanent), or
// may have been accepted after all (Unknown: never resend it blindly).
func (c *Client) Send(ctx context.Context, env Envelope, msg []byte) (Reply, error) {
	s, err := c.open(ctx)
	if err != nil {
		return Reply{}, err
	}
	defer s.close()
	if err := s.envelope(env); err != nil {
		return Reply{}, err
	}
	return s.data(msg)
}

// envelope sends MAIL FROM and RCPT TO for every recipient; when one is
// refused it tries the others too, resets the transaction and names them
// all.
func (s *session) envelope(env Envelope) error {
	if len(env.To) == 0 {
		return &Error{Addr: s.addr, Step: StepRcpt, Outcome: Permanent, Err: errors.New("no recipient")}
	}
	s.deadline(s.timeout)
	if err := s.c.Mail(env.From); err != nil {
		return s.classify(StepMail, Temporary, err)
	}
	var refused []Refusal
	for _, to := range env.To {
		s.deadline(s.timeout)
		err := s.c.Rcpt(to)
		if err == nil {
			continue
		}
		r, ok := replyOf(err)
		if !ok {
			return s.classify(StepRcpt, Temporary, err)
		}
		refused = append(refused, Refusal{Recipient: to, Reply: r})
	}
	if len(refused) == 0 {
		return nil
	}
	s.deadline(s.timeout)
	_ = s.c.Reset()
	// A refused recipient is tried again whatever its code, as the
	// release's process asks: no byte of the message has left, and a
	// list that refuses its sender is put right by a person within the
	// window (the caller's retries end at its deadline).
	return &Error{Addr: s.addr, Step: StepRcpt, Outcome: Temporary, Refused: refused}
}

// data sends the message and reads the reply that accepts it. Until the
// final dot has gone whole, the server cannot have taken the message; once
// it has, a lost reply leaves the outcome unknown.
func (s *session) data(msg []byte) (Reply, error) {
	t := s.c.Text
	s.deadline(s.timeout)
	id, err := t.Cmd("DATA")
	if err != nil {
		return Reply{}, s.classify(StepData, Temporary, err)
	}
	t.StartResponse(id)
	_, _, err = t.ReadResponse(354)
	t.EndResponse(id)
	if err != nil {
		return Reply{}, s.classify(StepData, Temporary, err)
	}
	s.deadline(finalReply)
	w := t.DotWriter()
	if _, err := w.Write(msg); err != nil {
		_ = w.Close()
		return Reply{}, s.classify(StepMessage, Temporary, err)
	}
	if err := w.Close(); err != nil {
		return Reply{}, s.classify(StepMessage, Temporary, err)
	}
	code, text, err := t.ReadResponse(250)
	if err != nil {
		e := s.classify(StepMessage, Unknown, err)
		if e.Outcome == Unknown {
			e.MessageID = messageID(msg)
		}
		return Reply{}, e
	}
	return ParseReply(code, text), nil
}

// messageID is msg's Message-ID header, "" when it has none.
func messageID(msg []byte) string {
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(msg))).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return ""
	}
	return strings.TrimSpace(h.Get("Message-Id"))
}

// hasWord reports whether the space-separated list has word, in any case.
func hasWord(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if strings.EqualFold(w, word) {
			return true
		}
	}
	return false
}

// plainAuth is AUTH PLAIN (RFC 4616) with no authorisation identity. Only
// a session on TLS or the loopback gets this far.
type plainAuth struct{ user, password string }

func (a plainAuth) Start(*netsmtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.password), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("the server asked for more after AUTH PLAIN")
	}
	return nil, nil
}

// loginAuth is AUTH LOGIN: the user name, then the password, each in
// answer to the server's prompt. The prompts' words differ between
// servers ("Username:", "User Name", "Password:"), so they are answered in
// order rather than read.
type loginAuth struct {
	user, password string
	asked          int
}

func (a *loginAuth) Start(*netsmtp.ServerInfo) (string, []byte, error) { return "LOGIN", nil, nil }

func (a *loginAuth) Next(_ []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.asked++
	switch a.asked {
	case 1:
		return []byte(a.user), nil
	case 2:
		return []byte(a.password), nil
	}
	return nil, errors.New("the server asked for more than a user name and a password after AUTH LOGIN")
}
