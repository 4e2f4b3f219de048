package announce

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pgp "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
	"github.com/async-rs/embargo/stages/retry"
	"github.com/async-rs/embargo/stages/smtp"
)

// sentSteps are where the stage records its mail.
var sentSteps = release.PublicMailSteps(release.Announce, release.Announcement)

// The announce stage against a fake mail server: what is mailed, when,
// and how often, without a server.

const wantAnnouncementID = "<DEMO-SA-2026-001.20261201T140000Z.announcement@demo.rs>"

// fakeAnnounce is a run of the two-line release at now with [announce],
// the stage given a fake mail server.
func fakeAnnounce(t *testing.T, now time.Time) (*release.Run, *pipeline.FakeClock, *releasetest.Mail, Stage, *bytes.Buffer) {
	t.Helper()
	r, clock, out := releasetest.Run(t, releasetest.AnnounceConfig(), now, releasetest.AnnounceEnv(t))
	m := releasetest.NewMail(clock)
	idx := &releasetest.Index{Crates: releasetest.NewCrates()}
	c := releasetest.ClientsWith(func(c *release.Clients) {
		c.Index = func(release.Registry, retry.Clock) (release.RegistryIndex, error) { return idx, nil }
	})
	return r, clock, m, Stage{Mail: m.Opener, Index: c.Index, Blog: c.Blog}, out
}

// Prepared an hour before T0, the stage signs the announcement but hands
// nothing to the server while T0 is ahead; at T0 it mails the clearsigned
// announcement alone (the notice waits for the post), and a re-run mails
// nothing.
func TestAnnounceWaitsForT0ThenMailsOnceSigned(t *testing.T) {
	t.Parallel()
	r, clock, m, st, _ := fakeAnnounce(t, releasetest.T0.Add(-time.Hour))
	err := releasetest.Execute(t, r, pipeline.Selection{}, releasetest.Prepared, st)
	var early *pipeline.EarlyError
	if !errors.As(err, &early) {
		t.Fatalf("run before T0: %v, want the gate's refusal", err)
	}
	if s := m.Sent(); len(s) != 0 {
		t.Fatalf("%d mail(s) handed over before T0", len(s))
	}

	clock.Set(releasetest.T0.Add(2 * time.Second))
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "announce"}, st); err != nil {
		t.Fatalf("run at T0: %v", err)
	}
	sent := m.Sent()
	if len(sent) != 1 {
		t.Fatalf("%d mails at T0, want the announcement alone", len(sent))
	}
	for _, s := range sent {
		if s.At.Before(releasetest.T0) {
			t.Errorf("a mail was handed over at %s, before T0", s.At)
		}
	}
	ann := sent[0]
	if got := strings.Join(ann.Envelope.To, ","); got != "announce@lists.example.org" || ann.Envelope.From != "security@demo.rs" {
		t.Errorf("the announcement's envelope is %+v, want security@demo.rs to announce.to", ann.Envelope)
	}
	if !bytes.Contains(ann.Bytes, []byte("Message-ID: "+wantAnnouncementID+"\r\n")) {
		t.Errorf("the announcement has no Message-ID %s:\n%s", wantAnnouncementID, ann.Bytes)
	}
	verifyClearsigned(t, ann.Bytes)
	acc, ok := pipeline.Load(r.Journal, sentSteps.Sent)
	if !ok || !acc.Accepted() || acc.QueueID == "" || acc.MessageID != wantAnnouncementID || acc.AcceptedAt.Before(releasetest.T0) {
		t.Errorf("the journal records %+v, want the acceptance with its queue id and time", acc)
	}

	clock.Advance(time.Minute)
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "announce"}, st); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if n := len(m.Sent()); n != 1 {
		t.Errorf("%d mails after a re-run, want the first run's 1", n)
	}
}

// verifyClearsigned checks the announcement's inline text and its
// attached copy are the same clearsigned advisory, whose signature the
// test key makes.
func verifyClearsigned(t *testing.T, msg []byte) {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("the announcement's Content-Type: %v", err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var parts [][]byte
	for {
		p, err := mr.NextPart() // decodes quoted-printable, not base64
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			b, _ = base64.StdEncoding.DecodeString(strings.ReplaceAll(string(b), "\r\n", ""))
		}
		parts = append(parts, b)
	}
	if len(parts) != 2 {
		t.Fatalf("the announcement has %d parts, want the signed text and its signed copy attached:\n%s", len(parts), msg)
	}
	ring, err := pgp.ReadArmoredKeyRing(strings.NewReader(releasetest.SigningKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	for i, part := range parts {
		b, _ := clearsign.Decode(part)
		if b == nil {
			t.Fatalf("part %d of the announcement is not clearsigned:\n%s", i+1, part)
		}
		if _, err := b.VerifySignature(ring, nil); err != nil {
			t.Errorf("the signature of part %d does not verify: %v", i+1, err)
		}
		if !bytes.Contains(b.Plaintext, []byte("Out-of-bounds read in demo_core::get")) {
			t.Errorf("the signed text of part %d lacks the advisory:\n%s", i+1, b.Plaintext)
		}
	}
}

// A 4xx is tried again on the gate's clock, and the mail goes once.
func TestAnnounceTriesATemporaryRefusalAgainOnTheGatesClock(t *testing.T) {
	t.Parallel()
	r, clock, m, st, _ := fakeAnnounce(t, releasetest.T0.Add(time.Second))
	r.Mode.Late = true
	m.Answers = []error{&smtp.Error{Addr: "smtp.example.org:587", Step: smtp.StepRcpt, Outcome: smtp.Temporary, Reply: smtp.ParseReply(451, "4.3.0 try again later")}}
	releasetest.Advance(t, clock, 10*time.Second)
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "announce"}, st); err != nil {
		t.Fatalf("run: %v", err)
	}
	sent := m.Sent()
	if len(sent) != 1 {
		t.Fatalf("%d mails, want the announcement once", len(sent))
	}
	if wait := sent[0].At.Sub(releasetest.T0.Add(time.Second)); wait < release.MailRetry.First {
		t.Errorf("the second try came %s after the refusal, want the policy's %s on the gate's clock", wait, release.MailRetry.First)
	}
}

// A 5xx fails the stage naming the key to fix; nothing was taken.
func TestAnnounceRefusedForGoodNamesTheKey(t *testing.T) {
	t.Parallel()
	r, _, m, st, _ := fakeAnnounce(t, releasetest.T0.Add(time.Second))
	r.Mode.Late = true
	m.Answers = []error{&smtp.Error{Addr: "smtp.example.org:587", Step: smtp.StepRcpt, Outcome: smtp.Permanent,
		Refused: []smtp.Refusal{{Recipient: "announce@lists.example.org", Reply: smtp.ParseReply(550, "5.1.1 no such list")}}}}
	err := releasetest.Execute(t, r, pipeline.Selection{Only: "announce"}, st)
	if err == nil || !releasetest.Mentions(err.Error(), "announce.to", "no such list") {
		t.Fatalf("run: %v, want the refusal naming announce.to", err)
	}
	if n := len(m.Sent()); n != 0 {
		t.Errorf("%d mails taken", n)
	}
}

// The connection lost after the whole mail was handed over: the server
// may have it. The stage fails saying how to look for it; a re-run sends
// nothing, and only --force sends it again, with the same Message-ID.
func TestAnnounceWhoseAnswerWasLostIsNotSentAgainWithoutForce(t *testing.T) {
	t.Parallel()
	r, _, m, st, _ := fakeAnnounce(t, releasetest.T0.Add(time.Second))
	r.Mode.Late = true
	m.Answers = []error{&smtp.Error{Addr: "smtp.example.org:587", Step: smtp.StepMessage, Outcome: smtp.Unknown, Err: errors.New("connection reset by peer")}}
	err := releasetest.Execute(t, r, pipeline.Selection{Only: "announce"}, st)
	var rerun *pipeline.RerunError
	if !errors.As(err, &rerun) || !rerun.Force || !releasetest.Mentions(err.Error(), "may have been accepted", wantAnnouncementID, "`embargo run --only announce --force`") {
		t.Fatalf("run: %v, want the unknown outcome with the Message-ID and --only announce --force", err)
	}
	// Forced alone: --force from announce on would replace the post and
	// the GHSA too.
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.From != release.Announce || !se.Force || !se.Only {
		t.Errorf("the run's error %+v, want a re-run of announce alone with --force", se)
	}
	if n := len(m.Sent()); n != 1 {
		t.Fatalf("%d mails taken, want the one whose answer was lost", n)
	}
	err = releasetest.Execute(t, r, pipeline.Selection{Only: "announce"}, st)
	if !errors.As(err, &rerun) || !strings.Contains(err.Error(), wantAnnouncementID) {
		t.Fatalf("re-run: %v, want the same refusal to resend", err)
	}
	if n := len(m.Sent()); n != 1 {
		t.Fatalf("%d mails after a re-run without --force, want 1", n)
	}
	r.Mode.Force = true
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "announce"}, st); err != nil {
		t.Fatalf("re-run with --force: %v", err)
	}
	sent := m.Sent()
	if len(sent) != 2 || !bytes.Contains(sent[1].Bytes, []byte(wantAnnouncementID)) {
		t.Fatalf("%d mails after --force, want the announcement again (same Message-ID)", len(sent))
	}
}

// A run stopped after it handed a mail over and before it recorded the
// answer leaves only the hand-over in the journal: the next run does not
// send it blindly.
func TestAnnounceHandedOverWithoutAnAnswerIsNotSentAgain(t *testing.T) {
	t.Parallel()
	r, _, m, st, _ := fakeAnnounce(t, releasetest.T0.Add(time.Second))
	r.Mode.Late = true
	releasetest.Record(t, r, sentSteps.Handed, release.MailHanded{MessageID: wantAnnouncementID, Try: 1, At: releasetest.T0})
	err := releasetest.Execute(t, r, pipeline.Selection{Only: "announce"}, st)
	if err == nil || !releasetest.Mentions(err.Error(), "stopped after it handed the mail", wantAnnouncementID, "--force") {
		t.Fatalf("run: %v, want the unknown outcome", err)
	}
	if n := len(m.Sent()); n != 0 {
		t.Errorf("%d mails sent again", n)
	}
}

// The password, the key and its passphrase are in no output and nowhere
// in the journal.
func TestAnnounceWritesNoSecret(t *testing.T) {
	t.Parallel()
	r, _, _, st, out := fakeAnnounce(t, releasetest.T0.Add(time.Second))
	r.Mode.Late = true
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "announce"}, st); err != nil {
		t.Fatal(err)
	}
	journal, err := os.ReadFile(filepath.Join(r.StateDir, "journal.json"))
	if err != nil {
		t.Fatal(err)
	}
	key := releasetest.SigningKey(t)
	keyBody := strings.Split(key, "\n")[3] // a line of the key's base64
	for _, s := range []string{releasetest.SMTPPassword, releasetest.Passphrase, keyBody} {
		if strings.Contains(out.String(), s) || bytes.Contains(journal, []byte(s)) {
			t.Errorf("a secret (%.8s…) is in the output or the journal", s)
		}
	}
	if !bytes.Contains(journal, []byte(strings.Trim(wantAnnouncementID, "<>"))) {
		t.Error("the journal does not record the announcement: the scan proves nothing")
	}
}

// The announcement accepted, announce.from moved to another domain gives
// it another Message-ID: the re-run sends nothing, naming both
// Message-IDs, and only --force mails it under the new one.
func TestAnnounceAcceptedIsNotSentAgainUnderAnotherMessageID(t *testing.T) {
	t.Parallel()
	r, _, m, st, _ := fakeAnnounce(t, releasetest.T0.Add(time.Second))
	r.Mode.Late = true
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "announce"}, st); err != nil {
		t.Fatalf("run: %v", err)
	}
	sent := len(m.Sent())
	r.Config.Announce.From = "demo security <security@mail.demo.rs>"
	newID := release.MessageID(r.Config, release.Announcement)
	err := releasetest.Execute(t, r, pipeline.Selection{Only: "announce"}, st)
	if err == nil || !releasetest.Mentions(err.Error(), "was accepted", wantAnnouncementID, newID, "announce.from", "--force") {
		t.Fatalf("re-run with another sender domain: %v, want a refusal naming both Message-IDs and --force", err)
	}
	if n := len(m.Sent()); n != sent {
		t.Fatalf("%d mails after the re-run, want the first run's %d", n, sent)
	}
	r.Mode.Force = true
	if err := releasetest.Execute(t, r, pipeline.Selection{Only: "announce"}, st); err != nil {
		t.Fatalf("re-run with --force: %v", err)
	}
	all := m.Sent()
	if len(all) <= sent || !bytes.Contains(all[sent].Bytes, []byte("Message-ID: "+newID)) {
		t.Fatalf("--force sent %d mail(s), want the announcement under %s", len(all)-sent, newID)
	}
}
