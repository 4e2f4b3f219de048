package verify

import (
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

// What verify's steps record.

// The verify stage's steps.
var (
	feedVerifiedKey = pipeline.Key[FeedVerified]{Stage: release.Verify, Step: "feed"}
	postVerifiedKey = pipeline.Key[PostVerified]{Stage: release.Verify, Step: "post"}
	ghsaLiveKey     = pipeline.Key[release.GHSAVerified]{Stage: release.Verify, Step: "ghsa"}
	timelineKey     = pipeline.Key[Timeline]{Stage: release.Verify, Step: "timeline"}
)

// cratesVerifiedKey is the step downloading line's crates.
func cratesVerifiedKey(line string) pipeline.Key[CratesVerified] {
	return pipeline.Key[CratesVerified]{Stage: release.Verify, Step: "crates " + line}
}

// CratesVerified is a line's crates step: each version's sha256 as
// downloaded from the registry, and what it was compared with ("sealed",
// or "index" when the journal holds no sealed checksums).
type CratesVerified struct {
	ComparedWith string            `json:"compared_with"`
	Sha256       map[string]string `json:"sha256,omitempty"` // by name@version
	Text         string            `json:"summary,omitempty"`
}

func (c CratesVerified) Summary() string { return c.Text }

// FeedVerified is the feed step: the blog commit whose feed has the entry.
type FeedVerified struct {
	Commit string `json:"commit,omitempty"`
	Text   string `json:"summary,omitempty"`
}

func (f FeedVerified) Summary() string { return f.Text }

// PostVerified is the post step: live at its URL (LiveAt), or, where no
// site can be asked, in the blog repository (URLNote says why).
type PostVerified struct {
	URL        string    `json:"url,omitempty"`
	URLChecked bool      `json:"url_checked"`
	URLNote    string    `json:"url_note,omitempty"`
	Attempts   int       `json:"attempts,omitempty"`
	LiveAt     time.Time `json:"live_at,omitzero"`
	Commit     string    `json:"commit,omitempty"`
	Path       string    `json:"path,omitempty"`
	Text       string    `json:"summary,omitempty"`
}

func (p PostVerified) Summary() string { return p.Text }

// Moments: the post seen live, an observation of the advisory's write.
func (p PostVerified) Moments() []pipeline.Moment {
	return []pipeline.Moment{{Name: "live_at", At: p.LiveAt}}
}

// Timeline is verify's last step: when each thing became public, against
// T0 and the deadline.
type Timeline struct {
	T0 time.Time `json:"t0"`
	// Stages are each stage's end, or its state when it did not finish.
	Stages map[string]string `json:"stages,omitempty"`
	// Public are the first moments, by "stage/step moment".
	Public       map[string]time.Time `json:"public,omitempty"`
	Verified     time.Time            `json:"verified,omitzero"`
	Deadline     time.Time            `json:"deadline,omitzero"`
	Margin       time.Duration        `json:"margin_ns"`
	WithinWindow bool                 `json:"within_window"`
	Blog         string               `json:"blog,omitempty"`
	Text         string               `json:"summary,omitempty"`
}

func (t Timeline) Summary() string { return t.Text }

func (t *Timeline) stage(name, state string) {
	if t.Stages == nil {
		t.Stages = map[string]string{}
	}
	t.Stages[name] = state
}

func (t *Timeline) public(key string, at time.Time) {
	if t.Public == nil {
		t.Public = map[string]time.Time{}
	}
	t.Public[key] = at
}
