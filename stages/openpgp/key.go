// Package openpgp signs the advisory's mails with the security team's
// OpenPGP key, as the Rust Security Response WG signs its own: the
// announcement's text clearsigned (RFC 4880's cleartext signature
// framework), which the mail carries as its body and attaches again as the
// signed copy, and the distros pre-notice signed inside its encryption
// (Signing). The key comes armored from an environment variable, its
// passphrase from another; neither is ever part of an error.
package openpgp

import (
	"errors"
	"fmt"
	"strings"
	"time"

	pgp "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// What can make a key unfit to sign, each wrapped in the error that says
// which key and since when; none names a secret.
var (
	// ErrNoKey: the value is not an armored OpenPGP key.
	ErrNoKey = errors.New("holds no armored OpenPGP key")
	// ErrNotSecret: a public key (or only the stub of a secret one) was
	// given where its secret key is needed.
	ErrNotSecret = errors.New("not a secret key")
	// ErrPassphrase: the passphrase is missing or does not unlock the key.
	ErrPassphrase = errors.New("the passphrase does not unlock the key")
	// ErrExpired: the key, or its user ID's self-signature, has expired.
	ErrExpired = errors.New("the key has expired")
	// ErrNotYetValid: the key was made after the time it is to sign at
	// (T0): a new key, or a clock that is wrong.
	ErrNotYetValid = errors.New("the key was made after the time it is to sign at")
	// ErrRevoked: the key or its user ID is revoked.
	ErrRevoked = errors.New("the key is revoked")
	// ErrCannotSign: neither the primary key nor a subkey may sign (a key
	// for certification or encryption only, or signing subkeys that all
	// expired or were revoked).
	ErrCannotSign = errors.New("the key has no valid signing key")
)

// Key is a secret key, unlocked, that signs.
type Key struct {
	entity *pgp.Entity
}

// ReadKey reads the armored secret key (gpg --armor --export-secret-keys)
// and unlocks it with passphrase ("" for a key without one), and checks
// that it can sign at at (T0, for a key that must still be valid then).
// The armored text may hold one secret key only.
func ReadKey(armored, passphrase string, at time.Time) (*Key, error) {
	ring, err := pgp.ReadArmoredKeyRing(strings.NewReader(armored))
	if err != nil || len(ring) == 0 {
		// The library's error may quote what it could not parse: say
		// only what was expected.
		return nil, ErrNoKey
	}
	var secret []*pgp.Entity
	for _, e := range ring {
		if hasSecret(e) {
			secret = append(secret, e)
		}
	}
	switch {
	case len(secret) == 0:
		return nil, fmt.Errorf("holds the public key %s only, %w: export the secret key (gpg --armor --export-secret-keys %[1]s)", fingerprint(ring[0].PrimaryKey), ErrNotSecret)
	case len(secret) > 1:
		return nil, fmt.Errorf("holds %d secret keys (%s, %s...): give only the one that signs", len(secret), fingerprint(secret[0].PrimaryKey), fingerprint(secret[1].PrimaryKey))
	}
	e := secret[0]
	if encrypted(e) {
		if passphrase == "" {
			return nil, fmt.Errorf("secret key %s is protected by a passphrase and none was given: %w", fingerprint(e.PrimaryKey), ErrPassphrase)
		}
		if err := e.DecryptPrivateKeys([]byte(passphrase)); err != nil {
			// A wrong passphrase fails the key's checksum; the error
			// says nothing more useful, and nothing of the secret.
			return nil, fmt.Errorf("secret key %s: %w", fingerprint(e.PrimaryKey), ErrPassphrase)
		}
	}
	k := &Key{entity: e}
	if _, err := k.signingKey(at); err != nil {
		return nil, err
	}
	return k, nil
}

// Fingerprint is the primary key's fingerprint, in upper-case hex (40
// digits for a version 4 key) as gpg --with-colons prints it: what check
// and plan show, and what readers know the team's key by.
func (k *Key) Fingerprint() string { return fingerprint(k.entity.PrimaryKey) }

// signingKey is the key that signs at at: the newest valid signing
// subkey, else the primary key when it may sign; or why there is none.
func (k *Key) signingKey(at time.Time) (pgp.Key, error) {
	e := k.entity
	fpr := fingerprint(e.PrimaryKey)
	sig, id := e.PrimarySelfSignature()
	if sig == nil {
		return pgp.Key{}, fmt.Errorf("key %s has no valid self-signature: %w", fpr, ErrCannotSign)
	}
	if e.Revoked(at) || (id != nil && id.Revoked(at)) {
		return pgp.Key{}, fmt.Errorf("key %s: %w", fpr, ErrRevoked)
	}
	if at.Before(e.PrimaryKey.CreationTime) {
		return pgp.Key{}, fmt.Errorf("key %s, made %s, at %s: %w: use a key made before T0, or check this machine's clock", fpr, day(e.PrimaryKey.CreationTime), day(at), ErrNotYetValid)
	}
	if e.PrimaryKey.KeyExpired(sig, at) || sig.SigExpired(at) {
		return pgp.Key{}, fmt.Errorf("key %s, at %s: %w (%s)", fpr, day(at), ErrExpired, expiry(e, sig))
	}
	sk, ok := e.SigningKey(at)
	if !ok {
		return pgp.Key{}, fmt.Errorf("key %s, at %s: %w: give a key whose primary key or a subkey has the sign capability", fpr, day(at), ErrCannotSign)
	}
	if sk.PrivateKey == nil || sk.PrivateKey.Dummy() {
		return pgp.Key{}, fmt.Errorf("key %s: the secret part of its signing key %s is not in the export (a stub: the key is on a card or was exported without it), %w", fpr, fingerprint(sk.PublicKey), ErrNotSecret)
	}
	return sk, nil
}

// config signs at at with SHA-512 and the signing key chosen.
func config(sk pgp.Key, at time.Time) *packet.Config {
	return &packet.Config{
		DefaultHash:  hashAlgorithm,
		Time:         func() time.Time { return at },
		SigningKeyId: sk.PublicKey.KeyId,
	}
}

func hasSecret(e *pgp.Entity) bool {
	if e.PrivateKey != nil && !e.PrivateKey.Dummy() {
		return true
	}
	for _, s := range e.Subkeys {
		if s.PrivateKey != nil && !s.PrivateKey.Dummy() {
			return true
		}
	}
	return false
}

func encrypted(e *pgp.Entity) bool {
	if e.PrivateKey != nil && !e.PrivateKey.Dummy() && e.PrivateKey.Encrypted {
		return true
	}
	for _, s := range e.Subkeys {
		if s.PrivateKey != nil && !s.PrivateKey.Dummy() && s.PrivateKey.Encrypted {
			return true
		}
	}
	return false
}

func fingerprint(k *packet.PublicKey) string { return fmt.Sprintf("%X", k.Fingerprint) }

func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// expiry says when the key or its self-signature expired.
func expiry(e *pgp.Entity, sig *packet.Signature) string {
	if sig.KeyLifetimeSecs != nil && *sig.KeyLifetimeSecs != 0 {
		return "expired " + day(e.PrimaryKey.CreationTime.Add(time.Duration(*sig.KeyLifetimeSecs)*time.Second)) + "; extend it with gpg --quick-set-expire and export it again"
	}
	return "its self-signature expired; renew it with gpg --quick-set-expire and export it again"
}
