package openpgp

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"time"

	pgp "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	// SHA-512, the signatures' hash, registers itself with crypto.
	_ "crypto/sha512"
)

// hashAlgorithm is the signatures' digest: SHA-512, as gpg chooses for the
// keys security teams use, and no weaker than SHA-256 for any of them.
const hashAlgorithm = crypto.SHA512

// ClearSign signs text as a cleartext signed message, the body of the
// announcement: readable as it is, verified by gpg --verify. The signature
// is made at at, with the key valid then.
//
// text may end its lines in LF or CRLF; the signature covers each line
// without its trailing spaces and tabs, lines joined by CRLF, as RFC 4880
// says (so mail transport that strips trailing whitespace or changes line
// endings keeps it valid). Lines that start with "-" are dash-escaped as
// the framework requires, and so are lines that start with "From ", which
// mailboxes rewrite to ">From " otherwise (RFC 4880 section 7.1: SHOULD;
// gpg does the same). Trailing empty lines are left out, as gpg's own
// clearsigned text has none before the signature.
func (k *Key) ClearSign(text []byte, at time.Time) ([]byte, error) {
	sk, err := k.signingKey(at)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	w, err := clearsign.Encode(&b, sk.PrivateKey, config(sk, at))
	if err != nil {
		return nil, fmt.Errorf("clearsign with key %s: %w", k.Fingerprint(), err)
	}
	if _, err := w.Write(bytes.TrimRight(text, "\r\n")); err != nil {
		return nil, fmt.Errorf("clearsign with key %s: %w", k.Fingerprint(), err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("clearsign with key %s: %w", k.Fingerprint(), err)
	}
	signed, err := withChecksum(escapeFrom(b.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("clearsign with key %s: %w", k.Fingerprint(), err)
	}
	return signed, nil
}

// withChecksum armors the signature of a clearsigned message again, with
// the CRC-24 line and a final newline. The library leaves the checksum out
// (RFC 9580 makes it optional), and Debian's gpg 2.2 then finds the
// signature good but fails the whole verification with "no valid OpenPGP
// data found". The signature's packets are unchanged.
func withChecksum(signed []byte) ([]byte, error) {
	// The text's own lines that start with "-" are dash-escaped, so the
	// first line that reads so is the signature's.
	i := bytes.Index(signed, []byte("\n-----BEGIN PGP SIGNATURE-----"))
	if i < 0 {
		return nil, errors.New("the clearsigned message has no signature block")
	}
	block, err := armor.Decode(bytes.NewReader(signed[i+1:]))
	if err != nil {
		return nil, fmt.Errorf("read the signature block: %w", err)
	}
	sig, err := io.ReadAll(block.Body)
	if err != nil {
		return nil, fmt.Errorf("read the signature block: %w", err)
	}
	out := bytes.NewBuffer(append([]byte(nil), signed[:i+1]...))
	w, err := armor.Encode(out, block.Type, block.Header)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(sig); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// Signing is the key as the OpenPGP library signs with it at at, and the
// configuration that makes it sign there (the key valid at at, SHA-512):
// for a message signed and encrypted in one, as the distros pre-notice is
// (RFC 3156, section 6.2), whose encryption is not this package's.
func (k *Key) Signing(at time.Time) (*pgp.Entity, *packet.Config, error) {
	sk, err := k.signingKey(at)
	if err != nil {
		return nil, nil, err
	}
	return k.entity, config(sk, at), nil
}

// escapeFrom dash-escapes the lines of a clearsigned message's text that
// start with "From ". A verifier removes "- " from the start of any line
// of the text before it checks the signature, so the escape changes
// nothing that is signed. The text runs from the blank line after the
// armor headers to the first line "-----BEGIN PGP SIGNATURE-----": a line
// of the text that reads so is itself dash-escaped.
func escapeFrom(signed []byte) []byte {
	lines := bytes.SplitAfter(signed, []byte("\n"))
	var out bytes.Buffer
	inText := false
	for i, line := range lines {
		switch {
		case !inText && i > 0 && len(bytes.TrimRight(line, "\r\n")) == 0:
			inText = true
		case inText && bytes.HasPrefix(line, []byte("-----BEGIN PGP SIGNATURE-----")):
			inText = false
			out.Write(bytes.Join(lines[i:], nil))
			return out.Bytes()
		case inText && bytes.HasPrefix(line, []byte("From ")):
			out.WriteString("- ")
		}
		out.Write(line)
	}
	return out.Bytes()
}
