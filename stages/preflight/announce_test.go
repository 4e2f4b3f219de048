package preflight

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/sandbox/mailserver"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// checkAnnounceAgainst runs preflight's mail check against the sandbox
// mail server srv, the login and key of releasetest's [announce], and
// returns the findings' subjects and texts.
func checkAnnounceAgainst(t *testing.T, srv *mailserver.Server, edit ...func(*config.AnnounceSection)) (*AnnounceChecked, []string, string) {
	t.Helper()
	cfg := releasetest.AnnounceConfig()
	cfg.Announce.SMTP = srv.Addr()
	for _, e := range edit {
		e(cfg.Announce)
	}
	r, _, out := releasetest.Run(t, cfg, releasetest.T0.Add(-time.Hour), releasetest.AnnounceEnv(t))
	r.Targets.Mail.TLS = srv.ClientTLS()
	m, err := release.AdvisoryModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	var said strings.Builder
	add := func(subject, fix, format string, args ...any) {
		subjects = append(subjects, subject)
		fmt.Fprintf(&said, "%s: %s (%s)\n", subject, fmt.Sprintf(format, args...), fix)
	}
	res := &AnnounceChecked{}
	if err := checkAnnounce(t.Context(), r, release.RealClients().Mail, m, []byte("Subject: [SECURITY] "+m.Title+"\n\n"+m.Title+"\n"), res, add); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{releasetest.SMTPPassword, releasetest.Passphrase} {
		if strings.Contains(said.String(), s) || strings.Contains(out.String(), s) || strings.Contains(res.Text, s) {
			t.Errorf("a secret is in what check says:\n%s", said.String())
		}
	}
	return res, subjects, said.String()
}

// Before T0 check proves the login, every recipient and the key against a
// real SMTP server, and sends nothing.
func TestPreflightProvesTheMailServerAndKeySendingNothing(t *testing.T) {
	t.Parallel()
	srv, err := mailserver.Start(mailserver.Options{User: "security@demo.rs", Password: releasetest.SMTPPassword, TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	res, subjects, said := checkAnnounceAgainst(t, srv)
	if len(subjects) != 0 {
		t.Fatalf("findings %v:\n%s", subjects, said)
	}
	if want := []string{"announce@lists.example.org", "oss-security@lists.example.org"}; !slices.Equal(res.Probed, want) || res.Fingerprint == "" {
		t.Errorf("probed %v with key %q, want every recipient and the key's fingerprint", res.Probed, res.Fingerprint)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("the check sent %d message(s)", n)
	}
	var rsets int
	for _, e := range srv.Events() {
		if e.Command == "RSET" {
			rsets++
		}
	}
	if rsets == 0 {
		t.Error("no session ended in RSET")
	}
}

// A password the server refuses fails check naming announce.password_env.
func TestPreflightNamesTheRefusedLogin(t *testing.T) {
	t.Parallel()
	srv, err := mailserver.Start(mailserver.Options{User: "security@demo.rs", Password: "another password", TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	_, subjects, said := checkAnnounceAgainst(t, srv)
	if len(subjects) == 0 || subjects[0] != "announce.password_env" {
		t.Fatalf("findings %v, want the refused login naming announce.password_env:\n%s", subjects, said)
	}
}

// What check says it proved of the login is what it proved: the login
// announce.user names, or, with none configured, that there was none.
func TestPreflightSaysWhetherItProvedALogin(t *testing.T) {
	t.Parallel()
	withLogin, err := mailserver.Start(mailserver.Options{User: "security@demo.rs", Password: releasetest.SMTPPassword, TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { withLogin.Close() })
	res, subjects, said := checkAnnounceAgainst(t, withLogin)
	if len(subjects) != 0 || !strings.Contains(res.Text, "took the login of security@demo.rs (AUTH PLAIN) and 2 recipient(s)") {
		t.Errorf("check with a login the server took says %q, findings:\n%s", res.Text, said)
	}

	open, err := mailserver.Start(mailserver.Options{TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { open.Close() })
	res, subjects, said = checkAnnounceAgainst(t, open, func(a *config.AnnounceSection) { a.User, a.PasswordEnv = "", "" })
	if len(subjects) != 0 || strings.Contains(res.Text, "login of") || strings.Contains(res.Text, "took the login") ||
		!strings.Contains(res.Text, "took 2 recipient(s) with no login (none configured: announce.user is not set)") {
		t.Errorf("check with no login configured says %q, findings:\n%s", res.Text, said)
	}
	for _, e := range open.Events() {
		if e.Command == "AUTH" {
			t.Errorf("check logged in with no login configured: %+v", e)
		}
	}
}
