package preflight

import (
	"fmt"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/vault"
)

// What preflight leaves in the journal: the stages after it read these
// back with pipeline.Load (through the accessors at the end), and a
// journal written before results were typed is read through each type's
// ReadLegacy.

var blogCheckedKey = pipeline.Key[BlogChecked]{Stage: release.Preflight, Step: "blog"}

// BlogChecked is preflight's blog step: the blog's tip the post was
// checked against, the conventions read there, and the site's build.
type BlogChecked struct {
	Branch     string   `json:"branch"`
	Tip        string   `json:"tip"`
	Authors    string   `json:"authors,omitempty"`
	Neighbours []string `json:"neighbours,omitempty"`
	Build      string   `json:"build"`
	BuiltPage  string   `json:"built_page,omitempty"`
}

func (b BlogChecked) Summary() string {
	if b.Build == "" {
		return "" // stopped before the site's build: the findings say why
	}
	return fmt.Sprintf("%s at %s: the post and feed entry can be written; site build: %s", b.Branch, vault.ShortHex(b.Tip), b.Build)
}

var announceCheckedKey = pipeline.Key[AnnounceChecked]{Stage: release.Preflight, Step: "announce"}

// AnnounceChecked is preflight's announce step: the key that signs, the
// mails rendered, and the recipients the server took (nothing sent).
type AnnounceChecked struct {
	Fingerprint string   `json:"fingerprint,omitempty"`
	Mails       []string `json:"mails,omitempty"`
	Probed      []string `json:"probed,omitempty"`
	TLS         string   `json:"tls,omitempty"`
	// Auth is the mechanism of the login the server took; "" when no
	// login is configured.
	Auth string `json:"auth,omitempty"`
	Text string `json:"summary,omitempty"`
}

func (a AnnounceChecked) Summary() string { return a.Text }

var ghsaCheckedKey = pipeline.Key[GHSAChecked]{Stage: release.Preflight, Step: "ghsa"}

// GHSAChecked is preflight's ghsa step: the draft's state on GitHub.
type GHSAChecked struct {
	State   string `json:"state,omitempty"`
	HTMLURL string `json:"html_url,omitempty"`
	CVEID   string `json:"cve_id,omitempty"`
	Text    string `json:"summary,omitempty"`
}

func (g GHSAChecked) Summary() string { return g.Text }

var clocksKey = pipeline.Key[ClocksMeasured]{Stage: release.Preflight, Step: "clocks"}

// ClocksMeasured is preflight's clocks step: each target's offset.
type ClocksMeasured struct {
	Measured bool              `json:"measured"`
	Offsets  []pipeline.Offset `json:"offsets,omitempty"`
}

func (c ClocksMeasured) Summary() string {
	if !c.Measured {
		return "not measured: the local clock stands for every target"
	}
	return pipeline.ClockCheck{Offsets: c.Offsets}.Summary()
}
