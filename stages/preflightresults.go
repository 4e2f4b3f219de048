package stages

import (
	"fmt"
	"strings"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/seal"
	"github.com/async-rs/embargo/stages/vault"
	"github.com/async-rs/embargo/templates"
)

// What preflight leaves in the journal: the stages after it read these
// back with pipeline.Load (through the accessors at the end), and a
// journal written before results were typed is read through each type's
// ReadLegacy.

// FetchedKey is preflight's fetch step.
var FetchedKey = pipeline.Key[Fetched]{Stage: release.Preflight, Step: "fetch"}

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
	return pipeline.Key[LineChecked]{Stage: release.Preflight, Step: "line " + line}
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
	return pipeline.Key[Packaged]{Stage: release.Preflight, Step: "package " + line}
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
var AdvisoryCheckedKey = pipeline.Key[AdvisoryChecked]{Stage: release.Preflight, Step: "advisory"}

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

// ConventionsKey is preflight's conventions step.
var ConventionsKey = pipeline.Key[PostConventions]{Stage: release.Preflight, Step: "conventions"}

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

// CheckedLine is what preflight recorded for rel's line, if it did.
func CheckedLine(r *release.Run, rel config.Release) (LineChecked, bool) {
	return pipeline.Load(r.Journal, LineCheckedKey(rel.Line))
}

// packaged is what preflight packaged for rel's line, if it did.
func PackagedLine(r *release.Run, rel config.Release) (Packaged, bool) {
	return pipeline.Load(r.Journal, PackagedKey(rel.Line))
}

// splitList reads a comma-joined list of a version 2 journal.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
