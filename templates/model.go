// Package templates renders the advisory of an embargoed release in every
// format it is published in: the blog post, the RustSec advisory, the OSV
// record, the mailing-list announcement and the feed entry. All of them come
// from one Model, built from an Input: the advisory as the release states
// it, in plain values, so that the package depends on no other part of
// embargo.
//
// The text outputs come from the *.tmpl files embedded here; a project can
// replace any of them with a file of the same name in a folder of its own
// (see Render). Templates see a Data value.
package templates

import (
	"bytes"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"text/template"
	"time"

	"golang.org/x/mod/semver"

	"github.com/async-rs/embargo/semrange"
)

// RustSecPlaceholder is the id RustSec asks new advisories to carry until it
// assigns one. The config's check knows the same id; a test of stages keeps
// the two equal.
const RustSecPlaceholder = "RUSTSEC-0000-0000"

// Model is the advisory, as every output sees it.
type Model struct {
	ID, Title, Package string
	Date               time.Time // the advisory date, midnight UTC; defaults to T0's UTC date
	Published          time.Time // T0
	Severity           string    // none|low|medium|high|critical, or ""
	CVSS               string    // a CVSS vector, or ""
	Aliases            []string
	Categories         []string
	Keywords           []string
	Credits            []string
	References         []string
	Description        string // Markdown
	Handler            string // "Name <email>"
	PostAuthor         string // blog.author; "" for the handler's name
	Functions          []string
	Informational      string // RustSec's informational kind, or ""
	License            string // the RustSec text's licence, or ""
	RustSecID          string // RustSecPlaceholder until advisory.rustsec_id is set
	Fixes              []Fix  // one per release line, newest first
	Unaffected         []string
	Slug               string // from the title: "use-after-free-in-async-std-task"
	URL                string // blog.url, expanded
	PostPath           string // blog.path, expanded
}

// Fix is the patched release of one maintained line.
type Fix struct {
	Line    string // "1.13"
	Version string // "1.13.1", from the line's tag
}

// Input is the advisory as the release states it; NewModel derives the
// rest (the date's default, the slug, the post's path and URL, the order of
// the fixes).
type Input struct {
	ID        string    // the embargo's id
	Handler   string    // "Name <email>"
	Published time.Time // T0
	Title     string
	Package   string
	// Date is the advisory's calendar day (its clock and zone are not
	// read); zero: T0's UTC date.
	Date          time.Time
	Severity      string
	CVSS          string
	Aliases       []string
	Categories    []string
	Keywords      []string
	Credits       []string
	References    []string
	Description   string // Markdown
	Functions     []string
	Informational string
	License       string
	RustSecID     string // "": RustSecPlaceholder
	GHSA          string // the GitHub advisory's id, or ""
	Unaffected    []string
	// Fixes are one per release line, with the version its tag names, in
	// any order.
	Fixes      []Fix
	BlogAuthor string // "": the handler's name
	BlogURL    string // a pattern of {{.Slug}}, {{.Date}} and {{.ID}}, or ""
	BlogPath   string // the same; "": <date>-<slug>.md
}

// NewModel builds the advisory model of an input; the input is not kept.
func NewModel(in Input) (*Model, error) {
	m := &Model{
		ID:            in.ID,
		Title:         in.Title,
		Package:       in.Package,
		Published:     in.Published.UTC(),
		Severity:      in.Severity,
		CVSS:          in.CVSS,
		Aliases:       slices.Clone(in.Aliases),
		Categories:    slices.Clone(in.Categories),
		Keywords:      slices.Clone(in.Keywords),
		Credits:       slices.Clone(in.Credits),
		References:    slices.Clone(in.References),
		Description:   in.Description,
		Handler:       in.Handler,
		Functions:     slices.Clone(in.Functions),
		Informational: in.Informational,
		License:       in.License,
		RustSecID:     in.RustSecID,
		Unaffected:    slices.Clone(in.Unaffected),
		Fixes:         slices.Clone(in.Fixes),
		Slug:          slugify(in.Title),
		PostAuthor:    strings.TrimSpace(in.BlogAuthor),
	}
	// A TOML local date carries no zone: its calendar day is the date.
	if in.Date.IsZero() {
		m.Date = day(m.Published)
	} else {
		m.Date = time.Date(in.Date.Year(), in.Date.Month(), in.Date.Day(), 0, 0, 0, 0, time.UTC)
	}
	if m.RustSecID == "" {
		m.RustSecID = RustSecPlaceholder
	}
	// The GitHub advisory published at T0 is one more name of the
	// vulnerability, in every output.
	if in.GHSA != "" {
		m.Aliases = withAlias(m.Aliases, in.GHSA)
	}
	sortFixes(m.Fixes)
	var err error
	if m.URL, err = m.expand("blog.url", in.BlogURL); err != nil {
		return nil, err
	}
	if m.PostPath, err = m.expand("blog.path", in.BlogPath); err != nil {
		return nil, err
	}
	if m.PostPath == "" {
		m.PostPath = m.Date.Format(time.DateOnly) + "-" + m.Slug + ".md"
	}
	return m, nil
}

// sortFixes orders fixes newest first; versions that are not semver go last,
// in config order, for Validate to report.
func sortFixes(fs []Fix) {
	slices.SortStableFunc(fs, func(a, b Fix) int {
		va, oka := canonical(a.Version)
		vb, okb := canonical(b.Version)
		switch {
		case oka && okb:
			return semver.Compare(vb, va)
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
}

func day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// pathData is what blog.path and blog.url may use.
type pathData struct {
	Slug, Date, ID string
}

func (m *Model) expand(key, pattern string) (string, error) {
	t, err := template.New(key).Option("missingkey=error").Parse(pattern)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, pathData{Slug: m.Slug, Date: m.Date.Format(time.DateOnly), ID: m.ID}); err != nil {
		return "", fmt.Errorf("%s %q: %w (it may use {{.Slug}}, {{.Date}} and {{.ID}})", key, pattern, err)
	}
	return b.String(), nil
}

// slugify keeps ASCII letters and digits, lowercased, and joins the runs
// between them with single dashes.
func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}

// Patched derives the patched ranges from the fixes, newest first. The
// newest line is open-ended. An older line ends at the next minor of its
// own major when the next newer line has the same major (1.8.3 below 1.9.x:
// "< 1.9.0"; 1.9.8 below 1.13.x: "< 1.10.0", because the unmaintained 1.10
// to 1.12 carry no fix), and at the next major when the next newer line is
// of a newer major (1.9.8 below 2.0.x: "< 2.0.0"; the line is taken to be
// the last minor of its major). 0.x lines follow the same rule.
func (m *Model) Patched() []string {
	var out []string
	for _, iv := range m.patched() {
		out = append(out, iv.String())
	}
	return out
}

// patched are the patched ranges of Patched, one per fix, newest first.
func (m *Model) patched() []semrange.Range {
	fixes := m.fixes()
	out := make([]semrange.Range, len(fixes))
	for i, f := range fixes {
		out[i] = semrange.Range{Lo: f.v}
		if i > 0 {
			out[i].Hi = capBelow(f.v, fixes[i-1].v)
		}
	}
	return out
}

// capBelow is where the patched range of fix v ends (exclusive), given the
// next newer line's fix.
func capBelow(v, next string) string {
	t, n := semrange.ParseVersion(v), semrange.ParseVersion(next)
	if n.Major > t.Major {
		return semrange.Version{Major: t.Major + 1}.String()
	}
	return semrange.Version{Major: t.Major, Minor: t.Minor + 1}.String()
}

// Author is the post's author: blog.author, or else the handler's name
// without the address.
func (m *Model) Author() string {
	if m.PostAuthor != "" {
		return m.PostAuthor
	}
	if a, err := mail.ParseAddress(m.Handler); err == nil && a.Name != "" {
		return a.Name
	}
	if i := strings.IndexByte(m.Handler, '<'); i > 0 {
		return strings.TrimSpace(m.Handler[:i])
	}
	return m.Handler
}

// AuthorEmail is the handler's address, or "".
func (m *Model) AuthorEmail() string {
	if a, err := mail.ParseAddress(m.Handler); err == nil {
		return a.Address
	}
	return ""
}

// PostTime is when the post is dated: T0, on the advisory date's day. When
// advisory.date names another day than T0's, midnight UTC of that day, so
// that the generators that build URLs from the date agree with blog.path.
func (m *Model) PostTime() time.Time {
	if day(m.Published).Equal(m.Date) {
		return m.Published.UTC()
	}
	return m.Date
}

// FixVersions are the fix versions, newest first.
func (m *Model) FixVersions() []string {
	var out []string
	for _, f := range m.fixes() {
		out = append(out, semrange.Plain(f.v))
	}
	return out
}

// Summary is one plain sentence or two about the advisory, for feeds and
// front matter.
func (m *Model) Summary() string {
	s := fmt.Sprintf("Security advisory %s for the %s crate: %s.", m.ID, m.Package, strings.TrimRight(m.Title, "."))
	if v := m.FixVersions(); len(v) > 0 {
		s += " Fixed in " + joinAnd(v) + "."
	}
	return s
}

// RustSecURL is where RustSec publishes the advisory, once it has an id.
func (m *Model) RustSecURL() string {
	if m.RustSecID == "" || m.RustSecID == RustSecPlaceholder {
		return ""
	}
	return "https://rustsec.org/advisories/" + m.RustSecID + ".html"
}

// joinAnd joins "a", "b" and "c" as "a, b and c".
func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
