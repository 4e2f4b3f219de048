package release

import (
	"fmt"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
)

// Notify is the record of `embargo notify` in the journal: not a stage of
// the release (no run starts it, --from and --only do not name it), but
// the distros pre-notice, sent days before T0 and recorded beside the
// stages so that a second notify, plan, status and check know it went.
const Notify = "notify"

// The pre-notice's steps: the moment it was handed to the server, then
// the server's answer.
var (
	DistrosHandedKey = pipeline.Key[MailHanded]{Stage: Notify, Step: "distros handed"}
	DistrosSentKey   = pipeline.Key[DistrosSent]{Stage: Notify, Step: "distros"}
)

// DistrosSent is the server's answer to the pre-notice. It records no
// moment: the notice goes to a closed list, and nothing of the release is
// public. What it carried (its patches, whether it was encrypted) is the
// notify stage's compose step.
type DistrosSent struct{ MailSent }

// DistrosNotified is the server's first acceptance of the pre-notice, as
// the journal records it, whatever a notify --force sent since; ok is
// false when it never took it (or j is nil).
func DistrosNotified(j *pipeline.Journal) (MailAcceptance, bool) {
	if j == nil {
		return MailAcceptance{}, false
	}
	s, ok := pipeline.Load(j, DistrosSentKey)
	if !ok {
		return MailAcceptance{}, false
	}
	return s.FirstAccepted()
}

// DistrosNotice is when linux-distros heard of the fix, and how that is
// known: the journal's record of `embargo notify` (j may be nil) replaces
// the time written by hand in embargo.distros, cfgDistros; how is "" for
// that one. Zero when neither says.
func DistrosNotice(cfgDistros time.Time, j *pipeline.Journal) (at time.Time, how string) {
	if s, ok := DistrosNotified(j); ok {
		how := "by embargo notify, " + s.MessageID
		if s.QueueID != "" {
			how += ", queued as " + s.QueueID
		}
		return s.AcceptedAt.UTC(), how
	}
	if !cfgDistros.IsZero() {
		return cfgDistros.UTC(), ""
	}
	return time.Time{}, ""
}

// DistrosWindow is when the pre-notice may go: from 14 days before T0
// (the longest embargo the list holds) to 72 hours before it (the least
// the policy gives the distributions).
func DistrosWindow(t0 time.Time) (opens, closes time.Time) {
	return t0.Add(-DistrosMaxLead).UTC(), t0.Add(-DistrosMinLead).UTC()
}

// DistrosWindowWords says the window as plan and status print it.
func DistrosWindowWords(t0 time.Time) string {
	opens, closes := DistrosWindow(t0)
	return fmt.Sprintf("`embargo notify` sends the pre-notice from %s to %s (T0 - 14d to T0 - 72h)",
		opens.Format("2006-01-02 15:04Z"), closes.Format("2006-01-02 15:04Z"))
}

// NotifyConfigured says, as a config problem (exit 2), why cfg cannot send the
// pre-notice: it names no private recipient.
func NotifyConfigured(cfg *config.Config) error {
	if a := cfg.Announce; a != nil && len(a.Private) > 0 {
		return nil
	}
	return &config.Error{Problems: []config.Problem{{File: cfg.Path, Key: "announce.private",
		Msg: "missing: embargo notify sends the distros pre-notice only to the private recipients the config names",
		Fix: `add to [announce] private = ["distros@vs.openwall.org"] (with smtp and from, the server and the sender)`}}}
}

// DistrosWindowOpen refuses a pre-notice at now outside the distros window, saying
// when it opens or closed and what to do: not before 14 days ahead of T0
// (the list holds an embargo that long at most, and may publish before
// T0), not after T0 (the embargo is over), and not under 72 hours ahead of
// T0 unless shortNotice says a late notice is still better than none.
func DistrosWindowOpen(cfg *config.Config, now time.Time, shortNotice bool) error {
	t0 := cfg.T0()
	opens, closes := DistrosWindow(t0)
	stamp := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }
	switch {
	case !now.Before(t0):
		return fmt.Errorf("T0 %s has passed (%s ago): the embargo is over and the pre-notice would ask the list to keep a public fix private. Nothing was sent; the advisory goes to oss-security with the release (announce.notice)",
			stamp(t0), pipeline.HumanDuration(now.Sub(t0).Round(time.Second)))
	case now.Before(opens):
		return fmt.Errorf("the distros window opens at %s, in %s (T0 %s - 14d): the list holds an embargo for 14 days at most and may publish a notice sent earlier before T0. Nothing was sent; run `embargo notify` again from %s",
			stamp(opens), pipeline.HumanDuration(opens.Sub(now).Round(time.Minute)), stamp(t0), stamp(opens))
	case now.After(closes) && !shortNotice:
		return fmt.Errorf("the distros window closed at %s, %s ago (T0 %s - 72h): the distributions get %s to prepare, less than the 72 hours the policy gives them. Nothing was sent; a late notice is still better than none: `embargo notify --short-notice` sends it now (or move embargo.at later)",
			stamp(closes), pipeline.HumanDuration(now.Sub(closes).Round(time.Minute)), stamp(t0), pipeline.HumanDuration(t0.Sub(now).Round(time.Minute)))
	}
	return nil
}
