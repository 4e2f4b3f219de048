package mailserver

import (
	"bytes"
	"fmt"
	"time"

	pgp "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// SigningKey makes a sandbox's OpenPGP key (Ed25519, no passphrase), made
// at made, which signs what is mailed to a sandbox server in place of the
// team's key: its armored secret key and its fingerprint. made must be
// before the T0 it signs as of.
func SigningKey(made time.Time) (armored, fingerprint string, err error) {
	conf := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return made }}
	e, err := pgp.NewEntity("embargo sandbox", "signs rehearsals and examples only", "security@sandbox.invalid", conf)
	if err != nil {
		return "", "", fmt.Errorf("sandbox signing key: %w", err)
	}
	var b bytes.Buffer
	w, err := armor.Encode(&b, pgp.PrivateKeyType, nil)
	if err == nil {
		err = e.SerializePrivate(w, conf)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return "", "", fmt.Errorf("sandbox signing key: %w", err)
	}
	return b.String(), fmt.Sprintf("%X", e.PrimaryKey.Fingerprint), nil
}
