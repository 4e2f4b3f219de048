package openpgp_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/internal/mailtest"
	"github.com/async-rs/embargo/stages/openpgp"
)

// noSecret fails t when err names the passphrase or any part of the
// secret key's armored text.
func noSecret(t *testing.T, err error, secret []byte) {
	t.Helper()
	msg := err.Error()
	if strings.Contains(msg, passphrase) {
		t.Errorf("%q names the passphrase", msg)
	}
	for _, line := range strings.Split(string(secret), "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(msg, line[:16]) {
			t.Errorf("%q quotes the secret key", msg)
		}
	}
}

// Every key that cannot sign the announcement at T0 is refused by ReadKey,
// before T0, with an error that says which key and why, and what to do,
// and names no secret.
func TestKeysThatCannotSignAreRefusedClearly(t *testing.T) {
	g := mailtest.NewGPG(t)
	fpr, secret := newKey(t, g, "sign", "1d")

	certOnly := g.GenerateKey(t, "certification only <cert@async.rs>", "ed25519", "cert", "never", passphrase)
	encrOnly := g.GenerateKey(t, "encryption only <encr@async.rs>", "ed25519", "cert", "never", passphrase)
	g.AddKey(t, encrOnly, "cv25519", "encr", passphrase)

	revoked := g.GenerateKey(t, "revoked <revoked@async.rs>", "ed25519", "sign", "never", passphrase)
	g.Revoke(t, revoked)

	for _, tc := range []struct {
		name       string
		armored    []byte
		passphrase string
		at         time.Time
		want       error
		names      string
	}{
		{"a wrong passphrase", secret, "not " + passphrase, at, openpgp.ErrPassphrase, fpr},
		{"no passphrase", secret, "", at, openpgp.ErrPassphrase, fpr},
		{"the public key", g.ExportPublic(t, fpr), passphrase, at, openpgp.ErrNotSecret, fpr},
		{"a key expired at T0", secret, passphrase, at.Add(48 * time.Hour), openpgp.ErrExpired, fpr},
		{"a key made after T0", secret, passphrase, at.Add(-48 * time.Hour), openpgp.ErrNotYetValid, fpr},
		{"a revoked key", g.ExportSecret(t, revoked, passphrase, false), passphrase, at, openpgp.ErrRevoked, revoked},
		{"a key for certification only", g.ExportSecret(t, certOnly, passphrase, false), passphrase, at, openpgp.ErrCannotSign, certOnly},
		{"a key with an encryption subkey only", g.ExportSecret(t, encrOnly, passphrase, false), passphrase, at, openpgp.ErrCannotSign, encrOnly},
		{"a text that is not a key", []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n" + passphrase + "\n-----END PGP PRIVATE KEY BLOCK-----\n"), passphrase, at, openpgp.ErrNoKey, ""},
	} {
		_, err := openpgp.ReadKey(string(tc.armored), tc.passphrase, tc.at)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v; want %v", tc.name, err, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.names) {
			t.Errorf("%s: %q does not name the key %s", tc.name, err, tc.names)
		}
		noSecret(t, err, tc.armored)
	}

	// The same key signs within its time.
	if _, err := openpgp.ReadKey(string(secret), passphrase, at); err != nil {
		t.Errorf("the key within its time: %v", err)
	}
}
