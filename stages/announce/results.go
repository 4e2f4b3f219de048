package announce

import (
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

// composedKey is the announce stage's first step: the announcement
// composed and signed. The next two, the moment it was handed to the
// server and the server's answer, are release.PublicMailSteps.
var composedKey = pipeline.Key[Composed]{Stage: release.Announce, Step: "compose"}

// Composed is the announcement of the release, rendered and signed.
type Composed struct {
	// Mails are their Message-IDs.
	Mails []string `json:"mails,omitempty"`
	// Fingerprint is the signing key's.
	Fingerprint string `json:"fingerprint,omitempty"`
	Text        string `json:"summary,omitempty"`
}

func (c Composed) Summary() string { return c.Text }
