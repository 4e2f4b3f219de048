// Package mailtest holds the real parts the announcement's tests check
// against, none of them written here: Debian's gpg, with a keyring of its
// own, verifying every signature the tests make; and Debian's aiosmtpd, an
// SMTP server the tests send through and read the delivered mail back from.
// Without them a test skips, or fails under EMBARGO_E2E=1 (testenv).
package mailtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/internal/testenv"
)

// GPG is gpg with a home (keyring, agent) of its own, removed after the
// test.
type GPG struct {
	home string
}

// NewGPG makes a gpg home for tb.
func NewGPG(tb testing.TB) *GPG {
	tb.Helper()
	testenv.NeedTool(tb, "gpg", "every signature is verified by the real gpg")
	// The agent's socket lives in the home: keep its path short.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		tb.Fatal(err)
	}
	g := &GPG{home: home}
	tb.Cleanup(func() {
		// The agent a key generation started ends with the home.
		if _, err := exec.LookPath("gpgconf"); err == nil {
			cmd := exec.Command("gpgconf", "--kill", "all")
			cmd.Env = append(os.Environ(), "GNUPGHOME="+home)
			_ = cmd.Run()
		}
		os.RemoveAll(home)
	})
	return g
}

// Run runs gpg in batch mode on this home, stdin as its input.
func (g *GPG) Run(stdin []byte, args ...string) (stdout, stderr []byte, err error) {
	cmd := exec.Command("gpg", append([]string{"--batch", "--no-tty", "--homedir", g.home}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.Bytes(), e.Bytes(), err
}

// Import imports an armored key.
func (g *GPG) Import(tb testing.TB, armored []byte) {
	tb.Helper()
	if _, stderr, err := g.Run(armored, "--import"); err != nil {
		tb.Fatalf("gpg --import: %v\n%s", err, stderr)
	}
}

// Verification is what gpg said of a good signature.
type Verification struct {
	// Fingerprint is the primary key's that made it.
	Fingerprint string
	// Hash is the digest's OpenPGP id (8 SHA-256, 10 SHA-512).
	Hash string
	// Class is the signature's class: "01" a canonical text document.
	Class string
	// Status is gpg's status output, whole.
	Status string
}

// Verify runs gpg --verify on the files of args (a clearsigned text; or a
// detached signature and its data) written to a folder of their own, and
// returns the signature's VALIDSIG, or an error with gpg's words when it
// is not good.
func (g *GPG) Verify(files ...[]byte) (Verification, error) {
	dir, err := os.MkdirTemp(g.home, "verify")
	if err != nil {
		return Verification{}, err
	}
	defer os.RemoveAll(dir)
	args := []string{"--status-fd", "1", "--verify"}
	for i, f := range files {
		p := filepath.Join(dir, fmt.Sprintf("file%d", i))
		if err := os.WriteFile(p, f, 0o600); err != nil {
			return Verification{}, err
		}
		args = append(args, p)
	}
	out, stderr, err := g.Run(nil, args...)
	return verification("--verify", out, stderr, err)
}

// verification reads gpg's status output: the good signature's VALIDSIG,
// or an error with gpg's words when there is none.
func verification(op string, out, stderr []byte, err error) (Verification, error) {
	v := Verification{Status: string(out)}
	good := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "[GNUPG:]" {
			continue
		}
		switch f[1] {
		case "GOODSIG":
			good = true
		case "VALIDSIG":
			if len(f) >= 12 {
				v.Hash, v.Class, v.Fingerprint = f[9], f[10], f[11]
			}
		}
	}
	if err != nil || !good || v.Fingerprint == "" {
		return v, fmt.Errorf("gpg %s: %v\n%s%s", op, err, out, stderr)
	}
	return v, nil
}

// DecryptVerified decrypts input and verifies the signature inside it
// (gpg --decrypt): what it decrypts to, and the signature as Verify
// returns it, or an error when the message is not signed by a key gpg
// knows.
func (g *GPG) DecryptVerified(tb testing.TB, input []byte) ([]byte, Verification, error) {
	tb.Helper()
	dir, err := os.MkdirTemp(g.home, "decrypt")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(dir)
	plain := filepath.Join(dir, "plain")
	out, stderr, err := g.Run(input, "--status-fd", "1", "--output", plain, "--decrypt")
	data, rerr := os.ReadFile(plain)
	if rerr != nil {
		tb.Fatalf("gpg --decrypt: %v\n%s%s", err, out, stderr)
	}
	v, err := verification("--decrypt", out, stderr, err)
	return data, v, err
}

// Decrypt is gpg's output for input: the text of a clearsigned message.
func (g *GPG) Decrypt(tb testing.TB, input []byte) []byte {
	tb.Helper()
	out, stderr, err := g.Run(input, "--output", "-", "--decrypt")
	if err != nil {
		tb.Fatalf("gpg --decrypt: %v\n%s", err, stderr)
	}
	return out
}

// GenerateKey makes a key with gpg (gpg --quick-generate-key uid algo
// usage expire) under passphrase, and returns its fingerprint: a key as an
// operator makes one.
func (g *GPG) GenerateKey(tb testing.TB, uid, algo, usage, expire, passphrase string) string {
	tb.Helper()
	return g.GenerateKeyMadeAt(tb, time.Time{}, uid, algo, usage, expire, passphrase)
}

// GenerateKeyMadeAt is GenerateKey with the key made at made (gpg
// --faked-system-time), as a team's key made long before the T0 it signs
// at; the zero time is now.
func (g *GPG) GenerateKeyMadeAt(tb testing.TB, made time.Time, uid, algo, usage, expire, passphrase string) string {
	tb.Helper()
	args := []string{"--pinentry-mode", "loopback", "--passphrase", passphrase}
	if !made.IsZero() {
		args = append(args, "--faked-system-time", strconv.FormatInt(made.Unix(), 10))
	}
	if _, stderr, err := g.Run(nil, append(args, "--quick-generate-key", uid, algo, usage, expire)...); err != nil {
		tb.Fatalf("gpg --quick-generate-key: %v\n%s", err, stderr)
	}
	out, stderr, err := g.Run(nil, "--with-colons", "--list-secret-keys", uid)
	if err != nil {
		tb.Fatalf("gpg --list-secret-keys: %v\n%s", err, stderr)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Split(line, ":"); f[0] == "fpr" && len(f) > 9 {
			return f[9]
		}
	}
	tb.Fatalf("gpg made no key for %s:\n%s", uid, out)
	return ""
}

// AddKey adds a subkey to the key fpr (gpg --quick-add-key fpr algo usage).
func (g *GPG) AddKey(tb testing.TB, fpr, algo, usage, passphrase string) {
	tb.Helper()
	if _, stderr, err := g.Run(nil, "--pinentry-mode", "loopback", "--passphrase", passphrase, "--quick-add-key", fpr, algo, usage); err != nil {
		tb.Fatalf("gpg --quick-add-key: %v\n%s", err, stderr)
	}
}

// ExportSecret is gpg --armor --export-secret-keys fpr (what an operator
// puts in the signing key's variable); with subkeysOnly, the primary key's
// secret is left out (--export-secret-subkeys), as for a key kept offline.
func (g *GPG) ExportSecret(tb testing.TB, fpr, passphrase string, subkeysOnly bool) []byte {
	tb.Helper()
	export := "--export-secret-keys"
	if subkeysOnly {
		export = "--export-secret-subkeys"
	}
	out, stderr, err := g.Run(nil, "--pinentry-mode", "loopback", "--passphrase", passphrase, "--armor", export, fpr)
	if err != nil || len(out) == 0 {
		tb.Fatalf("gpg %s: %v\n%s", export, err, stderr)
	}
	return out
}

// Revoke revokes the key fpr with the revocation certificate gpg stored
// when it made the key (openpgp-revocs.d), as an operator whose key was
// compromised does; an export after it carries the revocation.
func (g *GPG) Revoke(tb testing.TB, fpr string) {
	tb.Helper()
	cert, err := os.ReadFile(filepath.Join(g.home, "openpgp-revocs.d", fpr+".rev"))
	if err != nil {
		tb.Fatalf("the revocation certificate of %s: %v", fpr, err)
	}
	// gpg puts a colon before its armor line so that the file is not
	// imported by accident.
	g.Import(tb, bytes.Replace(cert, []byte(":-----BEGIN"), []byte("-----BEGIN"), 1))
}

// ExportPublic is gpg --armor --export fpr: the public key readers import.
func (g *GPG) ExportPublic(tb testing.TB, fpr string) []byte {
	tb.Helper()
	out, stderr, err := g.Run(nil, "--armor", "--export", fpr)
	if err != nil || len(out) == 0 {
		tb.Fatalf("gpg --export: %v\n%s", err, stderr)
	}
	return out
}
