package e2e

import (
	"bytes"
	"encoding/base64"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/async-rs/embargo/internal/mailtest"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/demo"
	"github.com/async-rs/embargo/sandbox/gitserver"
	"github.com/async-rs/embargo/sandbox/mailserver"
	"github.com/async-rs/embargo/sandbox/registry"
	core "github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/seal"
)

// The secrets of the mail: the login's password, the signing key's
// passphrase and variables.
const (
	smtpPasswordEnv = "EMBARGO_SMTP_PASSWORD"
	smtpPassword    = "smtp-e2e-4c81f09b7d"
	signingKeyEnv   = "EMBARGO_SIGNING_KEY"
	passphraseEnv   = "EMBARGO_SIGNING_PASSPHRASE"
	passphrase      = "e2e passphrase 5d0a"
)

// newAnnounceRelease is the example with an [announce] section mailing
// through addr as the project's server would: with a login when user is
// set, signed with a key the real gpg made, which reader (a gpg that knows
// only its public key) verifies.
func newAnnounceRelease(t *testing.T, t0 time.Time, addr, user string) (rl *release, env []string, reader *mailtest.GPG) {
	t.Helper()
	rl = buildReleaseWith(t, t0, gitserver.Options{}, &registry.Options{}, func(o *demo.Options) { o.Announce = true })
	key := newTeamKey(t)
	rl.announceThrough(addr, user)
	return rl, append([]string{smtpPasswordEnv + "=" + smtpPassword}, key.env...), key.reader
}

// teamKey is the security team's signing key, made by the real gpg with a
// passphrase: the variables that carry it (signing_key_env and
// passphrase_env), and a gpg that knows only its public key, and its
// fingerprint.
type teamKey struct {
	env    []string
	reader *mailtest.GPG
	fpr    string
}

func newTeamKey(t *testing.T) teamKey {
	t.Helper()
	team := mailtest.NewGPG(t)
	// Made a day ago, as a team's key is made long before the T0 it signs
	// at, whether T0 is ahead or just passed.
	fpr := team.GenerateKeyMadeAt(t, time.Now().Add(-24*time.Hour), "demo security <security@demo.rs>", "ed25519", "sign", "never", passphrase)
	reader := mailtest.NewGPG(t)
	reader.Import(t, team.ExportPublic(t, fpr))
	return teamKey{env: []string{signingKeyEnv + "=" + string(team.ExportSecret(t, fpr, passphrase, false)), passphraseEnv + "=" + passphrase}, reader: reader, fpr: fpr}
}

// announceThrough gives the release's config an [announce] section, in
// place of the example's if it has one, mailing through addr with a login
// when user is set, signed with the key of teamKey's variables.
func (rl *release) announceThrough(addr, user string) {
	t := rl.t
	t.Helper()
	section := "[announce]\nsmtp = \"" + addr + "\"\n"
	if user != "" {
		section += "user = \"" + user + "\"\npassword_env = \"" + smtpPasswordEnv + "\"\n"
	}
	section += `from = "demo security <security@demo.rs>"
to = ["demo-announce@lists.demo.rs"]
notice = ["demo-oss-security@lists.demo.rs"]
signing_key_env = "` + signingKeyEnv + `"
passphrase_env = "` + passphraseEnv + `"
`
	text, err := os.ReadFile(rl.config)
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(string(text), "[announce]")
	if !strings.HasSuffix(head, "\n") {
		head += "\n"
	}
	if err := os.WriteFile(rl.config, []byte(head+section), 0o644); err != nil {
		t.Fatal(err)
	}
}

// secrets are the values of env, and a line of the armored key's body.
func mailSecrets(env []string) []string {
	var out []string
	for _, kv := range env {
		_, v, _ := strings.Cut(kv, "=")
		if strings.Contains(v, "BEGIN PGP PRIVATE KEY BLOCK") {
			v = strings.Split(v, "\n")[3]
		}
		out = append(out, v)
	}
	return out
}

// A release at T0 with Debian's aiosmtpd as the mail server: nothing
// arrives before T0, the announcement arrives before the post is pushed
// and the notice, which links to the post, after it; Debian's gpg verifies it in the body and in the attached copy, a re-run
// sends nothing, and no secret is written anywhere.
func TestAnnounceAtT0ThroughAiosmtpdVerifiedByGPG(t *testing.T) {
	t0 := time.Now().Add(6 * time.Second).Truncate(time.Second)
	smtpd := mailtest.StartAiosmtpd(t, mailtest.AiosmtpdOptions{User: "security@demo.rs", Password: smtpPassword})
	rl, env, reader := newAnnounceRelease(t, t0, smtpd.Addr, "security@demo.rs")
	res := rl.run([]string{"run"}, env...)
	if res.code != 0 {
		t.Fatalf("%s\n%s", res, smtpd.Log())
	}
	msgs, arrivals := smtpd.Messages(t), smtpd.Arrivals(t)
	if len(msgs) != 2 {
		t.Fatalf("aiosmtpd received %d mail(s), want the announcement and the notice", len(msgs))
	}
	for _, at := range arrivals {
		if at.Before(t0) {
			t.Errorf("a mail arrived at %s, before T0 %s", at.Format(time.RFC3339Nano), t0.Format(time.RFC3339))
		}
	}
	var announcement []byte
	var announcedAt, noticedAt time.Time
	for i, m := range msgs {
		switch {
		case bytes.Contains(m, []byte(".announcement@demo.rs>")):
			announcement, announcedAt = m, arrivals[i]
		case bytes.Contains(m, []byte(".notice@demo.rs>")):
			noticedAt = arrivals[i]
		}
	}
	if announcement == nil {
		t.Fatalf("no announcement among:\n%s", bytes.Join(msgs, []byte("\n----\n")))
	}
	for i, part := range mailParts(t, announcement) {
		if _, err := reader.Verify(part); err != nil {
			t.Errorf("gpg does not verify part %d of the announcement: %v", i+1, err)
		}
		if !bytes.Contains(part, []byte("demo_core::window")) {
			t.Errorf("part %d of the announcement lacks the advisory:\n%s", i+1, part)
		}
	}

	j, err := pipeline.ReadJournal(filepath.Join(rl.dir, ".embargo", "journal.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pushed time.Time
	for _, st := range j.Steps(core.Advisory) {
		for _, m := range st.FirstMoments() {
			if m.Public {
				pushed = m.At
			}
		}
	}
	if pushed.IsZero() || !announcedAt.Before(pushed) {
		t.Errorf("the announcement arrived at %s, the post was pushed at %s: want the mail first", announcedAt.Format(time.RFC3339Nano), pushed.Format(time.RFC3339Nano))
	}
	if noticedAt.IsZero() || !noticedAt.After(pushed) {
		t.Errorf("the notice arrived at %s, the post was pushed at %s: want the notice after the post it links to", noticedAt.Format(time.RFC3339Nano), pushed.Format(time.RFC3339Nano))
	}

	again := rl.run([]string{"run"}, env...)
	if again.code != 0 {
		t.Fatal(again)
	}
	if n := len(smtpd.Messages(t)); n != 2 {
		t.Errorf("aiosmtpd holds %d mails after a re-run, want the first run's 2", n)
	}
	rl.assertAbsent(mailSecrets(env), res.stdout, res.stderr, again.stdout, again.stderr)
}

// A run killed (kill -9) after Debian's aiosmtpd took the announcement and
// before the journal recorded it cannot know whether the list has it: the
// re-run sends nothing and fails saying so, with the Message-ID to look
// for and `--only announce --force`, then `--from announce`; the forced run
// sends it again under the same Message-ID, signed as gpg verifies, and
// touches nothing else, and the run from announce after that sends
// nothing more.
func TestKill9BetweenAiosmtpdsAcceptanceAndTheJournal(t *testing.T) {
	t.Parallel()
	smtpd := mailtest.StartAiosmtpd(t, mailtest.AiosmtpdOptions{User: "security@demo.rs", Password: smtpPassword})
	rl, env, reader := newAnnounceRelease(t, time.Now().Add(-time.Second).Truncate(time.Second), smtpd.Addr, "security@demo.rs")
	crash := rl.run([]string{"run"}, append(slices.Clip(env), pipeline.CheckpointEnv+"="+acceptedUnrecorded(core.Announcement))...)
	if !crash.killed {
		t.Fatalf("the run was not killed after the announcement was accepted: %s", crash)
	}
	byID := func() map[string]int {
		n := map[string]int{}
		for _, m := range smtpd.Messages(t) {
			n[messageID(t, m)]++
		}
		return n
	}
	took := byID()
	if len(took) != 1 {
		t.Fatalf("aiosmtpd took %v before the kill, want the announcement alone", took)
	}
	var id string
	for id = range took {
	}
	if !strings.Contains(id, ".announcement@") {
		t.Fatalf("aiosmtpd took %s before the kill, want the announcement", id)
	}

	res := rl.run([]string{"run"}, env...)
	out := res.stdout + res.stderr
	next := regexp.MustCompile("next: fix the cause above, then `embargo run (-c \\S+ )?--only announce --force`, then `embargo run (-c \\S+ )?--from announce`")
	if res.code != 1 || !strings.Contains(out, "may have been accepted") || !strings.Contains(out, id) || !next.MatchString(out) {
		t.Fatalf("re-run: %s\nwant exit 1 saying the announcement may have been accepted, naming %s and %q", res, id, next)
	}
	if n := byID(); !maps.Equal(n, took) {
		t.Fatalf("the re-run mailed without --force: aiosmtpd holds %v", n)
	}

	forced := rl.run([]string{"run", "--only", "announce", "--force"}, env...)
	if forced.code != 0 {
		t.Fatalf("run --only announce --force: %s", forced)
	}
	if n := byID(); n[id] != 2 || len(n) != 1 {
		t.Fatalf("after --only announce --force aiosmtpd holds %v, want the announcement %s twice and nothing else", n, id)
	}
	if resumed := rl.run([]string{"run", "--from", "announce"}, env...); resumed.code != 0 {
		t.Fatalf("run --from announce: %s", resumed)
	}
	n := byID()
	if n[id] != 2 || len(n) != 2 {
		t.Fatalf("after --from announce aiosmtpd holds %v, want the announcement %s twice and the notice once", n, id)
	}
	for _, m := range smtpd.Messages(t) {
		if messageID(t, m) == id {
			for i, part := range mailParts(t, m) {
				if _, err := reader.Verify(part); err != nil {
					t.Errorf("gpg does not verify part %d of the announcement sent again: %v", i+1, err)
				}
			}
		}
	}
	if again := rl.run([]string{"run"}, env...); again.code != 0 || !maps.Equal(byID(), n) {
		t.Errorf("a run after the forced one: %s\naiosmtpd holds %v, want %v", again, byID(), n)
	}
	rl.assertAbsent(mailSecrets(env), crash.stdout, crash.stderr, res.stdout, res.stderr, forced.stdout, forced.stderr)
}

// A refused login fails check (exit 1) naming announce.password_env,
// without the password.
func TestCheckWithARefusedLoginNamesThePasswordVariable(t *testing.T) {
	smtpd := mailtest.StartAiosmtpd(t, mailtest.AiosmtpdOptions{User: "security@demo.rs", Password: "the right one"})
	rl, env, _ := newAnnounceRelease(t, time.Now().Add(time.Hour), smtpd.Addr, "security@demo.rs")
	res := rl.run([]string{"check"}, env...)
	if res.code != 1 || !strings.Contains(res.stdout+res.stderr, "announce.password_env") {
		t.Fatalf("check with a refused login: %s\nwant exit 1 naming announce.password_env", res)
	}
	if n := len(smtpd.Messages(t)); n != 0 {
		t.Errorf("check sent %d mail(s)", n)
	}
	rl.assertAbsent(mailSecrets(env), res.stdout, res.stderr)
}

// A rehearsal of a release whose [announce] names the project's server
// (with a login, and a key and password in variables) mails the sandbox's
// server only: the configured one sees not even a connection, none of its
// variables is read, and the signed announcement is shown and written.
func TestRehearsalMailsTheSandboxNeverTheConfiguredServer(t *testing.T) {
	real, err := mailserver.Start(mailserver.Options{User: "security@demo.rs", Password: smtpPassword, TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { real.Close() })
	rl, _, _ := newAnnounceRelease(t, time.Now().Add(24*time.Hour), real.Addr(), "security@demo.rs")
	res := rl.run([]string{"rehearse"})
	if res.code != 0 {
		t.Fatal(res)
	}
	if ev := real.Events(); len(ev) != 0 {
		t.Errorf("the rehearsal reached the configured mail server: %+v", ev)
	}
	if !strings.Contains(res.stdout, "the signature verifies, in the body and the attached copy") {
		t.Errorf("the rehearsal does not show its signed announcement:\n%s", res.stdout)
	}
	written := regexp.MustCompile(`written to (\S+-announcement\.eml)`).FindStringSubmatch(res.stdout)
	if written == nil {
		t.Fatalf("the rehearsal does not say where its announcement is:\n%s", res.stdout)
	}
	b, err := os.ReadFile(written[1])
	if err != nil || !bytes.Contains(b, []byte("BEGIN PGP SIGNED MESSAGE")) {
		t.Errorf("the announcement written to %s: %v\n%s", written[1], err, b)
	}
}

// mailParts are the announcement's body and its attached copy, decoded.
func mailParts(t *testing.T, data []byte) [][]byte {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type of the announcement: %v", err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var out [][]byte
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			break
		}
		var r io.Reader = p
		switch p.Header.Get("Content-Transfer-Encoding") {
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, p)
		case "quoted-printable":
			r = quotedprintable.NewReader(p)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) != 2 {
		t.Fatalf("the announcement has %d part(s), want the signed text and its signed copy", len(out))
	}
	return out
}

// A sealed release with [announce], sealed and then released by a fresh
// runner from the bundle: the bundle carries the recipients, never the
// mail server's password, the signing key (nor any line of it) or its
// passphrase; neither does any output, the journal stored beside the
// bundle, either state directory, the status report or the timeline.
func TestSealedReleaseWithAnnounceWritesNoMailSecret(t *testing.T) {
	t.Parallel()
	smtpd, err := mailserver.Start(mailserver.Options{User: "security@demo.rs", Password: smtpPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtpd.Close() })
	env := append(newTeamKey(t).env, smtpPasswordEnv+"="+smtpPassword)
	secrets := mailSecrets(env)
	sr := withSeal(t, newRelease(t, time.Now().Add(-time.Second).Truncate(time.Second)))
	sr.announceThrough(smtpd.Addr(), "security@demo.rs")
	// The sealed example has no blog: the notice links to a reference.
	cfg, err := os.ReadFile(sr.config)
	if err != nil {
		t.Fatal(err)
	}
	credits := "credits     = [\"A. Reporter\"]\n"
	if !bytes.Contains(cfg, []byte(credits)) {
		t.Fatalf("the example's advisory has no credits line:\n%s", cfg)
	}
	cfg = bytes.Replace(cfg, []byte(credits), []byte(credits+"references  = [\"https://demo.rs/issues/7\"]\n"), 1)
	if err := os.WriteFile(sr.config, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	ref, sealRes := sr.sealAndPush(env...)
	ids := []age.Identity{sr.identity}
	b, err := seal.Pull(t.Context(), ref, ids, seal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string][]byte{"seal.json": b.Manifest, "git": b.Git, "description": b.Description}
	for group, files := range map[string]map[string][]byte{"crates": b.Crates, "lockfiles": b.Lockfiles, "advisory": b.Advisory} {
		for name, data := range files {
			parts[group+"/"+name] = data
		}
	}
	assertNoneIn(t, secrets, parts)

	runner := sr.freshRunner()
	res := runner.run([]string{"run", "--bundle", ref}, append([]string{sr.identityVar()}, env...)...)
	if res.code != 0 {
		t.Fatalf("run --bundle: %s", res)
	}
	if n := len(smtpd.Messages()); n != 2 {
		t.Errorf("the mail server took %d mails from the runner, want the announcement and the notice", n)
	}
	d, err := seal.ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	journal, ok, err := seal.PullJournal(t.Context(), d, ids, seal.Options{})
	if err != nil || !ok {
		t.Fatalf("the journal beside the bundle: stored %v, %v", ok, err)
	}
	timeline := filepath.Join(t.TempDir(), "timeline.svg")
	status := runner.run([]string{"status", "--json", "--svg", timeline})
	if status.code != 0 {
		t.Fatalf("status: %s", status)
	}
	svg, err := os.ReadFile(timeline)
	if err != nil {
		t.Fatal(err)
	}
	assertNoneIn(t, secrets, map[string][]byte{"the journal beside the bundle": journal, "the timeline": svg})
	sr.assertAbsent(secrets, sealRes.stdout, sealRes.stderr)
	runner.assertAbsent(secrets, res.stdout, res.stderr, status.stdout, status.stderr)
}

// assertNoneIn checks no secret is in any of the named files.
func assertNoneIn(t *testing.T, secrets []string, files map[string][]byte) {
	t.Helper()
	if len(files) == 0 {
		t.Fatal("nothing to look in")
	}
	for name, data := range files {
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("a secret of [announce] is in %s", name)
			}
		}
	}
}
