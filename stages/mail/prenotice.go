package mail

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	pgp "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Distros composes the pre-notice to the distros list, before T0, as the
// list's instructions for reporters ask: "[vs]" in the subject (the
// list's own tag, which says the sender accepts its policy), the proposed
// public disclosure date and time (T0) in the subject and the text, what is
// affected and what fixes it, and the fixes themselves, attached as
// patches (FormatPatch), their SHA-256 listed in the text. With encryptTo,
// an armored public key (the list's), the whole message but its envelope
// headers is encrypted to it as OpenPGP/MIME (RFC 3156); the subject stays
// readable, so it holds no detail of the issue.
//
// With signer, the team's key, the list can tell the notice is the team's:
// unencrypted, the text is clearsigned (and carried as the announcement's
// is, so that transport keeps it verifiable), and the patches' SHA-256 in
// it make the signature cover them too; encrypted, the whole message is
// signed inside the encryption (RFC 3156's combined method), which gpg
// --decrypt verifies. Either is signed at h.Date, when it is sent.
func Distros(a Advisory, h Header, t0 time.Time, patches []Patch, encryptTo []byte, signer Signer) (Message, error) {
	subject := fmt.Sprintf("[vs] %s: %s, disclosure planned for %s", a.name(), a.Title, t0.UTC().Format("2006-01-02 15:04 UTC"))
	if encryptTo != nil {
		// The headers travel in clear: a CVE id or the advisory's id
		// there would tell whoever reads them what is coming.
		subject = fmt.Sprintf("[vs] %s, disclosure planned for %s", a.Project, t0.UTC().Format("2006-01-02 15:04 UTC"))
	}
	b, m, err := header(a, h, t0, PreNotice, subject)
	if err != nil {
		return Message{}, err
	}
	var t strings.Builder
	fmt.Fprintf(&t, "The proposed public disclosure date is %s (%s),\n", t0.UTC().Format("2006-01-02 15:04 UTC"), t0.UTC().Format("Monday"))
	t.WriteString("when the advisory, the fixed releases and this notice will be posted to\n")
	t.WriteString("oss-security. Please keep it private until then, as the list's policy\nasks.\n\n")
	versions(&t, a)
	if len(patches) > 0 {
		fmt.Fprintf(&t, "\nThe fixes are attached (%d patches, git format-patch; apply with git am),\nwith these SHA-256 (sha256sum -c):\n\n", len(patches))
		for _, p := range patches {
			fmt.Fprintf(&t, "%x  %s\n", sha256.Sum256(p.Data), p.Name)
		}
	}
	fmt.Fprintf(&t, "\n%s\n", strings.TrimSpace(a.Text))
	text, maxLine := []byte(t.String()), plainLine
	if signer != nil && encryptTo == nil {
		if text, err = signer.ClearSign(text, h.Date); err != nil {
			return Message{}, fmt.Errorf("sign the pre-notice of %s: %w", a.ID, err)
		}
		maxLine = signedLine
	}

	var body bytes.Buffer
	parts := [][]byte{text}
	for _, p := range patches {
		parts = append(parts, p.Data)
	}
	boundary := boundaryOf(m.MessageID, parts...)
	fmt.Fprintf(&body, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n", boundary)
	fmt.Fprintf(&body, "--%s\r\n", boundary)
	textPart(&body, "Content-Disposition: inline\r\n", text, maxLine)
	for _, p := range patches {
		fmt.Fprintf(&body, "--%s\r\n", boundary)
		filePart(&body, "text/x-diff", p.Name, p.Data)
	}
	fmt.Fprintf(&body, "--%s--\r\n", boundary)

	if encryptTo == nil {
		b.Write(body.Bytes())
		m.Data = b.Bytes()
		return m, nil
	}
	enc, err := encrypt(body.Bytes(), encryptTo, h.Date, signer)
	if err != nil {
		return Message{}, err
	}
	outer := boundaryOf(m.MessageID, enc)
	fmt.Fprintf(b, "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=%q\r\n\r\n", outer)
	b.WriteString("This is an OpenPGP/MIME encrypted message (RFC 3156).\r\n")
	fmt.Fprintf(b, "--%s\r\n", outer)
	b.WriteString("Content-Type: application/pgp-encrypted\r\nContent-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n")
	fmt.Fprintf(b, "--%s\r\n", outer)
	b.WriteString("Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\nContent-Description: OpenPGP encrypted message\r\nContent-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n")
	b.Write(crlf(enc))
	fmt.Fprintf(b, "--%s--\r\n", outer)
	m.Data = b.Bytes()
	return m, nil
}

// encrypt encrypts entity, a MIME entity, to the armored public key, and
// armors it; with signer, signed inside the encryption. Each composition
// is new ciphertext: the Message-ID, not the bytes, says that two are the
// same notice.
func encrypt(entity, armored []byte, at time.Time, signer Signer) ([]byte, error) {
	ring, err := pgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil || len(ring) == 0 {
		return nil, fmt.Errorf("the key to encrypt the pre-notice to is not an armored OpenPGP public key")
	}
	if _, ok := ring[0].EncryptionKey(at); !ok {
		return nil, fmt.Errorf("the key %X to encrypt the pre-notice to has no valid encryption key: give the list's current public key", ring[0].PrimaryKey.Fingerprint)
	}
	var signed *pgp.Entity
	config := &packet.Config{Time: func() time.Time { return at }}
	if signer != nil {
		if signed, config, err = signer.Signing(at); err != nil {
			return nil, fmt.Errorf("sign the pre-notice: %w", err)
		}
	}
	var out bytes.Buffer
	aw, err := armor.Encode(&out, "PGP MESSAGE", nil)
	if err != nil {
		return nil, err
	}
	w, err := pgp.Encrypt(aw, ring[:1], signed, nil, config)
	if err != nil {
		return nil, fmt.Errorf("encrypt the pre-notice to %X: %w", ring[0].PrimaryKey.Fingerprint, err)
	}
	if _, err := w.Write(entity); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := aw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
