// Package mail composes the advisory's mails as whole RFC 5322 messages,
// ready for stages/smtp: the announcement to the list (clearsigned, with
// the signed copy attached, as the Rust Security Response WG sends its
// own), the short notice to oss-security, and the pre-notice to the
// distros list before T0 with the held fixes as patches, optionally
// encrypted to the list's key. Its inputs are plain values, so that the
// stage feeds them from its config and the command from the same; it reads
// no config itself.
package mail

import (
	"bytes"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	pgp "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Kind is which of the advisory's mails a message is; it is part of the
// Message-ID, so each kind is a message of its own.
type Kind string

// The kinds of mail.
const (
	// Announcement is the full advisory to the announcement list, at T0.
	Announcement Kind = "announcement"
	// Notice is the short mail to oss-security, at T0.
	Notice Kind = "notice"
	// PreNotice is the private notice to the distros list, before T0.
	PreNotice Kind = "distros"
)

// Advisory is what the mails say, as the stage has it from its config.
type Advisory struct {
	// ID is the advisory's id (GHSA-..., RUSTSEC-..., or the project's
	// own): the Message-ID and the attachments' names are made from it.
	ID string
	// CVE is the CVE id when one is assigned.
	CVE string
	// Project names what is affected: "async-std".
	Project string
	// Title is the advisory's one-line summary.
	Title string
	// Severity is its severity as the advisory gives it: "high".
	Severity string
	// Text is the advisory's full text, as the blog post and the
	// announcement carry it.
	Text string
	// Excerpt is the paragraph the notice quotes.
	Excerpt string
	// Affected and Patched are the versions, as ranges or lists:
	// "< 1.13.1", "1.13.1".
	Affected, Patched []string
	// Links are where the advisory is public from T0: the post, the
	// GitHub advisory, the list's archive.
	Links []string
}

// Header is who a mail is from and to, and when it is sent.
type Header struct {
	// From is the sender, an address with an optional name:
	// "async-std security <security@async.rs>".
	From string
	// To are the recipients' addresses.
	To []string
	// Date is the time of sending, the Date header.
	Date time.Time
}

// Message is a composed mail.
type Message struct {
	Kind Kind
	// MessageID is its Message-ID header, angle brackets included.
	MessageID string
	// From and To are the envelope's addresses (MAIL FROM, RCPT TO).
	From string
	To   []string
	// Data is the whole message, CRLF line endings, every line under
	// 998 octets and 7-bit: what SMTP sends unchanged.
	Data []byte
}

// Signer is the team's key, that signs the announcement and the
// pre-notice; *openpgp.Key is one.
type Signer interface {
	// ClearSign signs text as a cleartext signed message made at at.
	ClearSign(text []byte, at time.Time) ([]byte, error)
	// Signing is the key as the OpenPGP library signs with it at at: a
	// pre-notice encrypted to the list is signed inside the encryption.
	Signing(at time.Time) (*pgp.Entity, *packet.Config, error)
}

var notAtom = regexp.MustCompile(`[^A-Za-z0-9!#$%&'*+/=?^_{|}~.-]+`)

// MessageID is the Message-ID of the advisory's mail of kind for T0, from
// the sender's domain: the same for every composition of the same mail,
// so that a resend is recognisably the same message (and a list or a
// reader's client that has it already can tell).
// "<GHSA-xxxx.20261201T140000Z.announcement@async.rs>".
func MessageID(advisoryID string, t0 time.Time, kind Kind, domain string) string {
	id := strings.Trim(notAtom.ReplaceAllString(advisoryID, "-"), ".-")
	return fmt.Sprintf("<%s.%s.%s@%s>", id, t0.UTC().Format("20060102T150405Z"), kind, domain)
}

// header checks h and starts a message of kind with its headers.
func header(a Advisory, h Header, t0 time.Time, kind Kind, subject string) (*bytes.Buffer, Message, error) {
	from, err := mail.ParseAddress(h.From)
	if err != nil {
		return nil, Message{}, fmt.Errorf("the sender %q is not a mail address: %w", h.From, err)
	}
	if len(h.To) == 0 {
		return nil, Message{}, fmt.Errorf("the %s has no recipient", kind)
	}
	var to []string
	for _, t := range h.To {
		addr, err := mail.ParseAddress(t)
		if err != nil {
			return nil, Message{}, fmt.Errorf("the recipient %q is not a mail address: %w", t, err)
		}
		to = append(to, addr.Address)
	}
	if a.ID == "" {
		return nil, Message{}, fmt.Errorf("the advisory has no id to make the %s's Message-ID from", kind)
	}
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	m := Message{Kind: kind, MessageID: MessageID(a.ID, t0, kind, domain), From: from.Address, To: to}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", from.String())
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\r\n", h.Date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: %s\r\n", m.MessageID)
	b.WriteString("MIME-Version: 1.0\r\n")
	return &b, m, nil
}

// name is how the subjects name the advisory: "async-std (CVE-2026-1234)".
func (a Advisory) name() string {
	id := a.ID
	if a.CVE != "" {
		id = a.CVE
	}
	return fmt.Sprintf("%s (%s)", a.Project, id)
}

// The longest lines a text part carries as they are: a signed text's
// lines are kept to what no transport rewraps (RFC 5322's 78); a plain
// text's (a long link) may be as long as SMTP carries (998).
const (
	signedLine = 78
	plainLine  = 998
)

// textPart writes a text/plain part (or body): its headers, a blank line
// and the text, in 7 bit when every line is ASCII of at most maxLine
// characters without trailing whitespace, else quoted-printable, which
// mail carries unchanged and gives back byte for byte: a signed text
// stays verifiable.
func textPart(b *bytes.Buffer, extra string, text []byte, maxLine int) {
	text = crlf(text)
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n" + extra)
	if sevenBit(text, maxLine) {
		b.WriteString("Content-Transfer-Encoding: 7bit\r\n\r\n")
		b.Write(text)
		return
	}
	b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	w := quotedprintable.NewWriter(b)
	_, _ = w.Write(text)
	_ = w.Close()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
}

// sevenBit reports whether text can go as it is: ASCII, lines of at most
// maxLine characters, none ending in a space or tab (which transports
// strip).
func sevenBit(text []byte, maxLine int) bool {
	for _, line := range bytes.Split(text, []byte("\r\n")) {
		if len(line) > maxLine || bytes.HasSuffix(line, []byte(" ")) || bytes.HasSuffix(line, []byte("\t")) {
			return false
		}
		for _, c := range line {
			if c >= 0x80 || c == '\r' || c == '\n' {
				return false
			}
		}
	}
	return utf8.Valid(text)
}

// crlf ends every line of text in CRLF, the last one included.
func crlf(text []byte) []byte {
	t := bytes.ReplaceAll(text, []byte("\r\n"), []byte("\n"))
	t = bytes.TrimRight(t, "\n")
	return append(bytes.ReplaceAll(t, []byte("\n"), []byte("\r\n")), '\r', '\n')
}

// filePart writes an attachment in base64, which carries any bytes.
func filePart(b *bytes.Buffer, contentType, name string, data []byte) {
	fmt.Fprintf(b, "Content-Type: %s\r\n", mime.FormatMediaType(contentType, map[string]string{"name": name}))
	fmt.Fprintf(b, "Content-Disposition: %s\r\n", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
	b.Write(base64Lines(data))
}

// fileName is a safe file name made of s.
func fileName(s string) string {
	return strings.Trim(notAtom.ReplaceAllString(strings.ReplaceAll(s, "/", "-"), "-"), ".-")
}
