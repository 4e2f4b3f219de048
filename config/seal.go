package config

import (
	"errors"
	"fmt"
	"strings"

	"filippo.io/age"
	"github.com/google/go-containerregistry/pkg/name"
)

// What [seal] names is checked with the libraries the bundle is made with
// (age, go-containerregistry), not with the bundle's own package: the
// config depends on no stage or client.

// ParseRecipient reads one age recipient. Its errors never quote the value:
// an identity pasted here by mistake is a secret key.
func ParseRecipient(s string) (age.Recipient, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(strings.ToUpper(s), "AGE-SECRET-KEY-") {
		return nil, errors.New("is an age identity, a secret key: put its recipient (age1..., from age-keygen -y) here and keep the key in identity_env")
	}
	r, err := age.ParseX25519Recipient(s)
	if err != nil {
		return nil, errors.New("is not an age recipient (age1..., as age-keygen prints it)")
	}
	return r, nil
}

// CheckRepository says whether [seal] oci names an OCI repository, without
// tag or digest.
func CheckRepository(repo string) error {
	if _, err := name.NewRepository(repo); err != nil {
		return fmt.Errorf("%q is not an OCI repository (e.g. ghcr.io/org/embargo-bundles): %v", repo, err)
	}
	return nil
}
