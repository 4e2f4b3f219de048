package release

import (
	"fmt"
	"strings"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/seal"
	"github.com/async-rs/embargo/stages/vault"
	"github.com/async-rs/embargo/templates"
)

// PostRenderedKey is the advisory stage's render step.
var PostRenderedKey = pipeline.Key[PostRendered]{Stage: Advisory, Step: "render"}

// PostRendered is the render step: the post as published.
type PostRendered struct {
	ID     string `json:"id"`
	Post   string `json:"post"` // its path in the blog repository
	Sha256 string `json:"sha256"`
	URL    string `json:"url"`
	Bytes  int    `json:"bytes"`
}

func (p PostRendered) Summary() string {
	if p.Post == "" {
		return ""
	}
	return fmt.Sprintf("%s: %s (%d bytes)", p.ID, p.Post, p.Bytes)
}

// GHSAVerified is the advisory read back, by the ghsa stage and by verify.
type GHSAVerified struct {
	State   string `json:"state,omitempty"`
	HTMLURL string `json:"html_url,omitempty"`
	Text    string `json:"summary,omitempty"`
}

func (g GHSAVerified) Summary() string { return g.Text }

// FetchedKey is preflight's fetch step.
var FetchedKey = pipeline.Key[Fetched]{Stage: Preflight, Step: "fetch"}

// Fetched is preflight's fetch step: the held branches and the release
// tags already made in the source, and the public refs.
type Fetched struct {
	Branches   int      `json:"branches"`
	SourceTags []string `json:"source_tags,omitempty"`
	Public     string   `json:"public"`
}

func (f Fetched) Summary() string {
	return fmt.Sprintf("%d held branches read, public refs of %s fetched", f.Branches, f.Public)
}

func (f *Fetched) ReadLegacy(m map[string]string) { f.SourceTags = splitList(m["source_tags"]) }

// LineCheckedKey is preflight's step checking line.
func LineCheckedKey(line string) pipeline.Key[LineChecked] {
	return pipeline.Key[LineChecked]{Stage: Preflight, Step: "line " + line}
}

// LineChecked is a line's step: the held tip that was checked, the public
// branch tip it fast-forwards, and its crates.
type LineChecked struct {
	Held      string `json:"held"`
	PublicTip string `json:"public_tip,omitempty"`
	// Crates are name@version, in publish order.
	Crates []string `json:"crates,omitempty"`
	Text   string   `json:"summary,omitempty"`
}

func (l LineChecked) Summary() string { return l.Text }

func (l *LineChecked) ReadLegacy(m map[string]string) {
	l.Held, l.PublicTip, l.Crates = m["held"], m["public_tip"], splitList(m["crates"])
}

// PackagedKey is preflight's step packaging line.
func PackagedKey(line string) pipeline.Key[Packaged] {
	return pipeline.Key[Packaged]{Stage: Preflight, Step: "package " + line}
}

// Packaged is a line's package step: what the seal freezes, the sha256 of
// each .crate cargo packaged and verified at the held tip, in publish
// order, and what the registry already has.
type Packaged struct {
	// Order is name@version, in publish order.
	Order  []string          `json:"order"`
	Sha256 map[string]string `json:"sha256"`
	Cargo  string            `json:"cargo_version"`
	// PinnedLock is the sha256 of the Cargo.lock preflight pinned for a
	// workspace that commits none; empty for a committed one.
	PinnedLock string `json:"pinned_lockfile,omitempty"`
	// Released are the versions already on the registry with the sealed
	// checksum (name@version).
	Released []string `json:"released,omitempty"`
	Text     string   `json:"summary,omitempty"`
}

func (p Packaged) Summary() string { return p.Text }

func (p *Packaged) ReadLegacy(m map[string]string) {
	p.Order, p.Cargo, p.PinnedLock, p.Released = splitList(m["order"]), m["cargo_version"], m["pinned_lockfile"], splitList(m["released"])
	p.Sha256 = map[string]string{}
	for _, nv := range p.Order {
		if sum := m[nv]; sum != "" {
			p.Sha256[nv] = sum
		}
	}
}

// Complete says whether every crate packaged has its sha256: a record a
// seal can be made of, and checked against.
func (p Packaged) Complete() bool {
	if len(p.Order) == 0 {
		return false
	}
	for _, nv := range p.Order {
		if p.Sha256[nv] == "" {
			return false
		}
	}
	return true
}

// Crates are the crates packaged, in publish order, as a seal names them.
func (p Packaged) Crates() []seal.Crate {
	var out []seal.Crate
	for _, nv := range p.Order {
		name, version := SplitNV(nv)
		out = append(out, seal.Crate{Name: name, Version: version, Sha256: p.Sha256[nv]})
	}
	return out
}

// AdvisoryCheckedKey is preflight's advisory step.
var AdvisoryCheckedKey = pipeline.Key[AdvisoryChecked]{Stage: Preflight, Step: "advisory"}

// AdvisoryChecked is preflight's advisory step: the digest of each
// rendered output (by path) and the series left without a fix.
type AdvisoryChecked struct {
	Outputs map[string]string `json:"sha256"`
	NoFix   []string          `json:"no_fix,omitempty"`
	Text    string            `json:"summary,omitempty"`
}

func (a AdvisoryChecked) Summary() string { return a.Text }

func (a *AdvisoryChecked) ReadLegacy(m map[string]string) {
	a.Outputs, a.NoFix = map[string]string{}, splitList(m["no_fix"])
	for k, v := range m {
		if path, ok := strings.CutPrefix(k, "sha256 "); ok {
			a.Outputs[path] = v
		}
	}
}

// ConventionsKey is preflight's conventions step.
var ConventionsKey = pipeline.Key[PostConventions]{Stage: Preflight, Step: "conventions"}

// PostConventions is preflight's conventions step: how the blog's posts
// write their front matter, read at the blog's tip before the advisory is
// rendered to follow them. Kept says they were not read again: "as
// sealed", or as an earlier preflight read them, once T0 had passed.
type PostConventions struct {
	Branch      string                `json:"branch"`
	Tip         string                `json:"tip"`
	Read        time.Time             `json:"read"`
	Conventions templates.Conventions `json:"conventions"`
	Kept        string                `json:"kept,omitempty"`
}

func (p PostConventions) Summary() string {
	if p.Tip == "" {
		return ""
	}
	s := fmt.Sprintf("%s at %s: %s", p.Branch, vault.ShortHex(p.Tip), p.Conventions.Summary())
	if p.Kept != "" {
		s += " (" + p.Kept + ")"
	}
	return s
}

// CheckedLine is what preflight recorded for rel's line, if it did.
func CheckedLine(j *pipeline.Journal, line string) (LineChecked, bool) {
	return pipeline.Load(j, LineCheckedKey(line))
}

// packaged is what preflight packaged for rel's line, if it did.
func PackagedLine(j *pipeline.Journal, line string) (Packaged, bool) {
	return pipeline.Load(j, PackagedKey(line))
}

// splitList reads a comma-joined list of a version 2 journal.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// CratePublishedKey is the publish step of one version, name@version.
func CratePublishedKey(nv string) pipeline.Key[CratePublished] {
	return pipeline.Key[CratePublished]{Stage: Publish, Step: "publish " + nv}
}

// CrateOfStep is the version, name@version, a step of the publish stage
// uploads, when it is one of those (a CratePublishedKey).
func CrateOfStep(step string) (nv string, ok bool) {
	return strings.CutPrefix(step, CratePublishedKey("").Step)
}

// CratePublished is the publish step of one version: the sealed sha256,
// when cargo's upload was accepted and when the index showed the version.
type CratePublished struct {
	Sha256 string `json:"sha256"`
	// ResolvedThrough is where cargo resolved the line's own crates:
	// "index view" (embargo's, at T0) or "registry".
	ResolvedThrough string `json:"resolved_through,omitempty"`
	// CargoStarted is when the `cargo publish` that uploaded was started,
	// UploadedAt when the registry accepted its upload: what lies between
	// is cargo's own start-up, its reads and the request.
	CargoStarted time.Time `json:"cargo_started,omitzero"`
	UploadedAt   time.Time `json:"uploaded_at,omitzero"`
	VisibleAt    time.Time `json:"visible_at,omitzero"`
	// SeenAt is when a run found the version in the index though no
	// attempt recorded when it became visible (one cut short while it
	// waited for the index, or killed): it was visible by then.
	SeenAt time.Time `json:"seen_at,omitzero"`
	Text   string    `json:"summary,omitempty"`
}

func (c CratePublished) Summary() string { return c.Text }

// Moments: the upload is a public write; the index showing it, the sight
// of one.
func (c CratePublished) Moments() []pipeline.Moment {
	return []pipeline.Moment{{Name: UploadedMoment, At: c.UploadedAt, Public: true}, {Name: VisibleMoment, At: c.VisibleAt}, {Name: SeenMoment, At: c.SeenAt}}
}

// The moments of a version's publish step, as the journal names them.
const (
	UploadedMoment = "uploaded_at"
	VisibleMoment  = "visible_at"
	SeenMoment     = "seen_at"
)
