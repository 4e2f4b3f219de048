package announce

import (
	"time"

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

// Sent is the server's answer to one mail: its acceptance (the reply and
// its queue id), a refusal, or no answer after the data.
type Sent struct {
	MessageID string   `json:"message_id"`
	To        []string `json:"to,omitempty"`
	// Try is the release.MailHanded try this answers.
	Try     int    `json:"try"`
	Outcome string `json:"outcome,omitempty"`
	// SentAt is when the session that was accepted opened; AcceptedAt
	// when the server's acceptance came.
	SentAt     time.Time `json:"sent_at,omitzero"`
	AcceptedAt time.Time `json:"accepted_at,omitzero"`
	Code       int       `json:"code,omitempty"`
	Reply      string    `json:"reply,omitempty"`
	QueueID    string    `json:"queue_id,omitempty"`
	Text       string    `json:"summary,omitempty"`
}

func (s Sent) Summary() string { return s.Text }

// Accepted is whether the server took the mail.
func (s Sent) Accepted() bool { return s.Outcome == release.MailAccepted }

// Moments: the mail accepted is the public write.
func (s Sent) Moments() []pipeline.Moment {
	return []pipeline.Moment{{Name: "accepted_at", At: s.AcceptedAt, Public: true}}
}
