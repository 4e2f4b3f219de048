package notice

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
	"github.com/async-rs/embargo/stages/retry"
	"github.com/async-rs/embargo/stages/smtp"
)

// sentSteps are where the stage records its mail.
var sentSteps = release.PublicMailSteps(release.Notice, release.NoticeMail)

// noticeWorld is a run at T0 of the two-line release with [announce], the
// notice stage given a fake mail server, and stand-ins for the stages it
// comes after, which say how many mails the server had when each ran.
type noticeWorld struct {
	r    *release.Run
	mail *releasetest.Mail
	mu   sync.Mutex
	// mailsWhen is how many mails the server had taken as each stand-in
	// ran, by stage.
	mailsWhen map[string]int
}

func newNoticeWorld(t *testing.T) *noticeWorld {
	t.Helper()
	r, clock, _ := releasetest.Run(t, releasetest.AnnounceConfig(), releasetest.T0.Add(time.Second), releasetest.AnnounceEnv(t))
	r.Mode.Late = true
	return &noticeWorld{r: r, mail: releasetest.NewMail(clock), mailsWhen: map[string]int{}}
}

// run executes the stand-ins of publish, the post and the GHSA, and the
// notice stage, as the engine orders them by what each needs.
func (w *noticeWorld) run(t *testing.T) error {
	t.Helper()
	idx := &releasetest.Index{Crates: releasetest.NewCrates()}
	c := releasetest.ClientsWith(func(c *release.Clients) {
		c.Index = func(release.Registry, retry.Clock) (release.RegistryIndex, error) { return idx, nil }
	})
	standIn := func(name string, after ...string) releasetest.Stage {
		return releasetest.Stage{Called: name, After: after, Fn: func(*release.Run) error {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.mailsWhen[name] = len(w.mail.Sent())
			return nil
		}}
	}
	return releasetest.Execute(t, w.r, pipeline.Selection{},
		standIn(release.Publish), standIn(release.Advisory, release.Publish), standIn(release.GHSA, release.Publish),
		Stage{Mail: w.mail.Opener, Index: c.Index, Blog: c.Blog})
}

// The notice links to the post and the GitHub advisory: it is handed to
// the server only once both are out, with the excerpt, the versions and
// the post's link, and a re-run sends nothing.
func TestNoticeGoesOutAfterThePostAndTheGitHubAdvisory(t *testing.T) {
	t.Parallel()
	w := newNoticeWorld(t)
	if err := w.run(t); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, stage := range []string{release.Advisory, release.GHSA} {
		if n, ran := w.mailsWhen[stage]; !ran || n != 0 {
			t.Errorf("stage %s ran: %v, with %d mail(s) taken already, want it to run before the notice", stage, ran, n)
		}
	}
	sent := w.mail.Sent()
	if len(sent) != 1 {
		t.Fatalf("%d mails, want the notice alone", len(sent))
	}
	n := sent[0]
	if got := strings.Join(n.Envelope.To, ","); got != "oss-security@lists.example.org" || !bytes.Contains(n.Bytes, []byte("Patched versions: 1.1.1, 1.0.4")) {
		t.Errorf("the notice went to %s and says:\n%s\nwant announce.notice and the fixed versions", got, n.Bytes)
	}
	if acc, ok := pipeline.Load(w.r.Journal, sentSteps.Sent); !ok || !acc.Accepted() || acc.QueueID == "" {
		t.Errorf("the journal records %+v, want the acceptance with its queue id", acc)
	}
	if err := w.run(t); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if k := len(w.mail.Sent()); k != 1 {
		t.Errorf("%d mails after a re-run, want 1", k)
	}
}

// A list that refuses the notice fails the notice alone, naming
// announce.notice: the post is out, and nothing waited for the notice.
func TestRefusedNoticeHoldsBackNothing(t *testing.T) {
	t.Parallel()
	w := newNoticeWorld(t)
	w.mail.Answers = []error{&smtp.Error{Addr: "smtp.example.org:587", Step: smtp.StepRcpt, Outcome: smtp.Permanent,
		Refused: []smtp.Refusal{{Recipient: "oss-security@lists.example.org", Reply: smtp.ParseReply(550, "5.1.1 no such list")}}}}
	err := w.run(t)
	if err == nil || !releasetest.Mentions(err.Error(), "announce.notice", "no such list") {
		t.Fatalf("run: %v, want the refusal naming announce.notice", err)
	}
	for _, stage := range []string{release.Advisory, release.GHSA} {
		if st, _ := w.r.Journal.StageState(stage); st != pipeline.StateDone {
			t.Errorf("stage %s is %s after the notice was refused, want done", stage, st)
		}
	}
}

// Without announce.notice the stage is skipped, saying why.
func TestNoticeWithoutRecipientsIsSkipped(t *testing.T) {
	cfg := releasetest.AnnounceConfig()
	cfg.Announce.Notice = nil
	if why := (Stage{}).Skip(cfg); !strings.Contains(why, "announce.notice") {
		t.Errorf("skip reason %q, want one naming announce.notice", why)
	}
	cfg.Announce = nil
	if why := (Stage{}).Skip(cfg); !strings.Contains(why, "[announce]") {
		t.Errorf("skip reason %q, want one naming [announce]", why)
	}
}
