package smtp

import (
	"errors"
	"fmt"
	"strings"
)

// Outcome says what a failed send means for the message, and so what the
// caller may do next.
type Outcome int

const (
	// Temporary: the server did not take the message, and trying again
	// later may work (a 4xx, a refused recipient, a connection lost before
	// the whole message was sent). Retry on the caller's clock.
	Temporary Outcome = iota + 1
	// Permanent: the server refused for good (a 5xx, a refused login, a
	// server that would take the password or the mail in clear). Trying
	// again sends nothing until what the error names is put right.
	Permanent
	// Unknown: the whole message was sent and the connection was lost (or
	// the wait ran out) before the server's reply: it may have been
	// accepted and be on its way to the list. The caller must not send it
	// again blindly; a copy under the same Message-ID is still a second
	// mail to every reader. Someone must look (the list's archive, the
	// server's log) and say whether to send again.
	Unknown
)

func (o Outcome) String() string {
	switch o {
	case Temporary:
		return "temporary"
	case Permanent:
		return "permanent"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Step is the part of the session that failed.
type Step string

// The steps of a session, in order.
const (
	StepConnect Step = "connect"
	StepTLS     Step = "STARTTLS"
	StepAuth    Step = "AUTH"
	StepMail    Step = "MAIL FROM"
	StepRcpt    Step = "RCPT TO"
	StepData    Step = "DATA"
	// StepMessage is the message itself: its data, the final dot and the
	// server's reply to it, the reply that accepts the message.
	StepMessage Step = "message"
)

// ErrCleartext is why a session stops before AUTH or MAIL with a server
// that is not on this machine's loopback and offers no STARTTLS (or a port
// 465 that speaks no TLS): the password and the embargoed advisory never
// cross a network in clear.
var ErrCleartext = errors.New("the server offers no TLS, and nothing is sent in clear to a host other than this machine's loopback: give a submission port with STARTTLS (587) or implicit TLS (465)")

// Refusal is a server's refusal of one recipient.
type Refusal struct {
	Recipient string
	Reply     Reply
}

// Error is a session that did not end in the server's acceptance.
type Error struct {
	Addr    string // the server, host:port
	Step    Step
	Outcome Outcome
	// Reply is the server's refusal, when it gave one (Code 0: none).
	Reply Reply
	// Refused are the recipients RCPT TO refused (StepRcpt): all of
	// them, each with its reply; no message is sent unless every
	// recipient is taken.
	Refused []Refusal
	// MessageID is the message's Message-ID header, for an Unknown
	// outcome: what to look for in the list's archive.
	MessageID string
	// Err is what failed on this side (the connection, TLS, a timeout).
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", e.Addr)
	switch {
	case e.Step == StepRcpt && len(e.Refused) > 0:
		b.WriteString("RCPT TO refused ")
		for i, r := range e.Refused {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "<%s> (%s)", r.Recipient, r.Reply)
		}
		b.WriteString("; nothing was sent")
	case e.Outcome == Unknown:
		fmt.Fprintf(&b, "the whole message was sent, and no reply came (%v): it may have been accepted", e.Err)
		if e.MessageID != "" {
			fmt.Fprintf(&b, "; look for Message-ID %s in the list's archive or the server's log before sending it again", e.MessageID)
		}
	case e.Reply.Code != 0 && e.Err != nil:
		fmt.Fprintf(&b, "%s: %v: %s", e.Step, e.Err, e.Reply)
	case e.Reply.Code != 0:
		fmt.Fprintf(&b, "%s refused: %s", e.Step, e.Reply)
	default:
		fmt.Fprintf(&b, "%s: %v", e.Step, e.Err)
	}
	if e.Outcome == Temporary {
		b.WriteString(" (temporary: the message was not taken; try again)")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable says whether trying again may succeed and is safe: a Temporary
// outcome only (stages/retry reads it).
func (e *Error) Retryable() bool { return e.Outcome == Temporary }

// outcomeOf classes a server's refusal by its code: 4xx temporary, any
// other permanent.
func outcomeOf(code int) Outcome {
	if code/100 == 4 {
		return Temporary
	}
	return Permanent
}
