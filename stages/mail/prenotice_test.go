package mail_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"mime"
	netmail "net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/async-rs/embargo/internal/mailtest"
	"github.com/async-rs/embargo/internal/testenv"
	"github.com/async-rs/embargo/stages/mail"
)

// fixes makes a repository with a public commit and two held fixes, and
// returns it with the fixes, oldest first.
func fixes(t *testing.T) (string, []*object.Commit) {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Zoë Müller", Email: "zoe@example.org", When: time.Date(2026, 11, 20, 9, 30, 0, 0, time.FixedZone("", 3600))}
	commit := func(msg string, files map[string]string) *object.Commit {
		for name, content := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := wt.Add(name); err != nil {
				t.Fatal(err)
			}
		}
		h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
		if err != nil {
			t.Fatal(err)
		}
		c, err := repo.CommitObject(h)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	commit("Release 1.13.0\n", map[string]string{"src/task.rs": "fn poll() {\n    run();\n}\n", "Cargo.toml": "version = \"1.13.0\"\n"})
	a := commit("Stop polling a task after it was dropped\n\nThe waker kept a pointer to the freed task.\n", map[string]string{"src/task.rs": "fn poll() {\n    if !dropped() {\n        run();\n    }\n}\n"})
	b := commit("Release 1.13.1\n", map[string]string{"Cargo.toml": "version = \"1.13.1\"\n", "tests/dropped.rs": "#[test]\nfn dropped() {}\n"})
	return dir, []*object.Commit{a, b}
}

// The held fixes, as patches, are what git format-patch makes: git am
// applies them on the public commit and gives the fixes' trees, authors
// and messages.
func TestFormatPatchIsWhatGitAmApplies(t *testing.T) {
	testenv.NeedTool(t, "git", "the patches are applied by the real git am")
	dir, commits := fixes(t)
	patches, err := mail.FormatPatch(commits)
	if err != nil {
		t.Fatal(err)
	}
	if len(patches) != 2 || patches[0].Name != "0001-Stop-polling-a-task-after-it-was-dropped.patch" || patches[1].Name != "0002-Release-1.13.1.patch" {
		t.Fatalf("patches %+v", patches)
	}
	clone := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = clone
		cmd.Env = append(os.Environ(), "GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.org", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("clone", "-q", dir, ".")
	run("reset", "-q", "--hard", commits[0].ParentHashes[0].String())
	var files []string
	for _, p := range patches {
		f := filepath.Join(t.TempDir(), p.Name)
		if err := os.WriteFile(f, p.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	run(append([]string{"am", "-q"}, files...)...)
	if got := run("rev-parse", "HEAD^{tree}"); got != commits[1].TreeHash.String() {
		t.Errorf("git am gives the tree %s, want the fix's %s", got, commits[1].TreeHash)
	}
	if got := run("log", "-1", "--format=%an <%ae> %aI%n%B", "HEAD~1"); got != "Zoë Müller <zoe@example.org> 2026-11-20T09:30:00+01:00\nStop polling a task after it was dropped\n\nThe waker kept a pointer to the freed task." {
		t.Errorf("the first patch applied as\n%s", got)
	}
}

// The pre-notice follows the distros list's instructions: "[vs]" and the
// planned date in the subject, the date, the versions and the advisory in
// the text, the fixes attached; encrypted to the list's key, only the
// list's key opens it (gpg), and what it opens to is the same notice.
func TestThePreNoticeIsEncryptedToTheList(t *testing.T) {
	_, commits := fixes(t)
	patches, err := mail.FormatPatch(commits)
	if err != nil {
		t.Fatal(err)
	}
	list := mailtest.NewGPG(t)
	fpr := list.GenerateKey(t, "distros <distros@vs.openwall.org>", "future-default", "default", "never", "")
	h := mail.Header{From: header.From, To: []string{"distros@vs.openwall.org"}, Date: time.Now().Add(time.Minute)} // sent now, 72 hours before T0

	plain, err := mail.Distros(adv, h, t0, patches, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := mail.Distros(adv, h, t0, patches, list.ExportPublic(t, fpr), nil)
	if err != nil {
		t.Fatal(err)
	}
	if plain.MessageID != enc.MessageID || !strings.Contains(plain.MessageID, ".distros@async.rs>") {
		t.Errorf("Message-IDs %s and %s; want the pre-notice's, the same", plain.MessageID, enc.MessageID)
	}
	date := t0.Format("2006-01-02 15:04 UTC")
	for _, m := range []mail.Message{plain, enc} {
		msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		if s := msg.Header.Get("Subject"); !strings.HasPrefix(s, "[vs] ") || !strings.Contains(s, date) {
			t.Errorf("Subject %q; want [vs] and %s", s, date)
		}
	}
	// Encrypted, the subject names only the package and the date: the
	// headers are read in clear on the way.
	if s := subjectOf(t, enc); s != "[vs] async-std, disclosure planned for "+date {
		t.Errorf("the encrypted pre-notice's subject is %q; want only the package and the planned date", s)
	}
	for _, id := range []string{adv.CVE, adv.ID, adv.Title} {
		if s := subjectOf(t, enc); strings.Contains(s, id) {
			t.Errorf("the encrypted pre-notice's subject %q names %s in clear", s, id)
		}
	}
	if bytes.Contains(enc.Data, []byte("dropped")) || bytes.Contains(enc.Data, []byte("1.13.1")) {
		t.Errorf("the encrypted pre-notice shows the issue in clear:\n%s", enc.Data)
	}

	msg, err := netmail.ReadMessage(bytes.NewReader(enc.Data))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if mt != "multipart/encrypted" || params["protocol"] != "application/pgp-encrypted" {
		t.Fatalf("Content-Type %q; want RFC 3156's multipart/encrypted", msg.Header.Get("Content-Type"))
	}
	ps := parts(t, msg)
	if len(ps) != 2 || !strings.Contains(string(ps[0].data), "Version: 1") {
		t.Fatalf("the encrypted message's parts: %+v", ps)
	}
	inner, err := netmail.ReadMessage(bytes.NewReader(list.Decrypt(t, ps[1].data)))
	if err != nil {
		t.Fatal(err)
	}
	got := parts(t, inner)
	if len(got) != 3 || got[1].name != patches[0].Name || !bytes.Equal(got[1].data, patches[0].Data) || !bytes.Equal(got[2].data, patches[1].Data) {
		t.Fatalf("the decrypted notice has %d parts; want the text and both patches, byte for byte", len(got))
	}
	for _, want := range []string{date, "1.13.1, 1.12.3", "< 1.13.1", "Zoë Müller", "git am"} {
		if !strings.Contains(string(got[0].data), want) {
			t.Errorf("the notice's text has no %q:\n%s", want, got[0].data)
		}
	}
}

// Signed with the team's key, the pre-notice is the team's to the list:
// sent in clear, its text as delivered by a real SMTP server is verified
// by gpg, and the patches' SHA-256 in that text are those of the patches
// attached, so the signature covers them; encrypted to the list's key,
// gpg --decrypt opens it and reports a good signature by the team's key.
func TestThePreNoticeIsSignedByTheTeam(t *testing.T) {
	_, commits := fixes(t)
	patches, err := mail.FormatPatch(commits)
	if err != nil {
		t.Fatal(err)
	}
	team, reader := signingKey(t)
	h := mail.Header{From: header.From, To: []string{"distros@vs.openwall.org"}, Date: time.Now().Add(time.Minute)}

	plain, err := mail.Distros(adv, h, t0, patches, nil, team)
	if err != nil {
		t.Fatal(err)
	}
	ps := parts(t, deliver(t, plain))
	if len(ps) != 3 {
		t.Fatalf("the signed pre-notice has %d parts; want the text and both patches", len(ps))
	}
	v, err := reader.Verify(ps[0].data)
	if err != nil {
		t.Fatalf("the delivered text: %v\n%s", err, ps[0].data)
	}
	if v.Fingerprint != team.Fingerprint() {
		t.Errorf("the text is signed by %s, want the team's %s", v.Fingerprint, team.Fingerprint())
	}
	signed := string(reader.Decrypt(t, ps[0].data))
	for i, p := range patches {
		if !bytes.Equal(ps[i+1].data, p.Data) {
			t.Errorf("attachment %d is not the patch %s byte for byte", i+1, p.Name)
		}
		if sum := fmt.Sprintf("%x  %s", sha256.Sum256(ps[i+1].data), ps[i+1].name); !strings.Contains(signed, sum) {
			t.Errorf("the signed text does not list the attached %s as %q:\n%s", ps[i+1].name, sum, signed)
		}
	}

	list := mailtest.NewGPG(t)
	fpr := list.GenerateKey(t, "distros <distros@vs.openwall.org>", "future-default", "default", "never", "")
	list.Import(t, reader.ExportPublic(t, team.Fingerprint()))
	enc, err := mail.Distros(adv, h, t0, patches, list.ExportPublic(t, fpr), team)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(enc.Data))
	if err != nil {
		t.Fatal(err)
	}
	outer := parts(t, msg)
	if len(outer) != 2 {
		t.Fatalf("the encrypted message has %d parts, want 2", len(outer))
	}
	opened, v, err := list.DecryptVerified(t, outer[1].data)
	if err != nil {
		t.Fatalf("the encrypted pre-notice: %v", err)
	}
	if v.Fingerprint != team.Fingerprint() {
		t.Errorf("the encrypted pre-notice is signed by %s, want the team's %s", v.Fingerprint, team.Fingerprint())
	}
	inner, err := netmail.ReadMessage(bytes.NewReader(opened))
	if err != nil {
		t.Fatal(err)
	}
	if got := parts(t, inner); len(got) != 3 || !strings.Contains(string(got[0].data), "1.13.1, 1.12.3") {
		t.Errorf("the signed, encrypted notice opens to %d parts; want the text and both patches", len(got))
	}
}

// subjectOf is m's Subject header, decoded.
func subjectOf(t *testing.T, m mail.Message) string {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	s, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
