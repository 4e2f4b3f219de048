package smtp_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/sandbox/mailserver"
	"github.com/async-rs/embargo/stages/retry"
	"github.com/async-rs/embargo/stages/smtp"
)

// A recipient refused, whatever the code, is tried again (nothing was
// sent, and a list that refuses its sender is put right by a person): the
// error names every recipient refused with the server's reply, and no
// message goes to the others, so that the one message reaches all of them.
func TestARefusedRecipientSendsNothingAndIsTriedAgain(t *testing.T) {
	srv := start(t, mailserver.Options{User: user, Password: password, TLS: true})
	srv.Refuse(env.To[1], 550)
	for name, call := range map[string]func() error{
		"probe": func() error { _, err := client(srv).Probe(context.Background(), env); return err },
		"send":  func() error { _, err := client(srv).Send(context.Background(), env, msg); return err },
	} {
		err := call()
		e := asError(t, err)
		if e.Step != smtp.StepRcpt || e.Outcome != smtp.Temporary || !retry.Retryable(err) {
			t.Errorf("%s: %+v; want a temporary failure at RCPT TO", name, e)
		}
		if len(e.Refused) != 1 || e.Refused[0].Recipient != env.To[1] || e.Refused[0].Reply.Code != 550 {
			t.Errorf("%s: refused %+v; want %s with 550", name, e.Refused, env.To[1])
		}
		if !strings.Contains(err.Error(), env.To[1]) || !strings.Contains(err.Error(), "550") {
			t.Errorf("%s: %q does not name the recipient and the reply", name, err)
		}
	}
	if m := srv.Messages(); len(m) != 0 {
		t.Errorf("the server holds %d messages; a refused recipient must stop the send", len(m))
	}
	for _, c := range commands(srv) {
		if strings.HasPrefix(c, "DATA") {
			t.Errorf("the server saw %s after a recipient was refused", c)
		}
	}

	srv.Refuse(env.To[1], 0)
	if _, err := client(srv).Send(context.Background(), env, msg); err != nil {
		t.Fatalf("Send once the recipient is taken: %v", err)
	}
	if m := srv.Messages(); len(m) != 1 || !slices.Equal(m[0].To, env.To) {
		t.Errorf("the server holds %+v; want one message to both recipients", m)
	}
}

// A 4xx is temporary at any step and the message was not taken: the next
// try delivers it once. A 5xx is permanent and names the step.
func TestRepliesAreClassedByTheirCode(t *testing.T) {
	for _, tc := range []struct {
		step    mailserver.Step
		code    int
		want    smtp.Step
		outcome smtp.Outcome
	}{
		{mailserver.StepMail, 451, smtp.StepMail, smtp.Temporary},
		{mailserver.StepData, 451, smtp.StepMessage, smtp.Temporary},
		{mailserver.StepMail, 553, smtp.StepMail, smtp.Permanent},
		{mailserver.StepData, 554, smtp.StepMessage, smtp.Permanent},
	} {
		srv := start(t, mailserver.Options{User: user, Password: password, TLS: true})
		srv.Fail(tc.step, tc.code, 1)
		_, err := client(srv).Send(context.Background(), env, msg)
		e := asError(t, err)
		if e.Step != tc.want || e.Outcome != tc.outcome || e.Reply.Code != tc.code || retry.Retryable(err) != (tc.outcome == smtp.Temporary) {
			t.Errorf("%d at %s: %+v (retryable %v); want %v at %s", tc.code, tc.step, e, retry.Retryable(err), tc.outcome, tc.want)
		}
		if !strings.Contains(err.Error(), string(tc.want)) || !strings.Contains(err.Error(), "sandbox fault") {
			t.Errorf("%d at %s: %q names neither the step nor the server's words", tc.code, tc.step, err)
		}
		if m := srv.Messages(); len(m) != 0 {
			t.Errorf("%d at %s: the server kept %d messages", tc.code, tc.step, len(m))
		}
		if _, err := client(srv).Send(context.Background(), env, msg); err != nil {
			t.Errorf("%d at %s, then a second try: %v", tc.code, tc.step, err)
		}
		if m := srv.Messages(); len(m) != 1 {
			t.Errorf("%d at %s, then a second try: the server holds %d messages, want 1", tc.code, tc.step, len(m))
		}
	}
}

// A connection lost after the whole message went, before the reply, may
// have delivered it: the outcome is unknown, never retried by itself, and
// the error says which Message-ID to look for.
func TestAConnectionLostAfterTheMessageLeavesTheOutcomeUnknown(t *testing.T) {
	srv := start(t, mailserver.Options{User: user, Password: password, TLS: true})
	srv.DropAfterData(1)
	_, err := client(srv).Send(context.Background(), env, msg)
	e := asError(t, err)
	if e.Step != smtp.StepMessage || e.Outcome != smtp.Unknown || retry.Retryable(err) {
		t.Errorf("a reply lost after the data: %+v; want unknown, not retryable", e)
	}
	const id = "<ASYNC-STD-SA-2026-001.20261201T140000Z.announcement@async.rs>"
	if e.MessageID != id || !strings.Contains(err.Error(), id) {
		t.Errorf("%q (MessageID %q) does not name %s", err, e.MessageID, id)
	}
	if m := srv.Messages(); len(m) != 1 {
		t.Errorf("the server holds %d messages; this one was taken", len(m))
	}
}

// A server that cannot be reached is a temporary failure at connect.
func TestAServerNotListeningIsTemporary(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = smtp.New(smtp.Options{Addr: addr}).Send(context.Background(), env, msg)
	if e := asError(t, err); e.Step != smtp.StepConnect || e.Outcome != smtp.Temporary {
		t.Errorf("Send to %s, where nothing listens: %+v; want temporary, at connect", addr, e)
	}
}

// A server that takes the connection and then says nothing holds the
// session no longer than the caller's context: the wait ends at its
// deadline, not at the client's own minute per reply.
func TestASilentServerEndsAtTheContextsDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = smtp.New(smtp.Options{Addr: ln.Addr().String()}).Probe(ctx, env)
	e := asError(t, err)
	if e.Step != smtp.StepConnect || e.Outcome != smtp.Temporary || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Probe of a silent server: %v (%+v); want temporary at connect, the context's deadline", err, e)
	}
	(<-accepted).Close()
}

// A release stopped (its context ended) stops the session; before the
// message nothing was taken.
func TestAnEndedContextStopsTheSession(t *testing.T) {
	srv := start(t, mailserver.Options{User: user, Password: password, TLS: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := client(srv).Send(ctx, env, msg)
	e := asError(t, err)
	if e.Outcome != smtp.Temporary || e.Err != context.Canceled {
		t.Errorf("Send with an ended context: %+v; want temporary, context.Canceled", e)
	}
	if m := srv.Messages(); len(m) != 0 {
		t.Errorf("the server holds %d messages", len(m))
	}
}

// The queue id is read from the replies of the servers people submit
// through, and the text kept whole when it has none in a known form.
func TestTheQueueIDOfKnownServers(t *testing.T) {
	for text, want := range map[string]string{
		"2.0.0 Ok: queued as 4BxYz1234":                                          "4BxYz1234",                                                    // Postfix
		"OK id=1s2T3u-000AbC-4d":                                                 "1s2T3u-000AbC-4d",                                             // Exim
		"2.0.0 4B1C2D3E012345 Message accepted for delivery":                     "4B1C2D3E012345",                                               // Sendmail
		"Ok 0100018f2c3d4e5f-6a7b8c9d-1e2f-4a5b-8c9d-0e1f2a3b4c5d-000000":        "0100018f2c3d4e5f-6a7b8c9d-1e2f-4a5b-8c9d-0e1f2a3b4c5d-000000", // Amazon SES
		"2.0.0 OK  1764597600 d2e1a72fcca58-7d2b1e0f3a4c5si123456qkb.45 - gsmtp": "d2e1a72fcca58-7d2b1e0f3a4c5si123456qkb.45",                    // Gmail
		"OK": "", // aiosmtpd
	} {
		if got := smtp.ParseReply(250, text); got.QueueID != want || got.Code != 250 {
			t.Errorf("250 %s: queue id %q, want %q", text, got.QueueID, want)
		}
	}
	r := smtp.ParseReply(250, "2.0.0 Ok: queued as 4BxYz1234")
	if r.Enhanced != "2.0.0" || r.Text != "Ok: queued as 4BxYz1234" || r.String() != "250 2.0.0 Ok: queued as 4BxYz1234" {
		t.Errorf("ParseReply = %+v (%s)", r, r)
	}
}
