package e2e

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/internal/mailtest"
	"github.com/async-rs/embargo/pipeline"
	core "github.com/async-rs/embargo/stages/release"
)

// withPreNotice adds [announce] to the release's config: the pre-notice to
// the distros list through server, with a login, encrypted to the list's
// key when pubkey is set, signed with the team's key when team is set.
func (rl *release) withPreNotice(server string, pubkey []byte, team *teamKey) {
	rl.t.Helper()
	section := `
[announce]
smtp         = "` + server + `"
user         = "security@demo.rs"
password_env = "` + smtpPasswordEnv + `"
from         = "demo security <security@demo.rs>"
notice       = ["oss-security@lists.example.org"]
private      = ["distros@vs.example.org"]
`
	if pubkey != nil {
		if err := os.WriteFile(filepath.Join(filepath.Dir(rl.config), "distros.asc"), pubkey, 0o644); err != nil {
			rl.t.Fatal(err)
		}
		section += "private_pubkey_file = \"distros.asc\"\n"
	}
	if team != nil {
		section += "signing_key_env = \"" + signingKeyEnv + "\"\npassphrase_env = \"" + passphraseEnv + "\"\n"
	}
	f, err := os.OpenFile(rl.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		rl.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(section); err != nil {
		rl.t.Fatal(err)
	}
}

// embargo notify, four days before T0, sends the pre-notice to Debian's
// aiosmtpd for the distros list alone, encrypted to the list's key: gpg
// opens it, its subject carries [vs] and the planned date, and each
// line's patches apply to a clone of its public branch. A second notify
// sends nothing; status says when the distros were notified.
func TestNotifySendsTheEncryptedPreNoticeThatTheDistrosCanApply(t *testing.T) {
	requireTool(t, "git")
	requireTool(t, "gpg")
	t0 := time.Now().Add(4 * 24 * time.Hour).Truncate(time.Second)
	rl := newRelease(t, t0)
	srv := mailtest.StartAiosmtpd(t, mailtest.AiosmtpdOptions{User: "security@demo.rs", Password: smtpPassword})
	// The list's gpg has its own key and knows the team's public key.
	team := newTeamKey(t)
	list := team.reader
	fpr := list.GenerateKey(t, "distros <distros@vs.example.org>", "future-default", "default", "never", "")
	rl.withPreNotice(srv.Addr, list.ExportPublic(t, fpr), &team)
	env := append([]string{smtpPasswordEnv + "=" + smtpPassword}, team.env...)

	res := rl.run([]string{"notify"}, env...)
	if res.code != 0 {
		t.Fatalf("notify: %s\n%s", res, srv.Log())
	}
	rl.assertNoSecret(res.stdout, res.stderr)
	rl.assertAbsent(mailSecrets(env), res.stdout, res.stderr)
	msgs := srv.Messages(t)
	if len(msgs) != 1 {
		t.Fatalf("aiosmtpd delivered %d messages, want 1", len(msgs))
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(msgs[0]))
	if err != nil {
		t.Fatal(err)
	}
	// aiosmtpd's Mailbox records the envelope's recipients.
	if rcpt := msg.Header.Get("X-RcptTo"); rcpt != "distros@vs.example.org" {
		t.Errorf("delivered to %q, want distros@vs.example.org alone", rcpt)
	}
	subject := msg.Header.Get("Subject")
	if !strings.HasPrefix(subject, "[vs] ") || !strings.Contains(subject, t0.UTC().Format("2006-01-02 15:04 UTC")) {
		t.Errorf("subject %q, want [vs] and the planned date", subject)
	}
	if mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type")); mt != "multipart/encrypted" || params["protocol"] != "application/pgp-encrypted" {
		t.Fatalf("Content-Type %q, want the notice encrypted (RFC 3156)", msg.Header.Get("Content-Type"))
	}
	outer := mimeParts(t, msg)
	if len(outer) != 2 {
		t.Fatalf("the encrypted message has %d parts, want 2", len(outer))
	}
	opened, v, err := list.DecryptVerified(t, outer[1].data)
	if err != nil {
		t.Fatalf("the pre-notice is not signed by a key the list knows: %v", err)
	}
	if v.Fingerprint != team.fpr {
		t.Errorf("the pre-notice is signed by %s, want the team's key %s", v.Fingerprint, team.fpr)
	}
	inner, err := netmail.ReadMessage(bytes.NewReader(opened))
	if err != nil {
		t.Fatal(err)
	}
	parts := mimeParts(t, inner)
	text := string(parts[0].data)
	if !strings.Contains(text, t0.UTC().Format("2006-01-02 15:04 UTC")) || !strings.Contains(text, "Patched versions:") {
		t.Errorf("the notice's text lacks the planned date or the patched versions:\n%s", text)
	}

	// Each line's patches apply, in order, to its public branch.
	cfg, err := config.Load(rl.config)
	if err != nil {
		t.Fatal(err)
	}
	clone := filepath.Join(t.TempDir(), "public")
	gitCmd(t, filepath.Dir(clone), "clone", "-q", rl.ex.World.Public, clone)
	patchDir := t.TempDir()
	for _, rel := range cfg.Releases {
		var names []string
		for _, p := range parts[1:] {
			if strings.HasPrefix(p.name, rel.Line+"-") {
				names = append(names, p.name)
				if err := os.WriteFile(filepath.Join(patchDir, p.name), p.data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		if len(names) == 0 {
			t.Errorf("no patch of release %s attached", rel.Line)
			continue
		}
		sort.Strings(names)
		gitCmd(t, clone, "checkout", "-q", "-f", "-B", "check-"+rel.Line, "origin/"+rel.PublicBranch)
		for _, n := range names {
			gitCmd(t, clone, "apply", "--check", filepath.Join(patchDir, n))
			gitCmd(t, clone, "apply", "--index", filepath.Join(patchDir, n))
		}
		// Applied, the patches give the held tip's tree.
		if got, want := gitCmd(t, clone, "write-tree"), gitCmd(t, rl.ex.World.Source, "rev-parse", rel.Branch+"^{tree}"); got != want {
			t.Errorf("release %s: the patches applied give tree %s, the held branch has %s", rel.Line, got, want)
		}
	}

	again := rl.run([]string{"notify"}, env...)
	if again.code != 0 || !strings.Contains(again.stdout, "already") || len(srv.Messages(t)) != 1 {
		t.Errorf("second notify: want exit 0, nothing sent\n%s", again)
	}
	status := rl.run([]string{"status"})
	if !strings.Contains(status.stdout, "distros notified ") || !strings.Contains(status.stdout, msg.Header.Get("Message-ID")) {
		t.Errorf("status does not say when the distros were notified:\n%s", status)
	}
}

// Under 72 hours before T0 notify refuses and nothing reaches the server;
// --short-notice sends it.
func TestNotifyUnder72HoursNeedsShortNotice(t *testing.T) {
	requireTool(t, "git")
	rl := newRelease(t, time.Now().Add(48*time.Hour))
	srv := mailtest.StartAiosmtpd(t, mailtest.AiosmtpdOptions{User: "security@demo.rs", Password: smtpPassword})
	rl.withPreNotice(srv.Addr, nil, nil)
	res := rl.run([]string{"notify"}, smtpPasswordEnv+"="+smtpPassword)
	if res.code != 1 || !strings.Contains(res.stderr, "window closed") || !strings.Contains(res.stderr, "--short-notice") {
		t.Errorf("notify 48 hours before T0: want exit 1 saying the window closed\n%s", res)
	}
	if n := len(srv.Messages(t)); n != 0 {
		t.Fatalf("%d messages delivered after a refusal", n)
	}
	res = rl.run([]string{"notify", "--short-notice"}, smtpPasswordEnv+"="+smtpPassword)
	if res.code != 0 || len(srv.Messages(t)) != 1 {
		t.Fatalf("notify --short-notice: want exit 0 and one message\n%s", res)
	}
}

type mimePart struct {
	name string
	data []byte
}

// mimeParts reads a multipart message's parts, their transfer encoding
// undone.
func mimeParts(t *testing.T, msg *netmail.Message) []mimePart {
	t.Helper()
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	var out []mimePart
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			body = base64.NewDecoder(base64.StdEncoding, p)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, mimePart{name: p.FileName(), data: b})
	}
}

// A notify killed (kill -9) after the server took the pre-notice and
// before the journal recorded its answer cannot know whether the list has
// it: a second notify sends nothing and fails, naming the Message-ID and
// --force; notify --force sends it once more with the same Message-ID, and
// a notify after that sends nothing.
func TestNotifyKilledBeforeItRecordedTheServersAnswerDoesNotResendBlindly(t *testing.T) {
	requireTool(t, "git")
	rl := newRelease(t, time.Now().Add(4*24*time.Hour).Truncate(time.Second))
	srv := mailtest.StartAiosmtpd(t, mailtest.AiosmtpdOptions{User: "security@demo.rs", Password: smtpPassword})
	rl.withPreNotice(srv.Addr, nil, nil)
	env := []string{smtpPasswordEnv + "=" + smtpPassword}
	// The end of the step that hands the notice over: the server's
	// answer is in, the journal does not have it.
	point := core.Notify + "." + core.DistrosSentKey.Step + ".ran"

	crash := rl.run([]string{"notify"}, append(slices.Clip(env), pipeline.CheckpointEnv+"="+point)...)
	if !crash.killed {
		t.Fatalf("notify was not killed at %s: %s", point, crash)
	}
	msgs := srv.Messages(t)
	if len(msgs) != 1 {
		t.Fatalf("the server holds %d notices after the kill, want the one it took", len(msgs))
	}
	id := messageID(t, msgs[0])

	res := rl.run([]string{"notify"}, env...)
	out := res.stdout + res.stderr
	if res.code != 1 || !strings.Contains(out, "may have been accepted") || !strings.Contains(out, id) || !strings.Contains(out, "embargo notify --force") {
		t.Errorf("notify after the kill: want exit 1 saying the notice may have been accepted, naming %s and `embargo notify --force`\n%s", id, res)
	}
	if n := len(srv.Messages(t)); n != 1 {
		t.Fatalf("notify after the kill sent the notice again without --force: the server holds %d", n)
	}

	forced := rl.run([]string{"notify", "--force"}, env...)
	if forced.code != 0 {
		t.Fatalf("notify --force: %s", forced)
	}
	again := rl.run([]string{"notify"}, env...)
	if again.code != 0 || !strings.Contains(again.stdout, "already") {
		t.Errorf("notify after the forced one: want exit 0, nothing sent\n%s", again)
	}
	msgs = srv.Messages(t)
	if len(msgs) != 2 {
		t.Fatalf("the server holds %d notices, want 2: the one before the kill and the forced one", len(msgs))
	}
	if second := messageID(t, msgs[1]); second != id {
		t.Errorf("the forced notice has Message-ID %s, want the first one's %s", second, id)
	}
}
