package announce

import (
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

// The announce stage's steps: the announcement composed and signed, the
// moment it was handed to the server, and the server's answer.
var (
	composedKey = pipeline.Key[Composed]{Stage: release.Announce, Step: "compose"}
	sentSteps   = release.MailSteps[release.PublicMailSent]{
		Handed: pipeline.Key[release.MailHanded]{Stage: release.Announce, Step: string(release.Announcement) + " handed"},
		Sent:   pipeline.Key[release.PublicMailSent]{Stage: release.Announce, Step: string(release.Announcement)},
	}
)

// Composed is the announcement of the release, rendered and signed.
type Composed struct {
	// Mails are their Message-IDs.
	Mails []string `json:"mails,omitempty"`
	// Fingerprint is the signing key's.
	Fingerprint string `json:"fingerprint,omitempty"`
	Text        string `json:"summary,omitempty"`
}

func (c Composed) Summary() string { return c.Text }
