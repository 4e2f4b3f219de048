package announce

import (
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

// The announce stage's steps: the mails composed and signed, then for each
// mail the moment it was handed to the server and the server's answer.
var composedKey = pipeline.Key[Composed]{Stage: release.Announce, Step: "compose"}

func handedKey(k release.MailKind) pipeline.Key[release.MailHanded] {
	return pipeline.Key[release.MailHanded]{Stage: release.Announce, Step: string(k) + " handed"}
}

func sentKey(k release.MailKind) pipeline.Key[Sent] {
	return pipeline.Key[Sent]{Stage: release.Announce, Step: string(k)}
}

// Composed is the mails of the release, rendered and signed.
type Composed struct {
	// Mails are their Message-IDs.
	Mails []string `json:"mails,omitempty"`
	// Fingerprint is the signing key's.
	Fingerprint string `json:"fingerprint,omitempty"`
	Text        string `json:"summary,omitempty"`
}

func (c Composed) Summary() string { return c.Text }

// Sent is the server's answer to one mail of the stage.
type Sent struct{ release.MailSent }

// Moments: the mail accepted is the public write.
func (s Sent) Moments() []pipeline.Moment {
	return []pipeline.Moment{{Name: "accepted_at", At: s.AcceptedAt, Public: true}}
}
