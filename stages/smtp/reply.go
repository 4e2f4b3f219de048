package smtp

import (
	"errors"
	"fmt"
	"net/textproto"
	"regexp"
	"strings"
)

// Reply is a server's reply: for a message sent, the acceptance to record
// (the journal keeps it; SMTP cannot be asked later what it took).
type Reply struct {
	Code int
	// Enhanced is the RFC 3463 status ("2.0.0"); "" when the server
	// gives none.
	Enhanced string
	// Text is the rest of the reply, lines joined by "\n".
	Text string
	// QueueID is the id the server gave the message, when its reply
	// carries one in a known form: Postfix's "queued as 4Bx...",
	// Exim's "id=...", Sendmail's "<id> Message accepted for delivery",
	// Amazon SES's and Gmail's; "" otherwise (the Text is still kept).
	QueueID string
}

func (r Reply) String() string {
	s := fmt.Sprint(r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	if r.Text != "" {
		s += " " + strings.ReplaceAll(r.Text, "\n", " / ")
	}
	return s
}

var enhancedRE = regexp.MustCompile(`^([245]\.\d{1,3}\.\d{1,3}) `)

// ParseReply makes a Reply of a code and the text after it, which may
// begin with an enhanced status code (RFC 3463).
func ParseReply(code int, text string) Reply {
	r := Reply{Code: code, Text: text}
	if m := enhancedRE.FindStringSubmatch(text + " "); m != nil {
		r.Enhanced = m[1]
		r.Text = strings.TrimSpace(strings.TrimPrefix(text, m[1]))
		// Each line of a multi-line reply repeats the status (RFC 2034).
		r.Text = strings.ReplaceAll(r.Text, "\n"+m[1]+" ", "\n")
	}
	r.QueueID = queueID(r.Text)
	return r
}

// replyOf is the reply in an error of net/textproto, if it is one: a
// server's refusal, as opposed to a failure on the way.
func replyOf(err error) (Reply, bool) {
	var e *textproto.Error
	if !errors.As(err, &e) {
		return Reply{}, false
	}
	return ParseReply(e.Code, e.Msg), true
}

// queueIDs are the forms of the queue id in the replies of the mail
// servers people submit through.
var queueIDs = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\bqueued as ([0-9A-Za-z]+)`),                 // Postfix
	regexp.MustCompile(`\bid=([0-9A-Za-z][0-9A-Za-z-]*)`),                // Exim
	regexp.MustCompile(`^([0-9A-Za-z]+) Message accepted for delivery`),  // Sendmail
	regexp.MustCompile(`^Ok ([0-9a-f]{16}[0-9a-f-]*)$`),                  // Amazon SES
	regexp.MustCompile(`^OK\s+\d+ ([0-9A-Za-z][0-9A-Za-z.-]*) - gsmtp$`), // Gmail
}

func queueID(text string) string {
	for _, re := range queueIDs {
		if m := re.FindStringSubmatch(text); m != nil {
			return m[1]
		}
	}
	return ""
}
