package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/demo"
	"github.com/async-rs/embargo/sandbox/mailserver"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// notifyT0 is the T0 of the notify tests' world.
var notifyT0 = time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)

// notifyWorld is the example release (its held branches in a source
// clone, its public repository on this disk) with [announce] naming the
// sandbox mail server, which asks for a login.
type notifyWorld struct {
	t      *testing.T
	config string
	server *mailserver.Server
	env    map[string]string
}

func newNotifyWorld(t *testing.T) *notifyWorld {
	t.Helper()
	srv, err := mailserver.Start(mailserver.Options{User: "security@demo.rs", Password: releasetest.SMTPPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	reg, err := registry.Start("", registry.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	dir := t.TempDir()
	ex, err := demo.Build(dir, demo.Options{T0: notifyT0, RegistryIndex: reg.IndexURL(), RegistryTokenEnv: "EMBARGO_REGISTRY_TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(ex.Config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(`
[announce]
smtp            = "` + srv.Addr() + `"
user            = "security@demo.rs"
password_env    = "EMBARGO_SMTP_PASSWORD"
from            = "demo security <security@demo.rs>"
to              = ["announce@lists.example.org"]
notice          = ["oss-security@lists.example.org"]
signing_key_env = "EMBARGO_SIGNING_KEY"
passphrase_env  = "EMBARGO_SIGNING_PASSPHRASE"
private         = ["distros@vs.example.org"]
`); err != nil {
		t.Fatal(err)
	}
	return &notifyWorld{t: t, config: ex.Config, server: srv, env: releasetest.AnnounceEnv(t)}
}

// embargo runs the command line at now, in the world's environment.
func (w *notifyWorld) embargo(now time.Time, args ...string) (code int, stdout, stderr string) {
	w.t.Helper()
	var out, errb bytes.Buffer
	a := newApp(&out, &errb, func(k string) (string, bool) { v, ok := w.env[k]; return v, ok }, pipeline.NewFakeClock(now))
	code = a.execute(context.Background(), append(args, "-c", w.config))
	return code, out.String(), errb.String()
}

func (w *notifyWorld) journal() string {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(w.config), ".embargo", "journal.json"))
	if err != nil && !os.IsNotExist(err) {
		w.t.Fatal(err)
	}
	return string(b)
}

// The pre-notice goes to announce.private and to nobody else, through the
// server with the login: [vs] and the planned date in its subject, the
// advisory's text and versions in its body, every line's held fixes
// attached as patches; the journal records the server's acceptance, and
// plan and status say when the distros were notified.
func TestNotifySendsThePreNoticeToThePrivateRecipientsOnly(t *testing.T) {
	w := newNotifyWorld(t)
	now := notifyT0.Add(-4 * 24 * time.Hour)
	code, stdout, stderr := w.embargo(now, "notify")
	if code != ExitOK {
		t.Fatalf("notify: exit %d\n%s%s", code, stdout, stderr)
	}
	msgs := w.server.Messages()
	if len(msgs) != 1 {
		t.Fatalf("the server took %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if strings.Join(m.To, ",") != "distros@vs.example.org" || m.From != "security@demo.rs" || m.User != "security@demo.rs" {
		t.Errorf("envelope from %s to %v (login %q), want distros@vs.example.org only, from security@demo.rs with its login", m.From, m.To, m.User)
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"To", "Cc", "Bcc"} {
		for _, public := range []string{"announce@lists.example.org", "oss-security@lists.example.org"} {
			if strings.Contains(msg.Header.Get(h), public) {
				t.Errorf("%s: %s names the public list %s", h, msg.Header.Get(h), public)
			}
		}
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if !strings.HasPrefix(subject, "[vs] ") || !strings.Contains(subject, "2026-12-01 14:00 UTC") {
		t.Errorf("subject %q, want [vs] and the planned date", subject)
	}
	text, patches := readParts(t, msg)
	for _, want := range []string{"2026-12-01 14:00 UTC", "Patched versions:", "Affected versions"} {
		if !strings.Contains(text, want) {
			t.Errorf("the notice does not say %q:\n%s", want, text)
		}
	}
	if len(patches) == 0 {
		t.Fatalf("no patch attached")
	}
	for name, p := range patches {
		if !strings.HasSuffix(name, ".patch") || !strings.Contains(p, "diff --git") {
			t.Errorf("attachment %s is not a patch:\n%.300s", name, p)
		}
	}
	for _, s := range []string{releasetest.SMTPPassword, releasetest.Passphrase} {
		if strings.Contains(stdout+stderr+w.journal(), s) {
			t.Errorf("a secret (%.6s…) is in the output or the journal", s)
		}
	}
	if !strings.Contains(stdout, "distros notified at") || !strings.Contains(stdout, m.QueueID) {
		t.Errorf("notify does not say it notified the distros with the queue id %s:\n%s", m.QueueID, stdout)
	}

	// status and plan read it from the journal.
	_, status, _ := w.embargo(now.Add(time.Hour), "status")
	if !strings.Contains(status, "distros notified 2026-11-27 14:00:00Z") || !strings.Contains(status, msg.Header.Get("Message-ID")) {
		t.Errorf("status does not say when the distros were notified:\n%s", status)
	}
	if strings.Contains(status, "  notify ") {
		t.Errorf("status lists notify among the stages:\n%s", status)
	}
	_, js, _ := w.embargo(now.Add(time.Hour), "status", "--json")
	var st Status
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatal(err)
	}
	if st.Distros == nil || !st.Distros.Notified || st.Distros.QueueID != m.QueueID || st.Distros.By != "embargo notify" {
		t.Errorf("status --json distros = %+v, want notified by embargo notify, queue id %s", st.Distros, m.QueueID)
	}
	_, plan, _ := w.embargo(now.Add(time.Hour), "plan")
	if !strings.Contains(plan, "distros   2026-11-27 14:00:00Z: linux-distros notified by embargo notify") {
		t.Errorf("plan's calendar does not show the notice:\n%s", plan)
	}
}

// readParts reads the notice's text and its attachments, by name.
func readParts(t *testing.T, msg *netmail.Message) (string, map[string]string) {
	t.Helper()
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	var text string
	files := map[string]string{}
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		b := new(bytes.Buffer)
		if _, err := b.ReadFrom(decoded(p)); err != nil {
			t.Fatal(err)
		}
		if name := p.FileName(); name != "" {
			files[name] = b.String()
		} else {
			text += b.String()
		}
	}
	return text, files
}

// A second notify sends nothing and says when the first did; --force
// sends it again, with the same Message-ID.
func TestNotifyTwiceSendsOnce(t *testing.T) {
	w := newNotifyWorld(t)
	now := notifyT0.Add(-5 * 24 * time.Hour)
	if code, stdout, stderr := w.embargo(now, "notify"); code != ExitOK {
		t.Fatalf("notify: exit %d\n%s%s", code, stdout, stderr)
	}
	// Even once the window has closed: it was sent.
	code, stdout, stderr := w.embargo(notifyT0.Add(-time.Hour), "notify")
	if code != ExitOK || !strings.Contains(stdout, "notified at 2026-11-26 14:00:00Z already") || len(w.server.Messages()) != 1 {
		t.Fatalf("second notify: exit %d, %d messages sent in all, want 0 and 1\n%s%s", code, len(w.server.Messages()), stdout, stderr)
	}
	if code, stdout, stderr := w.embargo(now.Add(time.Hour), "notify", "--force"); code != ExitOK || len(w.server.Messages()) != 2 {
		t.Fatalf("notify --force: exit %d, %d messages in all, want 2\n%s%s", code, len(w.server.Messages()), stdout, stderr)
	}
	id := func(m mailserver.Message) string {
		msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		return msg.Header.Get("Message-ID")
	}
	if ms := w.server.Messages(); id(ms[0]) != id(ms[1]) {
		t.Errorf("--force sent %s, the first %s: want the same Message-ID", id(ms[1]), id(ms[0]))
	}
}

// Outside the window notify sends nothing and exits 1, saying when the
// window opens or closed and what to do; under 72 hours --short-notice
// sends it, after T0 nothing does.
func TestNotifyRefusesOutsideTheWindow(t *testing.T) {
	w := newNotifyWorld(t)
	for _, c := range []struct {
		name string
		at   time.Time
		args []string
		says []string
	}{
		{"15 days before T0", notifyT0.Add(-15 * 24 * time.Hour), nil, []string{"window opens at 2026-11-17 14:00:00Z", "in 1d", "again from 2026-11-17"}},
		{"48 hours before T0", notifyT0.Add(-48 * time.Hour), nil, []string{"window closed at 2026-11-28 14:00:00Z", "--short-notice"}},
		{"after T0", notifyT0.Add(time.Minute), []string{"--short-notice"}, []string{"T0 2026-12-01 14:00:00Z has passed", "oss-security"}},
	} {
		code, stdout, stderr := w.embargo(c.at, append([]string{"notify"}, c.args...)...)
		if code != ExitFailed {
			t.Errorf("%s: exit %d, want %d\n%s%s", c.name, code, ExitFailed, stdout, stderr)
		}
		for _, s := range append(c.says, "Nothing was sent") {
			if !strings.Contains(stderr, s) {
				t.Errorf("%s: does not say %q:\n%s", c.name, s, stderr)
			}
		}
	}
	if n := len(w.server.Messages()); n != 0 {
		t.Fatalf("%d messages sent outside the window", n)
	}
	if code, stdout, stderr := w.embargo(notifyT0.Add(-48*time.Hour), "notify", "--short-notice"); code != ExitOK || len(w.server.Messages()) != 1 {
		t.Fatalf("notify --short-notice 48h before T0: exit %d, %d messages\n%s%s", code, len(w.server.Messages()), stdout, stderr)
	}
}

// A login the server refuses fails notify naming announce.password_env,
// without the password; a config without private recipients is bad usage.
func TestNotifyRefusedLoginNamesThePasswordVariable(t *testing.T) {
	w := newNotifyWorld(t)
	w.env[releasetest.SMTPPasswordEnv] = "wrong-password-77c1"
	code, stdout, stderr := w.embargo(notifyT0.Add(-4*24*time.Hour), "notify")
	if code != ExitFailed || !strings.Contains(stdout+stderr, "announce.password_env") || !strings.Contains(stdout+stderr, "EMBARGO_SMTP_PASSWORD") {
		t.Errorf("refused login: exit %d, want 1 naming announce.password_env\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr+w.journal(), "wrong-password-77c1") {
		t.Errorf("the password is in the output or the journal")
	}
	if len(w.server.Messages()) != 0 {
		t.Errorf("a message was taken")
	}
	if _, ok := release.DistrosNotified(mustReadJournal(t, w)); ok {
		t.Errorf("the journal records the distros notified")
	}

	src, err := os.ReadFile(w.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.config, bytes.Replace(src, []byte(`private         = ["distros@vs.example.org"]`), nil, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = w.embargo(notifyT0.Add(-4*24*time.Hour), "notify")
	if code != ExitUsage || !strings.Contains(stderr, "announce.private") || !strings.Contains(stderr, "embargo.toml") {
		t.Errorf("no private recipient: exit %d, want 2 naming the file and announce.private\n%s", code, stderr)
	}
}

func mustReadJournal(t *testing.T, w *notifyWorld) *pipeline.Journal {
	t.Helper()
	j, err := pipeline.ReadJournal(filepath.Join(filepath.Dir(w.config), ".embargo", "journal.json"))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// decoded is a part's content, its base64 undone.
func decoded(p *multipart.Part) io.Reader {
	if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
		return base64.NewDecoder(base64.StdEncoding, p)
	}
	return p
}

// A notify --force the server refuses, or that it takes, leaves the
// record that the distros were notified, and when: plan, status and a
// plain notify go by the first acceptance.
func TestNotifyForcedAgainKeepsWhenTheDistrosWereFirstNotified(t *testing.T) {
	w := newNotifyWorld(t)
	first := notifyT0.Add(-5 * 24 * time.Hour)
	if code, stdout, stderr := w.embargo(first, "notify"); code != ExitOK {
		t.Fatalf("notify: exit %d\n%s%s", code, stdout, stderr)
	}
	notifiedAt := func(when string) time.Time {
		t.Helper()
		s, ok := release.DistrosNotified(mustReadJournal(t, w))
		if !ok {
			t.Fatalf("%s, the journal says the distros were never notified", when)
		}
		return s.AcceptedAt
	}
	password := w.env[releasetest.SMTPPasswordEnv]
	w.env[releasetest.SMTPPasswordEnv] = "wrong-password-77c1"
	if code, stdout, stderr := w.embargo(first.Add(time.Hour), "notify", "--force"); code != ExitFailed {
		t.Fatalf("notify --force with a refused login: exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	if at := notifiedAt("after a refused notify --force"); !at.Equal(first) {
		t.Errorf("after a refused notify --force the distros were notified at %s, want %s", at, first)
	}
	w.env[releasetest.SMTPPasswordEnv] = password
	code, stdout, stderr := w.embargo(first.Add(2*time.Hour), "notify")
	if code != ExitOK || !strings.Contains(stdout, "notified at 2026-11-26 14:00:00Z already") || len(w.server.Messages()) != 1 {
		t.Fatalf("plain notify after a refused --force: exit %d, %d messages in all, want 1 and nothing sent\n%s%s", code, len(w.server.Messages()), stdout, stderr)
	}
	if code, stdout, stderr := w.embargo(first.Add(3*time.Hour), "notify", "--force"); code != ExitOK || len(w.server.Messages()) != 2 {
		t.Fatalf("notify --force: exit %d, %d messages in all, want 2\n%s%s", code, len(w.server.Messages()), stdout, stderr)
	}
	if at := notifiedAt("after notify --force"); !at.Equal(first) {
		t.Errorf("after notify --force the distros were notified at %s, want the first acceptance %s", at, first)
	}
	_, stdout, _ = w.embargo(first.Add(4*time.Hour), "status")
	if !strings.Contains(stdout, "2026-11-26 14:00") {
		t.Errorf("status does not say the distros were notified at the first acceptance:\n%s", stdout)
	}
}
