package config_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/async-rs/embargo/config"
)

const announceSection = `
[announce]
smtp            = "smtp.example.org:587"
user            = "security@async.rs"
password_env    = "EMBARGO_SMTP_PASSWORD"
from            = "async-std security <security@async.rs>"
to              = ["rustlang-security-announcements@googlegroups.com"]
notice          = ["oss-security@lists.openwall.com"]
signing_key_env = "EMBARGO_SIGNING_KEY"
passphrase_env  = "EMBARGO_SIGNING_PASSPHRASE"
private         = ["distros@vs.openwall.org"]
`

func TestConfigAnnounceLoadsWithTheIssuesKeys(t *testing.T) {
	cfg, err := config.Load(writeConfig(t, minimalConfig+announceSection))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Announce
	if a == nil || a.SMTP != "smtp.example.org:587" || a.PasswordEnv != "EMBARGO_SMTP_PASSWORD" || a.SigningKeyEnv != "EMBARGO_SIGNING_KEY" {
		t.Fatalf("[announce] = %+v", a)
	}
	if a.FromAddress() != "security@async.rs" || a.FromDomain() != "async.rs" {
		t.Errorf("from = %q at %q, want security@async.rs at async.rs", a.FromAddress(), a.FromDomain())
	}
	if got := config.Recipients(a.Private); len(got) != 1 || got[0].Addr != "distros@vs.openwall.org" {
		t.Errorf("private = %+v", got)
	}
}

// A mail setting that cannot work is refused with the config, at its
// line, not when T0 comes and the server or the list refuses.
func TestConfigAnnounceMistakesAreRefusedAtTheirLines(t *testing.T) {
	src := edit(t, minimalConfig+announceSection, `smtp            = "smtp.example.org:587"`, `smtp            = "smtp.example.org"  # <- smtp`)
	src = edit(t, src, `from            = "async-std security <security@async.rs>"`, `from            = "async-std security"  # <- from`)
	src = edit(t, src, `notice          = ["oss-security@lists.openwall.com"]`, `notice          = ["oss-security at openwall", "oss-security@lists.openwall.com"]  # <- notice`)
	src = edit(t, src, `passphrase_env  = "EMBARGO_SIGNING_PASSPHRASE"`, `passphrase_env  = "correct horse battery"  # <- passphrase`)
	problems := expectProblems(t, src,
		want{"announce.smtp", "# <- smtp", []string{`"smtp.example.org" is not host:port`, `smtp = "smtp.example.org:587"`}},
		want{"announce.from", "# <- from", []string{`"async-std security" is not a mail address`, `"Name <address@domain>"`}},
		want{"announce.notice", "# <- notice", []string{"entry 1", `"oss-security at openwall" is not a mail address`}},
		want{"announce.passphrase_env", "# <- passphrase", []string{"not an environment variable name"}},
	)
	for _, p := range problems {
		if strings.Contains(p.String(), "correct horse") {
			t.Errorf("the problem %q quotes what may be the passphrase", p)
		}
	}
}

func TestConfigAnnounceSMTPURLWithPasswordIsRefusedWithoutEchoingIt(t *testing.T) {
	src := edit(t, minimalConfig+announceSection, `smtp            = "smtp.example.org:587"`, `smtp            = "smtp://security:hunter2@smtp.example.org:587"  # <- smtp`)
	problems := expectProblems(t, src, want{"announce.smtp", "# <- smtp", []string{"credentials", "password_env"}})
	if strings.Contains(problems[0].String(), "hunter2") {
		t.Errorf("the problem %q repeats the password", problems[0])
	}
}

// The announcement is always signed: a config that mails announce.to
// without a key is refused, and so is a login without its password.
func TestConfigAnnounceToWithoutSigningKeyIsRefused(t *testing.T) {
	src := edit(t, minimalConfig+announceSection, `signing_key_env = "EMBARGO_SIGNING_KEY"`+"\n", "")
	src = edit(t, src, `passphrase_env  = "EMBARGO_SIGNING_PASSPHRASE"`+"\n", "")
	src = edit(t, src, `password_env    = "EMBARGO_SMTP_PASSWORD"`+"\n", "")
	expectProblems(t, src,
		want{"announce.password_env", "[announce]", []string{"missing", "announce.user"}},
		want{"announce.signing_key_env", "[announce]", []string{"missing", "always OpenPGP-signed", `signing_key_env = "EMBARGO_SIGNING_KEY"`}},
	)
}

// The pre-notice goes out days before T0: a public list among its
// recipients would break the embargo.
func TestConfigAnnouncePublicListAmongThePrivateRecipientsIsRefused(t *testing.T) {
	src := edit(t, minimalConfig+announceSection, `private         = ["distros@vs.openwall.org"]`,
		`private         = ["distros@vs.openwall.org", "OSS-Security <oss-security@lists.openwall.com>", "rustlang-security-announcements@googlegroups.com"]  # <- private`)
	expectProblems(t, src,
		want{"announce.private", "# <- private", []string{"oss-security@lists.openwall.com is also in announce.notice", "public list"}},
		want{"announce.private", "# <- private", []string{"rustlang-security-announcements@googlegroups.com is also in announce.to"}},
	)
}

func TestConfigAnnounceUnknownKeyIsRefused(t *testing.T) {
	src := edit(t, minimalConfig+announceSection, `private         = ["distros@vs.openwall.org"]`, "private         = [\"distros@vs.openwall.org\"]\nrecipients = [\"a@b.org\"]  # <- unknown")
	expectProblems(t, src, want{"announce.recipients", "# <- unknown", []string{"unknown key"}})
}

// The list's public key, which the pre-notice is encrypted to, is read
// from a file beside the config; a missing file, a file that is not an
// armored public key, and a secret key in its place are refused at the
// key's line, the secret never quoted.
func TestConfigAnnouncePrivatePubkeyFileMustBeTheListsPublicKey(t *testing.T) {
	src := edit(t, minimalConfig+announceSection, `private         = ["distros@vs.openwall.org"]`,
		"private         = [\"distros@vs.openwall.org\"]\nprivate_pubkey_file = \"distros.asc\"  # <- pubkey")
	// Missing: the path is relative to the config.
	expectProblems(t, src, want{"announce.private_pubkey_file", "# <- pubkey", []string{"cannot read distros.asc", "relative to the config"}})

	for file, says := range map[string][]string{
		"not a key\n": {"distros.asc is not an armored OpenPGP public key", "gpg --armor --export"},
		"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQVYBGsecretsecret\n-----END PGP PRIVATE KEY BLOCK-----\n": {"holds a secret key"},
	} {
		path := writeConfig(t, src)
		if err := os.WriteFile("distros.asc", []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := config.Load(path)
		var ce *config.Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Key != "announce.private_pubkey_file" {
			t.Fatalf("%q: error %v, want one problem of announce.private_pubkey_file", file, err)
		}
		for _, s := range says {
			if !strings.Contains(ce.Problems[0].String(), s) {
				t.Errorf("%q: %q does not say %q", file, ce.Problems[0], s)
			}
		}
		if strings.Contains(err.Error(), "secretsecret") {
			t.Errorf("the problem quotes the secret key: %v", err)
		}
	}

	path := writeConfig(t, src)
	if err := os.WriteFile("distros.asc", []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBGs\n-----END PGP PUBLIC KEY BLOCK-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil || cfg.Announce.PrivatePubkeyFile != "distros.asc" {
		t.Fatalf("with the public key: %v", err)
	}

	// Without private recipients the key has nobody to encrypt to.
	noPrivate := edit(t, src, "private         = [\"distros@vs.openwall.org\"]\n", "")
	expectProblems(t, noPrivate, want{"announce.private_pubkey_file", "# <- pubkey", []string{"announce.private names none"}})
}

// A well-known public list written in private, and named nowhere else, is
// refused too: embargo notify would send it the embargoed fixes days
// before T0. The problem says what to write instead.
func TestConfigAnnounceWellKnownPublicListInPrivateIsRefusedAlone(t *testing.T) {
	src := edit(t, minimalConfig+announceSection, `notice          = ["oss-security@lists.openwall.com"]`+"\n", "")
	src = edit(t, src, `to              = ["rustlang-security-announcements@googlegroups.com"]`, `to              = ["announce@async.rs"]`)
	src = edit(t, src, `private         = ["distros@vs.openwall.org"]`,
		`private         = ["OSS-Security <oss-security@lists.openwall.com>", "rustlang-security-announcements@googlegroups.com", "distros@lists.openwall.com", "linux-distros@vs.openwall.org"]  # <- private`)
	expectProblems(t, src,
		want{"announce.private", "# <- private", []string{"oss-security@lists.openwall.com is oss-security, a public list", "before T0", `private = ["distros@vs.openwall.org"]`, "announce.notice"}},
		want{"announce.private", "# <- private", []string{"rustlang-security-announcements@googlegroups.com is the Rust project's public security announcement list", "distros@vs.openwall.org"}},
		want{"announce.private", "# <- private", []string{"distros@lists.openwall.com is one of Openwall's public lists", "vs.openwall.org"}},
	)
}
