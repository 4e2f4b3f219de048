package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	netmail "net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/sandbox/mailserver"
	core "github.com/async-rs/embargo/stages/release"
)

// The lists the crash tests' releases mail: the announcement's and the
// notice's.
var crashMailTo = map[core.MailKind]string{
	core.Announcement: "demo-announce@lists.demo.rs",
	core.NoticeMail:   "demo-oss-security@lists.demo.rs",
}

// A kill -9 at any step of the whole pipeline, followed by a re-run, ends
// in the state of a run with no crash: branches and tags at the held tips,
// every crate uploaded exactly once with its sealed checksum, exactly one
// advisory commit on the blog, the announcement and the notice mailed once
// each. The crash points are every step's start and end, read from the
// journal of a clean run, so a step added later is covered without
// touching this test.
//
// The one exception is documented: a run killed after the mail server took
// a mail and before the journal recorded it cannot know whether the list
// has it. The re-run sends nothing and fails, naming the Message-ID and
// the forced run of the mail's stage alone (announce, notice), then the
// run from it; the forced run sends the mail again with the same
// Message-ID, and the run from it converges on everything else.
func TestKill9AtEveryStepOfTheWholeRunThenRerunConverges(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills a run at every step; skipped with -short")
	}
	env := append(newTeamKey(t).env, smtpPasswordEnv+"="+smtpPassword)
	points := crashPoints(t, env)
	if len(points) < 40 {
		t.Fatalf("only %d crash points found in a clean run: %v", len(points), points)
	}
	for _, kind := range []core.MailKind{core.Announcement, core.NoticeMail} {
		if !slices.Contains(points, acceptedUnrecorded(kind)) {
			t.Fatalf("no crash point between the server's acceptance of the %s and the journal: %v", kind, points)
		}
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			bl, smtpd := newCrashRelease(t)
			crash := bl.run([]string{"run"}, append(slices.Clip(env), "EMBARGO_TEST_KILL_AT="+point)...)
			if !crash.killed {
				t.Fatalf("the run was not killed at %s: %s", point, crash)
			}
			want := map[core.MailKind]int{core.Announcement: 1, core.NoticeMail: 1}
			res := bl.run([]string{"run"}, env...)
			for kind := range want {
				if point != acceptedUnrecorded(kind) {
					continue
				}
				id := mailedOnce(t, smtpd, kind)
				out := res.stdout + res.stderr
				next := regexp.MustCompile(fmt.Sprintf("`embargo run (-c \\S+ )?--only %s --force`, then `embargo run (-c \\S+ )?--from %[1]s`", mailStage[kind]))
				if res.code != 1 || !strings.Contains(out, id) || !next.MatchString(out) {
					t.Fatalf("re-run after the server took the %s and before the journal said so: %s\nwant exit 1 naming %s and %s", kind, res, id, next)
				}
				if n := len(mailsTo(smtpd, kind)); n != 1 {
					t.Fatalf("the re-run sent the %s again without --force: the server holds %d", kind, n)
				}
				if res = bl.run([]string{"run", "--only", mailStage[kind], "--force"}, env...); res.code != 0 {
					t.Fatalf("run --only %s --force: %s", mailStage[kind], res)
				}
				res = bl.run([]string{"run", "--from", mailStage[kind]}, env...)
				want[kind] = 2
			}
			if res.code != 0 {
				t.Fatalf("re-run after a kill at %s: %s", point, res)
			}
			bl.assertReleased()
			bl.release.assertPublishedOnce()
			bl.release.assertOneUploadAttemptEach()
			bl.assertPublishedOnce(bl.base)
			if n := bl.pushes() - bl.blogPushes(); n != 1 {
				t.Errorf("%d pushes of the release refs, want 1", n)
			}
			for kind, n := range want {
				ids := map[string]int{}
				for _, m := range mailsTo(smtpd, kind) {
					ids[messageID(t, m.Data)]++
				}
				if len(ids) != 1 || slices.Max(slices.Collect(maps.Values(ids))) != n {
					t.Errorf("the %s was mailed %v times by Message-ID, want %d under one Message-ID", kind, ids, n)
				}
			}
		})
	}
}

// acceptedUnrecorded is the crash point after the mail server accepted a
// mail of kind and before the journal recorded it: the end of its step.
func acceptedUnrecorded(kind core.MailKind) string {
	return mailStage[kind] + "." + string(kind) + ".ran"
}

// mailStage is the stage that sends the mail of kind.
var mailStage = map[core.MailKind]string{core.Announcement: core.Announce, core.NoticeMail: core.Notice}

// newCrashRelease is a release whose blog is served and whose [announce]
// mails through a sandbox mail server with a login.
func newCrashRelease(t *testing.T) (*servedBlog, *mailserver.Server) {
	t.Helper()
	smtpd, err := mailserver.Start(mailserver.Options{User: "security@demo.rs", Password: smtpPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtpd.Close() })
	bl := newServedBlogRelease(t, time.Now().Add(-time.Second).Truncate(time.Second))
	bl.announceThrough(smtpd.Addr(), "security@demo.rs")
	return bl, smtpd
}

// mailsTo are the messages the server accepted for kind's list.
func mailsTo(s *mailserver.Server, kind core.MailKind) []mailserver.Message {
	var out []mailserver.Message
	for _, m := range s.Messages() {
		if slices.Contains(m.To, crashMailTo[kind]) {
			out = append(out, m)
		}
	}
	return out
}

// mailedOnce is the Message-ID of the one mail of kind the server holds.
func mailedOnce(t *testing.T, s *mailserver.Server, kind core.MailKind) string {
	t.Helper()
	ms := mailsTo(s, kind)
	if len(ms) != 1 {
		t.Fatalf("the server holds %d mails of the %s, want the one it took before the kill", len(ms), kind)
	}
	return messageID(t, ms[0].Data)
}

func messageID(t *testing.T, data []byte) string {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	id := m.Header.Get("Message-ID")
	if id == "" {
		t.Fatalf("a mail without a Message-ID:\n%s", data)
	}
	return id
}

// crashPoints runs the whole pipeline once and lists the crash point
// before and after each of its steps.
func crashPoints(t *testing.T, env []string) []string {
	t.Helper()
	bl, _ := newCrashRelease(t)
	if res := bl.run([]string{"run"}, env...); res.code != 0 {
		t.Fatalf("clean run: %s", res)
	}
	b, err := os.ReadFile(filepath.Join(bl.dir, ".embargo", "journal.json"))
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Stages []struct {
			Name  string
			Steps []struct{ Name string }
		}
	}
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range j.Stages {
		for _, st := range s.Steps {
			p := s.Name + "." + strings.ReplaceAll(st.Name, " ", "_")
			out = append(out, p+".started", p+".ran")
		}
	}
	return out
}
