package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// listNote opens the signed text: list web interfaces change a message's
// body, and a reader there is sent to the copy attached, as the Rust
// Security Response WG's announcements say.
const listNote = "Note: if you are reading this advisory in a mailing list's web interface,\n" +
	"its signature may not verify there, as the interface changes the\n" +
	"message. A signed copy of this advisory is attached.\n\n"

// Announce composes the announcement: the advisory's text, clearsigned by
// signer at T0, as the body (the form of the Rust WG's announcements, a
// note to web readers first), and the same clearsigned file attached
// ("ID.txt.asc", in base64, which nothing on the way changes). Subject:
// "Security advisory for async-std (CVE-2026-12345)".
func Announce(a Advisory, h Header, t0 time.Time, signer Signer) (Message, error) {
	b, m, err := header(a, h, t0, Announcement, "Security advisory for "+a.name())
	if err != nil {
		return Message{}, err
	}
	if strings.TrimSpace(a.Text) == "" {
		return Message{}, fmt.Errorf("the advisory %s has no text to announce", a.ID)
	}
	signed, err := signer.ClearSign([]byte(listNote+a.Text), t0)
	if err != nil {
		return Message{}, fmt.Errorf("sign the announcement of %s: %w", a.ID, err)
	}
	boundary := boundaryOf(m.MessageID, signed)
	fmt.Fprintf(b, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n", boundary)
	fmt.Fprintf(b, "--%s\r\n", boundary)
	textPart(b, "Content-Disposition: inline\r\n", signed, signedLine)
	fmt.Fprintf(b, "--%s\r\n", boundary)
	filePart(b, "text/plain", fileName(a.ID)+".txt.asc", signed)
	fmt.Fprintf(b, "--%s--\r\n", boundary)
	m.Data = b.Bytes()
	return m, nil
}

// Notify composes the notice to oss-security: a short plain mail with the
// excerpt, the severity, the affected and patched versions and the links,
// unsigned. Subject: "async-std: <title> (CVE-2026-12345)".
func Notify(a Advisory, h Header, t0 time.Time) (Message, error) {
	b, m, err := header(a, h, t0, Notice, fmt.Sprintf("%s: %s", a.name(), a.Title))
	if err != nil {
		return Message{}, err
	}
	if len(a.Links) == 0 {
		return Message{}, fmt.Errorf("the notice of %s has no link to the advisory", a.ID)
	}
	var t strings.Builder
	fmt.Fprintf(&t, "%s\n\n", strings.TrimSpace(a.Excerpt))
	versions(&t, a)
	t.WriteString("\nThe full advisory:\n\n")
	for _, l := range a.Links {
		fmt.Fprintf(&t, "  %s\n", l)
	}
	textPart(b, "", []byte(t.String()), plainLine)
	m.Data = b.Bytes()
	return m, nil
}

// versions writes the severity and the versions, one per line.
func versions(t *strings.Builder, a Advisory) {
	if a.Severity != "" {
		fmt.Fprintf(t, "Severity: %s\n", a.Severity)
	}
	if a.CVE != "" {
		fmt.Fprintf(t, "CVE: %s\n", a.CVE)
	}
	fmt.Fprintf(t, "Affected versions of %s: %s\n", a.Project, strings.Join(a.Affected, ", "))
	fmt.Fprintf(t, "Patched versions: %s\n", strings.Join(a.Patched, ", "))
}

// boundaryOf is a multipart boundary that none of the parts holds, made
// from what the message is, so that composing it again gives the same
// bytes.
func boundaryOf(messageID string, parts ...[]byte) string {
	h := sha256.New()
	h.Write([]byte(messageID))
	for _, p := range parts {
		h.Write(p)
	}
	// "=_" cannot occur in base64 or in quoted-printable's output.
	return "=_" + hex.EncodeToString(h.Sum(nil))[:32]
}

// base64Lines is data in base64, lines of 76 characters ending in CRLF.
func base64Lines(data []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(data)
	var b bytes.Buffer
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.Bytes()
}
