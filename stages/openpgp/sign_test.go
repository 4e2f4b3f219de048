package openpgp_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/internal/mailtest"
	"github.com/async-rs/embargo/stages/openpgp"
)

const (
	uid        = "async-std security <security@async.rs>"
	passphrase = "tr0ub4dor&3 of the security team"
)

// advisory has every line mail and mailboxes are known to change or that
// the cleartext framework treats apart: lines that start with "-" (and one
// that reads as the signature's own armor line), "From " (which an mbox
// rewrites to ">From "), trailing spaces and a tab, UTF-8, a line longer
// than mail's 78 and 998 characters, and an empty line.
var advisory = "# Security advisory for async-std (CVE-2026-12345)\n" +
	"\n" +
	"-----BEGIN PGP SIGNATURE-----\n" +
	"- affected: async-std < 1.13.1\n" +
	"--- patched: 1.13.1, 1.12.3\n" +
	"From 1.13.1 on, the task is no longer polled after it was dropped.\n" +
	"trailing spaces   \n" +
	"a trailing tab\t\n" +
	"Reported by Zoë Müller (日本語の報告) 🦀\n" +
	strings.Repeat("a long line ", 90) + "ends here\n" +
	"\n" +
	"Thanks to everyone involved.\n"

// at is T0 in the tests, an hour ahead: the keys the tests make are valid then.
var at = time.Now().Add(time.Hour).Truncate(time.Second)

// newKey makes a key with the real gpg, as an operator does, and returns
// its fingerprint and the armored secret key an operator exports.
func newKey(t *testing.T, g *mailtest.GPG, usage, expire string) (string, []byte) {
	t.Helper()
	fpr := g.GenerateKey(t, uid, "ed25519", usage, expire, passphrase)
	return fpr, g.ExportSecret(t, fpr, passphrase, false)
}

func readKey(t *testing.T, armored []byte) *openpgp.Key {
	t.Helper()
	k, err := openpgp.ReadKey(string(armored), passphrase, at)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// reader is a gpg that knows only the public key g exports of fpr: a
// reader of the announcement who imported the team's key.
func reader(t *testing.T, g *mailtest.GPG, fpr string) *mailtest.GPG {
	t.Helper()
	r := mailtest.NewGPG(t)
	r.Import(t, g.ExportPublic(t, fpr))
	return r
}

// unsigned is text as gpg gives it back from a clearsigned message: each
// line without its trailing whitespace, no trailing empty lines.
func unsigned(text string) string {
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Join(lines, "\n")
}

// The clearsigned announcement is verified by the real gpg of a reader
// who has the team's public key only, with SHA-512, as a text signature,
// by the key check and plan show; what it reads back is the advisory.
// It stays valid after what mail transport does to a text (CRLF line
// endings, trailing whitespace stripped), and no line of it starts with
// "From ", so a mailbox has nothing to rewrite.
func TestClearSignIsVerifiedByGPG(t *testing.T) {
	g := mailtest.NewGPG(t)
	fpr, secret := newKey(t, g, "sign", "never")
	k := readKey(t, secret)
	if k.Fingerprint() != fpr {
		t.Errorf("Fingerprint() = %s, gpg says %s", k.Fingerprint(), fpr)
	}
	r := reader(t, g, fpr)

	for _, text := range []string{advisory, strings.ReplaceAll(advisory, "\n", "\r\n")} {
		signed, err := k.ClearSign([]byte(text), at)
		if err != nil {
			t.Fatal(err)
		}
		v, err := r.Verify(signed)
		if err != nil {
			t.Fatalf("%v\n%s", err, signed)
		}
		if v.Fingerprint != fpr || v.Hash != "10" || v.Class != "01" {
			t.Errorf("gpg: signed by %s with hash %s, class %s; want %s, 10 (SHA-512), 01 (text)", v.Fingerprint, v.Hash, v.Class, fpr)
		}
		if got := string(r.Decrypt(t, signed)); unsigned(got) != unsigned(advisory) {
			t.Errorf("gpg reads back\n%s\nwant\n%s", got, unsigned(advisory))
		}
		for _, line := range strings.Split(string(signed), "\n") {
			if strings.HasPrefix(line, "From ") {
				t.Errorf("the signed text has a line a mailbox rewrites: %q", line)
			}
		}

		transported := map[string][]byte{
			"CRLF line endings":   bytes.ReplaceAll(bytes.ReplaceAll(signed, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n")),
			"trailing whitespace": []byte(unsigned(string(signed)) + "\n"),
		}
		for how, m := range transported {
			if _, err := r.Verify(m); err != nil {
				t.Errorf("after %s: %v", how, err)
			}
		}
		tampered := bytes.Replace(signed, []byte("1.13.1 on"), []byte("1.13.0 on"), 1)
		if _, err := r.Verify(tampered); err == nil {
			t.Errorf("gpg verified a changed text: the test proves nothing")
		}
	}
}

// A team that keeps its primary key offline exports only the subkeys'
// secrets: the signing subkey signs, and the fingerprint shown is still
// the primary key's, the one readers know.
func TestASigningSubkeySigns(t *testing.T) {
	g := mailtest.NewGPG(t)
	fpr := g.GenerateKey(t, uid, "ed25519", "cert", "never", passphrase)
	g.AddKey(t, fpr, "ed25519", "sign", passphrase)
	k := readKey(t, g.ExportSecret(t, fpr, passphrase, true))
	if k.Fingerprint() != fpr {
		t.Errorf("Fingerprint() = %s, want the primary key's %s", k.Fingerprint(), fpr)
	}
	signed, err := k.ClearSign([]byte(advisory), at)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := reader(t, g, fpr).Verify(signed); err != nil || v.Fingerprint != fpr {
		t.Errorf("gpg: %v (%+v); want a good signature of %s", err, v, fpr)
	}
}
