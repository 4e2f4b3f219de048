package sandbox

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"time"

	pgp "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"

	"github.com/async-rs/embargo/sandbox/mailserver"
)

// Mail is the rehearsal's mail server and the key its announcement is
// signed with: a rehearsal mails here, never the server of the config, and
// signs with a key of its own, never the team's (which it does not read).
type Mail struct {
	Server *mailserver.Server
	// Key is the armored secret key, without a passphrase, made for this
	// rehearsal; Fingerprint is its fingerprint.
	Key, Fingerprint string

	public pgp.EntityList
}

// startMail starts the sandbox's mail server, on the loopback with
// STARTTLS as a submission server offers it, and makes its signing key,
// dated an hour before now (the rehearsal's start, at or before its T0)
// so that it signs as of T0.
func startMail(now time.Time) (*Mail, error) {
	key, fpr, err := mailserver.SigningKey(now.Add(-time.Hour))
	if err != nil {
		return nil, err
	}
	public, err := pgp.ReadArmoredKeyRing(strings.NewReader(key))
	if err != nil {
		return nil, fmt.Errorf("sandbox signing key: %w", err)
	}
	srv, err := mailserver.Start(mailserver.Options{TLS: true})
	if err != nil {
		return nil, err
	}
	return &Mail{Server: srv, Key: key, Fingerprint: fpr, public: public}, nil
}

// Close stops the server.
func (m *Mail) Close() error { return m.Server.Close() }

// VerifyAnnouncement checks a received announcement as a reader of the
// list does: the clearsigned text of its body and the signed copy attached
// are the same text, each signed by the rehearsal's key. It returns the
// signed text.
func (m *Mail) VerifyAnnouncement(data []byte) ([]byte, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("the announcement is not a mail: %w", err)
	}
	media, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || media != "multipart/mixed" {
		return nil, fmt.Errorf("the announcement is %q, not the signed text with its signed copy attached", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var texts [][]byte
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the announcement's parts: %w", err)
		}
		body, err := decodePart(p)
		if err != nil {
			return nil, err
		}
		texts = append(texts, body)
	}
	if len(texts) != 2 {
		return nil, fmt.Errorf("the announcement has %d part(s), want the signed text and its signed copy", len(texts))
	}
	var signed [][]byte
	for i, t := range texts {
		b, _ := clearsign.Decode(t)
		if b == nil {
			return nil, fmt.Errorf("part %d of the announcement is not clearsigned", i+1)
		}
		if _, err := b.VerifySignature(m.public, nil); err != nil {
			return nil, fmt.Errorf("the signature of part %d of the announcement: %w", i+1, err)
		}
		signed = append(signed, b.Plaintext)
	}
	if !bytes.Equal(signed[0], signed[1]) {
		return nil, errors.New("the announcement's attached copy is not the text of its body")
	}
	return signed[0], nil
}

// decodePart is a part's content as its transfer encoding gives it back.
func decodePart(p *multipart.Part) ([]byte, error) {
	var r io.Reader = p
	switch strings.ToLower(p.Header.Get("Content-Transfer-Encoding")) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, p)
	case "quoted-printable":
		r = quotedprintable.NewReader(p)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("the announcement's part %s: %w", p.Header.Get("Content-Type"), err)
	}
	return b, nil
}
