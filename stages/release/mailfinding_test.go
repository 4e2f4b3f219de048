package release_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/async-rs/embargo/sandbox/mailserver"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
	"github.com/async-rs/embargo/stages/smtp"
)

// A server that takes the recipients and refuses the message itself, over
// its size limit or by its policy, is reported as a refusal of the
// message, quoting the server, and sends nobody to correct the
// recipients' key.
func TestAMessageRefusedAfterItsRecipientsIsNotBlamedOnThem(t *testing.T) {
	cfg := releasetest.AnnounceConfig()
	cfg.Path = "embargo.toml"
	cfg.Announce.Private = []string{"distros@vs.example.org"}
	env := smtp.Envelope{From: "security@demo.rs", To: []string{"distros@vs.example.org"}}
	msg := []byte("From: security@demo.rs\r\nTo: distros@vs.example.org\r\nSubject: [vs] demo\r\nMessage-ID: <t@demo.rs>\r\n\r\n" +
		strings.Repeat(string(bytes.Repeat([]byte("+patch line "), 6))+"\r\n", 200))

	send := func(t *testing.T, opts mailserver.Options, fault int) error {
		t.Helper()
		srv, err := mailserver.Start(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		if fault != 0 {
			srv.Fail(mailserver.StepData, fault, 1)
		}
		_, err = smtp.New(smtp.Options{Addr: srv.Addr(), TLS: srv.ClientTLS()}).Send(context.Background(), env, msg)
		if err == nil {
			t.Fatal("the server took the message")
		}
		if n := len(srv.Messages()); n != 0 {
			t.Fatalf("the server kept %d messages", n)
		}
		return err
	}

	for _, tc := range []struct {
		name string
		kind release.MailKind
		opts mailserver.Options
		code int
		says []string
	}{
		{"over the size limit, the pre-notice", release.PreNotice, mailserver.Options{TLS: true, MaxMessageBytes: 1024}, 0,
			[]string{"the distros pre-notice", "refused the message itself", "552 5.3.4 Maximum message size exceeded", "every held commit as a patch", "size limit", "smtp.example.org:587"}},
		{"over the size limit, the announcement", release.Announcement, mailserver.Options{TLS: true, MaxMessageBytes: 1024}, 0,
			[]string{"the announcement", "552 5.3.4", "advisory.description", "size limit"}},
		{"refused by policy", release.Notice, mailserver.Options{TLS: true}, 554,
			[]string{"the notice", "refused the message itself", "554 5.0.0 message: rejected", "its policy", "quoting its reply", "correcting announce.notice would not help"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := send(t, tc.opts, tc.code)
			f, ok := release.MailFinding(cfg, tc.kind, err)
			if !ok {
				t.Fatalf("%v: not a finding", err)
			}
			if f.Subject != "announce.smtp" {
				t.Errorf("subject %q, want announce.smtp: the recipients are not at fault", f.Subject)
			}
			s := f.String()
			for _, want := range tc.says {
				if !strings.Contains(s, want) {
					t.Errorf("%q does not say %q", s, want)
				}
			}
			if strings.Contains(s, "ask the list's owners") || strings.Contains(f.Fix, "correct "+tc.kind.Key()) {
				t.Errorf("%q sends the engineer to the recipients", s)
			}
		})
	}
}
