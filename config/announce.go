package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"os"
	"strconv"
	"strings"
)

// Address is one mail address of [announce] as its mail carries it: the
// address alone (security@async.rs) and the form written, with its name.
type Address struct {
	Addr, Written string
}

// Recipients are the addresses of a list of [announce], parsed; entries
// that do not parse (the config's validation reports them) are left out.
func Recipients(list []string) []Address {
	var out []Address
	for _, s := range list {
		if a, err := mail.ParseAddress(s); err == nil {
			out = append(out, Address{Addr: a.Address, Written: s})
		}
	}
	return out
}

// FromAddress is announce.from's address alone, the envelope's sender.
func (a *AnnounceSection) FromAddress() string {
	if m, err := mail.ParseAddress(a.From); err == nil {
		return m.Address
	}
	return ""
}

// FromDomain is the domain of announce.from, which the mails' Message-IDs
// carry.
func (a *AnnounceSection) FromDomain() string {
	_, domain, _ := strings.Cut(a.FromAddress(), "@")
	return domain
}

func validateAnnounce(v *validator, a *AnnounceSection) {
	switch {
	case a.SMTP == "":
		v.add("announce.smtp", "missing: the mail server the announcement is sent through", `e.g. smtp = "smtp.example.org:587" (host:port; STARTTLS is required except on loopback)`)
	default:
		if p := smtpProblem(a.SMTP); p != "" {
			v.add("announce.smtp", p, `write host:port, e.g. smtp = "smtp.example.org:587" (submission with STARTTLS) or "smtp.example.org:465" (implicit TLS)`)
		}
	}
	// A login is a user and its password; a relay on loopback may want
	// neither.
	switch {
	case a.User != "" && a.PasswordEnv == "":
		v.add("announce.password_env", "missing: announce.user logs in with a password", `e.g. password_env = "EMBARGO_SMTP_PASSWORD", the variable holding it`)
	case a.User == "" && a.PasswordEnv != "":
		v.add("announce.user", "missing: announce.password_env is the password of a login", `e.g. user = "security@async.rs", the account the mail server knows`)
	}
	v.envName("announce.password_env", a.PasswordEnv)
	v.envName("announce.signing_key_env", a.SigningKeyEnv)
	v.envName("announce.passphrase_env", a.PassphraseEnv)

	switch {
	case a.From == "":
		v.add("announce.from", "missing: the sender of the mails", `e.g. from = "async-std security <security@async.rs>"`)
	default:
		if _, err := mail.ParseAddress(a.From); err != nil {
			v.add("announce.from", fmt.Sprintf("%q is not a mail address: %s", a.From, strings.TrimPrefix(err.Error(), "mail: ")),
				`write "Name <address@domain>" or address@domain, e.g. from = "async-std security <security@async.rs>"`)
		}
	}
	to := v.addresses("announce.to", a.To)
	notice := v.addresses("announce.notice", a.Notice)
	v.addresses("announce.private", a.Private)
	if len(a.To) == 0 && len(a.Notice) == 0 && len(a.Private) == 0 {
		v.add("announce", "names no recipient: nothing would be sent", `list the announcement list in to, e.g. to = ["rustlang-security-announcements@googlegroups.com"]`)
	}
	// The announcement is always signed: a list's readers check the
	// security team's key, and an unsigned advisory is one anybody could
	// have sent.
	if len(a.To) > 0 && a.SigningKeyEnv == "" {
		v.add("announce.signing_key_env", "missing: the announcement to announce.to is always OpenPGP-signed",
			`name the variable holding the armored secret key, e.g. signing_key_env = "EMBARGO_SIGNING_KEY"`)
	}
	if a.PassphraseEnv != "" && a.SigningKeyEnv == "" {
		v.add("announce.passphrase_env", "is the passphrase of announce.signing_key_env, which is not set",
			`set signing_key_env = "EMBARGO_SIGNING_KEY" too, or remove passphrase_env`)
	}
	// A public list among the private recipients would get the fix and
	// its date days before T0: the embargo would be broken by the notice
	// meant to keep it.
	for _, r := range Recipients(a.Private) {
		addr := strings.ToLower(r.Addr)
		named := false
		for _, public := range []struct {
			key  string
			list map[string]bool
		}{{"announce.to", to}, {"announce.notice", notice}} {
			if public.list[addr] {
				named = true
				v.add("announce.private", fmt.Sprintf("%s is also in %s: the pre-notice, sent before T0, would reach a public list", r.Addr, public.key),
					fmt.Sprintf("keep private to closed lists (distros@vs.openwall.org): remove %s from it or from %s", r.Addr, public.key))
			}
		}
		// A public list named nowhere else is as public: without this a
		// config whose only list is oss-security, written in private,
		// would mail it the fixes days before T0.
		if why := publicList(addr); why != "" && !named {
			v.add("announce.private", fmt.Sprintf("%s is %s: the pre-notice, sent before T0, would publish the fixes and their date", r.Addr, why),
				fmt.Sprintf(`write the closed list there instead, private = ["distros@vs.openwall.org"] (or linux-distros@vs.openwall.org for Linux only), and put %s in announce.to or announce.notice, which are mailed at T0`, r.Addr))
		}
	}
}

// publicLists are the lists a security team announces on, whose archives
// anyone reads: never a recipient of the pre-notice. The Rust project's
// announcement list, and oss-security, where the distros list's
// instructions send what is public or made public at once.
var publicLists = map[string]string{
	"oss-security@lists.openwall.com":                  "oss-security, a public list with public archives",
	"rustlang-security-announcements@googlegroups.com": "the Rust project's public security announcement list",
}

// publicList says why addr (lower case) is a public list, or "". Every
// list at lists.openwall.com is one of Openwall's public lists; its closed
// lists, distros and linux-distros, are at vs.openwall.org.
func publicList(addr string) string {
	if why, ok := publicLists[addr]; ok {
		return why
	}
	if strings.HasSuffix(addr, "@lists.openwall.com") {
		return "one of Openwall's public lists (lists.openwall.com; the closed distros lists are at vs.openwall.org)"
	}
	return ""
}

// validatePrivatePubkey checks announce.private_pubkey_file: the private
// list's armored public key, which the pre-notice is encrypted to. Whether
// the key can encrypt, and until when, is told when the notice is
// composed. A runner releasing from a bundle, which never sends the
// pre-notice, may not have the file.
func (c *Config) validatePrivatePubkey(v *validator, a *AnnounceSection) {
	const key = "announce.private_pubkey_file"
	if a.PrivatePubkeyFile == "" {
		return
	}
	if len(a.Private) == 0 {
		v.add(key, "is the key of the private list, and announce.private names none",
			`list the private recipients, e.g. private = ["distros@vs.openwall.org"], or remove private_pubkey_file`)
		return
	}
	b, err := os.ReadFile(c.Resolve(a.PrivatePubkeyFile))
	if err != nil && v.descriptionMayBeMissing && errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		v.add(key, fmt.Sprintf("cannot read %s: %s", a.PrivatePubkeyFile, unwrapPathError(err)),
			"the path is relative to the config file; save the list's public key there (gpg --armor --export KEYID)")
		return
	}
	switch text := string(b); {
	case strings.Contains(text, "-----BEGIN PGP PRIVATE KEY BLOCK-----"):
		// Not quoted back: it is a secret.
		v.add(key, a.PrivatePubkeyFile+" holds a secret key, not the list's public key",
			"put the list's public key there (gpg --armor --export KEYID), and keep secret keys out of files beside the config")
	case !strings.Contains(text, "-----BEGIN PGP PUBLIC KEY BLOCK-----"):
		v.add(key, a.PrivatePubkeyFile+" is not an armored OpenPGP public key",
			"save the list's public key there armored (gpg --armor --export KEYID), as the list publishes it")
	}
}

// addresses checks a list of mail addresses, each once, and returns them
// in lower case.
func (v *validator) addresses(key string, list []string) map[string]bool {
	out := map[string]bool{}
	for i, s := range list {
		a, err := mail.ParseAddress(s)
		if err != nil {
			v.add(key, fmt.Sprintf("entry %d: %q is not a mail address: %s", i+1, s, strings.TrimPrefix(err.Error(), "mail: ")),
				fmt.Sprintf(`write "Name <address@domain>" or address@domain, e.g. %s = ["oss-security@lists.openwall.com"]`, lastKey(key)))
			continue
		}
		addr := strings.ToLower(a.Address)
		if out[addr] {
			v.add(key, fmt.Sprintf("entry %d: %s is listed twice", i+1, a.Address), "")
		}
		out[addr] = true
	}
	return out
}

// smtpProblem says what keeps s from being the host:port of a mail
// server, or "". It is never a URL: a password in one is not quoted back.
func smtpProblem(s string) string {
	if strings.Contains(s, "://") {
		if strings.Contains(s, "@") {
			return "is a URL with credentials in it (value not shown): the password belongs in the variable password_env names"
		}
		return fmt.Sprintf("%q is a URL, not host:port", s)
	}
	host, port, err := net.SplitHostPort(s)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not host:port (%s)", s, strings.TrimPrefix(err.Error(), "address "+s+": "))
	case host == "":
		return fmt.Sprintf("%q names no host", s)
	case strings.ContainsAny(host, " /@"):
		return fmt.Sprintf("%q is not a host name", host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("%q is not a port (1 to 65535)", port)
	}
	return ""
}
