package mailserver

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// session is one SMTP session: a connection's, from its EHLO (a
// connection that starts TLS has a second one).
type session struct {
	s    *Server
	c    *smtp.Conn
	user string
	from string
	to   []string
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		s.conns[c] = len(s.conns) + 1
	}
	s.record(c, "EHLO", c.Hostname(), 250)
	return &session{s: s, c: c}, nil
}

// errAuthRequired is what a submission server answers to MAIL before a
// login (RFC 4954 section 6).
var errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}

func (se *session) AuthMechanisms() []string {
	if se.s.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, password string) error {
		se.s.mu.Lock()
		defer se.s.mu.Unlock()
		if user != se.s.opts.User || password != se.s.opts.Password {
			se.s.record(se.c, "AUTH", mech+" "+user, smtp.ErrAuthFailed.Code)
			return smtp.ErrAuthFailed
		}
		se.user = user
		se.s.record(se.c, "AUTH", mech+" "+user, 235)
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, password string) error {
			if identity != "" && identity != user {
				return smtp.ErrAuthFailed
			}
			return check(user, password)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	s := se.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.User != "" && se.user == "" {
		s.record(se.c, "MAIL", from, errAuthRequired.Code)
		return errAuthRequired
	}
	if err := s.faultAt(StepMail, "<"+from+">"); err != nil {
		s.record(se.c, "MAIL", from, err.Code)
		return err
	}
	se.from, se.to = from, nil
	s.record(se.c, "MAIL", from, 250)
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s := se.s
	s.mu.Lock()
	defer s.mu.Unlock()
	var err *smtp.SMTPError
	if code, ok := s.refuse[strings.ToLower(to)]; ok {
		err = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1}, Message: "<" + to + ">: Recipient address rejected (sandbox)"}
	} else {
		err = s.faultAt(StepRcpt, "<"+to+">")
	}
	if err != nil {
		s.record(se.c, "RCPT", to, err.Code)
		return err
	}
	se.to = append(se.to, to)
	s.record(se.c, "RCPT", to, 250)
	return nil
}

func (se *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := se.s
	s.mu.Lock()
	defer s.mu.Unlock()
	from, to := se.from, se.to
	se.from, se.to = "", nil
	if err := s.faultAt(StepData, "message"); err != nil {
		s.record(se.c, "DATA", "", err.Code)
		return err
	}
	_, isTLS := se.c.TLSConnectionState()
	id := queueID()
	s.messages = append(s.messages, Message{From: from, To: to, Data: bytes.Clone(data), At: s.opts.Clock(), QueueID: id, User: se.user, TLS: isTLS})
	if s.drops > 0 {
		s.drops--
		s.record(se.c, "DATA", "", 0)
		// Kept, and the connection lost before the reply: go-smtp's
		// reply then goes nowhere.
		_ = se.c.Conn().Close()
		return nil
	}
	s.record(se.c, "DATA", "", 250)
	// go-smtp answers a message with the code and text of the error Data
	// returns; a 250 carries the queue id as Postfix words it.
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as " + id}
}

// Reset is RSET, and the end of every transaction: an event only when a
// transaction was open.
func (se *session) Reset() {
	s := se.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if se.from != "" {
		s.record(se.c, "RSET", "", 250)
	}
	se.from, se.to = "", nil
}

func (se *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl does not
// have: the user name (as the initial response, or asked for), then the
// password, each after its prompt.
type loginServer struct {
	check    func(user, password string) error
	user     string
	haveUser bool
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch {
	case !l.haveUser && response == nil:
		return []byte("Username:"), false, nil
	case !l.haveUser:
		l.user, l.haveUser = string(response), true
		return []byte("Password:"), false, nil
	case response == nil:
		return nil, false, errors.New("LOGIN: password expected")
	}
	return nil, true, l.check(l.user, string(response))
}
