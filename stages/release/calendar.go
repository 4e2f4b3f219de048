package release

import (
	"fmt"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
)

// The disclosure calendar's bounds: the Rust security policy notifies
// linux-distros at least 72 hours before the embargo ends and publishes
// the advisory within 6 hours of it; the list itself holds an embargo for
// 14 days at most.
const (
	DistrosMinLead = 72 * time.Hour
	DistrosMaxLead = 14 * 24 * time.Hour
	PolicyWindow   = 6 * time.Hour
)

// CalendarEntry is one date of the disclosure.
type CalendarEntry struct {
	Name string // "distros", "T0", "deadline"
	At   time.Time
	What string
}

// Calendar lists the dates of the disclosure in order: the linux-distros
// notice (as the journal j records `embargo notify`, else as
// embargo.distros says; when neither does and the config names private
// recipients, when notify may send it), T0 and the advisory's deadline.
// j may be nil.
func Calendar(cfg *config.Config, j *pipeline.Journal) []CalendarEntry {
	var out []CalendarEntry
	if d, how := DistrosNotice(cfg.Embargo.Distros, j); !d.IsZero() {
		what := "linux-distros notified"
		if how != "" {
			what += " " + how
		}
		out = append(out, CalendarEntry{"distros", d, what + " (T0 " + signed(cfg.T0().Sub(d)) + ")"})
	} else if cfg.Announce != nil && len(cfg.Announce.Private) > 0 {
		opens, _ := DistrosWindow(cfg.T0())
		out = append(out, CalendarEntry{"distros", opens, "not notified yet: " + DistrosWindowWords(cfg.T0())})
	}
	return append(out,
		CalendarEntry{"T0", cfg.T0(), "the embargo ends: push and publish"},
		CalendarEntry{"deadline", cfg.Deadline(), "the advisory live (T0 + " + pipeline.HumanDuration(cfg.Window) + ")"})
}

// CalendarWarnings are the calendar's departures from the policy and the
// list's rules, the notice's time read as Calendar reads it; none of them
// stops a release.
func CalendarWarnings(cfg *config.Config, j *pipeline.Journal) []string {
	var out []string
	if d, how := DistrosNotice(cfg.Embargo.Distros, j); !d.IsZero() {
		key := "embargo.distros"
		if how != "" {
			key = "embargo notify"
		}
		lead := cfg.T0().Sub(d)
		switch {
		case lead <= 0:
			out = append(out, fmt.Sprintf("linux-distros notified at %s (%s) is not before T0: linux-distros must hear of the fix at least 72 hours before it is public", d.UTC().Format(time.RFC3339), key))
		case lead < DistrosMinLead:
			out = append(out, fmt.Sprintf("linux-distros is notified %s before T0, under the 72 hours the Rust security policy gives distributions to prepare (%s)", pipeline.HumanDuration(lead.Round(time.Minute)), key))
		case lead > DistrosMaxLead:
			out = append(out, fmt.Sprintf("linux-distros is notified %s before T0, more than the 14 days the list holds an embargo: it may publish before T0 (%s)", pipeline.HumanDuration(lead.Round(time.Minute)), key))
		}
	}
	if cfg.Window > PolicyWindow {
		out = append(out, fmt.Sprintf("the disclosure window is %s, more than the 6 hours the policy gives for the advisory to be live (embargo.window)", pipeline.HumanDuration(cfg.Window)))
	}
	return out
}

// signed writes a lead as "- 3d2h" (before T0) or "+ 1h" (after).
func signed(lead time.Duration) string {
	if lead < 0 {
		return "+ " + pipeline.HumanDuration(-lead.Round(time.Minute))
	}
	return "- " + pipeline.HumanDuration(lead.Round(time.Minute))
}
