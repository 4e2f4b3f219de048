package templates

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/async-rs/embargo/semrange"
)

// OSVSchemaVersion is the OSV schema version the record follows.
const OSVSchemaVersion = "1.7.0"

type osvRecord struct {
	SchemaVersion    string         `json:"schema_version"`
	ID               string         `json:"id"`
	Modified         string         `json:"modified"`
	Published        string         `json:"published"`
	Aliases          []string       `json:"aliases,omitempty"`
	Summary          string         `json:"summary,omitempty"`
	Details          string         `json:"details,omitempty"`
	Severity         []osvSeverity  `json:"severity,omitempty"`
	Affected         []osvAffected  `json:"affected"`
	References       []osvReference `json:"references,omitempty"`
	Credits          []osvCredit    `json:"credits,omitempty"`
	DatabaseSpecific map[string]any `json:"database_specific,omitempty"`
}

type osvSeverity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

type osvAffected struct {
	Package osvPackage `json:"package"`
	Ranges  []osvRange `json:"ranges,omitempty"`
}

type osvPackage struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl"`
}

type osvRange struct {
	Type   string     `json:"type"`
	Events []osvEvent `json:"events"`
}

type osvEvent struct {
	Introduced string `json:"introduced,omitempty"`
	Fixed      string `json:"fixed,omitempty"`
}

type osvReference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

type osvCredit struct {
	Name string `json:"name"`
}

// osvTime is OSV's timestamp form: RFC 3339 in UTC, with a Z.
func osvTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// OSV renders the OSV record. It is built as data, not from a template, so
// it is always valid JSON. The record is stamped modified at T0, so that
// rendering twice gives the same bytes.
func OSV(m *Model) ([]byte, error) {
	rec := osvRecord{
		SchemaVersion: OSVSchemaVersion,
		ID:            m.ID,
		Modified:      osvTime(m.Published),
		Published:     osvTime(m.Published),
		Aliases:       m.Aliases,
		Summary:       m.Title,
		Details:       strings.TrimSpace(m.Description),
	}
	if m.RustSecURL() != "" {
		rec.Aliases = append(append([]string(nil), m.Aliases...), m.RustSecID)
	}
	switch {
	case strings.HasPrefix(m.CVSS, "CVSS:4."):
		rec.Severity = []osvSeverity{{Type: "CVSS_V4", Score: m.CVSS}}
	case m.CVSS != "":
		rec.Severity = []osvSeverity{{Type: "CVSS_V3", Score: m.CVSS}}
	}
	if m.Severity != "" {
		rec.DatabaseSpecific = map[string]any{"severity": m.Severity}
	}

	aff := osvAffected{Package: osvPackage{Ecosystem: "crates.io", Name: m.Package, PURL: "pkg:cargo/" + m.Package}}
	var events []osvEvent
	for _, iv := range m.affectedIntervals() {
		events = append(events, osvEvent{Introduced: semrange.Plain(iv.Lo)})
		if iv.Hi != "" {
			events = append(events, osvEvent{Fixed: semrange.Plain(iv.Hi)})
		}
	}
	if len(events) > 0 {
		aff.Ranges = []osvRange{{Type: "SEMVER", Events: events}}
	}
	rec.Affected = []osvAffected{aff}

	if m.URL != "" {
		rec.References = append(rec.References, osvReference{Type: "ADVISORY", URL: m.URL})
	}
	if u := m.RustSecURL(); u != "" {
		rec.References = append(rec.References, osvReference{Type: "ADVISORY", URL: u})
	}
	for _, u := range m.References {
		rec.References = append(rec.References, osvReference{Type: referenceType(u), URL: u})
	}
	rec.References = append(rec.References, osvReference{Type: "PACKAGE", URL: "https://crates.io/crates/" + m.Package})
	for _, c := range m.Credits {
		rec.Credits = append(rec.Credits, osvCredit{Name: c})
	}

	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rec); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// referenceType guesses the OSV reference type of a URL from the forms the
// usual hosts give them.
func referenceType(u string) string {
	switch {
	case strings.Contains(u, "/security/advisories/"),
		strings.Contains(u, "github.com/advisories/"),
		strings.Contains(u, "rustsec.org/advisories/"),
		strings.Contains(u, "nvd.nist.gov/vuln/"),
		strings.Contains(u, "cve.org/CVERecord"):
		return "ADVISORY"
	case strings.Contains(u, "/commit/"), strings.Contains(u, "/pull/"), strings.Contains(u, "/merge_requests/"):
		return "FIX"
	case strings.Contains(u, "/issues/"):
		return "REPORT"
	}
	return "WEB"
}
