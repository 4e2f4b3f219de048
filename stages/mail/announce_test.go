package mail_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/internal/mailtest"
	"github.com/async-rs/embargo/stages/mail"
	"github.com/async-rs/embargo/stages/openpgp"
	"github.com/async-rs/embargo/stages/smtp"
)

var (
	// t0 is ahead of the keys gpg makes now, on the hour.
	t0  = time.Now().UTC().Truncate(time.Hour).Add(72 * time.Hour)
	adv = mail.Advisory{
		ID:       "GHSA-4x5v-9p2m-c7qf",
		CVE:      "CVE-2026-12345",
		Project:  "async-std",
		Title:    "use after free in a dropped task",
		Severity: "high",
		Text: "# Use after free in a dropped task\n\n" +
			"- affected: async-std < 1.13.1\n" +
			"From 1.13.1 on, a task is no longer polled after it was dropped.\n" +
			"A line with trailing spaces   \n" +
			"Reported by Zoë Müller 🦀\n" +
			strings.Repeat("a long line ", 100) + "ends here\n" +
			".\n" +
			"Thanks to everyone involved.\n",
		Excerpt:  "async-std polled a task after it was dropped, a use after free.",
		Affected: []string{"< 1.13.1"},
		Patched:  []string{"1.13.1", "1.12.3"},
		Links:    []string{"https://async.rs/blog/2026/12/01/security-advisory/", "https://github.com/async-rs/async-std/security/advisories/GHSA-4x5v-9p2m-c7qf"},
	}
	header = mail.Header{From: "async-std security <security@async.rs>", To: []string{"announce@lists.example.org"}, Date: t0.Add(3 * time.Second)}
)

const passphrase = "the team's passphrase"

// signingKey is a key made by the real gpg, read as the stage reads it,
// and a gpg that knows only its public key: a reader of the list.
func signingKey(t *testing.T) (*openpgp.Key, *mailtest.GPG) {
	t.Helper()
	g := mailtest.NewGPG(t)
	fpr := g.GenerateKey(t, "async-std security <security@async.rs>", "ed25519", "sign", "never", passphrase)
	k, err := openpgp.ReadKey(string(g.ExportSecret(t, fpr, passphrase, false)), passphrase, t0)
	if err != nil {
		t.Fatal(err)
	}
	r := mailtest.NewGPG(t)
	r.Import(t, g.ExportPublic(t, fpr))
	return k, r
}

// deliver sends m through Debian's aiosmtpd and returns it as delivered.
func deliver(t *testing.T, m mail.Message) *netmail.Message {
	t.Helper()
	a := mailtest.StartAiosmtpd(t, mailtest.AiosmtpdOptions{STARTTLS: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := smtp.New(smtp.Options{Addr: a.Addr, TLS: a.TLS}).Send(ctx, smtp.Envelope{From: m.From, To: m.To}, m.Data); err != nil {
		t.Fatalf("send: %v\n%s", err, a.Log())
	}
	got := a.Messages(t)
	if len(got) != 1 {
		t.Fatalf("aiosmtpd delivered %d messages, want 1", len(got))
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(got[0]))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// parts reads a delivered multipart message's parts, each decoded.
func parts(t *testing.T, msg *netmail.Message) []part {
	t.Helper()
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	var out []part
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			if data, err = base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(data))); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, part{header: p.Header, name: p.FileName(), data: data})
	}
}

type part struct {
	header map[string][]string
	name   string
	data   []byte
}

// The announcement that a real SMTP server delivers is verified by the
// real gpg of a reader who has the team's public key: its body, read back
// from the delivered message, and the signed copy attached. The text has
// every line mail changes (long, trailing spaces, UTF-8, "From ", ".").
func TestTheDeliveredAnnouncementIsVerifiedByGPG(t *testing.T) {
	k, reader := signingKey(t)
	m, err := mail.Announce(adv, header, t0, k)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range bytes.Split(m.Data, []byte("\r\n")) {
		if len(line) > 78 || bytes.ContainsFunc(line, func(r rune) bool { return r > 127 }) {
			t.Errorf("line %d of the message is not short 7-bit text: %q", i+1, line)
		}
	}
	got := deliver(t, m)
	if got.Header.Get("Message-ID") != m.MessageID || got.Header.Get("Subject") != "Security advisory for async-std (CVE-2026-12345)" {
		t.Errorf("delivered with Message-ID %q and Subject %q", got.Header.Get("Message-ID"), got.Header.Get("Subject"))
	}
	ps := parts(t, got)
	if len(ps) != 2 || ps[1].name != "GHSA-4x5v-9p2m-c7qf.txt.asc" {
		t.Fatalf("the announcement has %d parts (%+v); want the body and the signed copy", len(ps), ps)
	}
	for _, p := range ps {
		v, err := reader.Verify(p.data)
		if err != nil {
			t.Errorf("part %q: %v\n%s", p.name, err, p.data)
			continue
		}
		if v.Fingerprint != k.Fingerprint() {
			t.Errorf("part %q is signed by %s, want %s", p.name, v.Fingerprint, k.Fingerprint())
		}
		text := string(reader.Decrypt(t, p.data))
		for _, want := range []string{"signed copy of this advisory is attached", "Zoë Müller 🦀", "\nFrom 1.13.1 on", strings.Repeat("a long line ", 100)} {
			if !strings.Contains(text, want) {
				t.Errorf("part %q reads without %q", p.name, want)
			}
		}
	}
}

// The Message-ID is the same each time the same mail is composed, and
// differs between the mails of an advisory and between T0s: a resend is
// the same message, the notice is not the announcement.
func TestTheMessageIDIsTheMails(t *testing.T) {
	k, _ := signingKey(t)
	first, err := mail.Announce(adv, header, t0, k)
	if err != nil {
		t.Fatal(err)
	}
	later := header
	later.Date = later.Date.Add(time.Hour)
	again, err := mail.Announce(adv, later, t0, k)
	if err != nil {
		t.Fatal(err)
	}
	want := "<GHSA-4x5v-9p2m-c7qf." + t0.Format("20060102T15") + "0000Z.announcement@async.rs>"
	if first.MessageID != want || again.MessageID != want {
		t.Errorf("Message-IDs %s and %s, want %s", first.MessageID, again.MessageID, want)
	}
	notice, err := mail.Notify(adv, header, t0)
	if err != nil {
		t.Fatal(err)
	}
	moved := mail.MessageID(adv.ID, t0.Add(24*time.Hour), mail.Announcement, "async.rs")
	if notice.MessageID == want || moved == want {
		t.Errorf("the notice (%s) or another T0 (%s) has the announcement's Message-ID", notice.MessageID, moved)
	}
}

// The notice to oss-security is short and plain: the excerpt, the
// severity, the versions and the links, as delivered.
func TestTheNoticeIsShortAndPlain(t *testing.T) {
	h := header
	h.To = []string{"oss-security@lists.example.org"}
	m, err := mail.Notify(adv, h, t0)
	if err != nil {
		t.Fatal(err)
	}
	got := deliver(t, m)
	body, err := io.ReadAll(got.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want text/plain", ct)
	}
	for _, want := range append([]string{adv.Excerpt, "Severity: high", "1.13.1, 1.12.3", "< 1.13.1"}, adv.Links...) {
		if !strings.Contains(string(body), want) {
			t.Errorf("the notice has no %q:\n%s", want, body)
		}
	}
	if strings.Contains(string(body), "Use after free in a dropped task\n\n") || len(body) > 1500 {
		t.Errorf("the notice carries more than the excerpt (%d bytes):\n%s", len(body), body)
	}
}
