package templates

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// RustSecLinks are the links the RustSec file carries: advisory-db's linter
// takes only https:// URLs, so the others are left out of it (and named by
// RustSecWarnings), while the post, OSV and the mail keep them.
type RustSecLinks struct {
	URL        string // the post's URL, or ""
	References []string
}

// RustSecURLs are the links of the RustSec file.
func (m *Model) RustSecURLs() RustSecLinks {
	var l RustSecLinks
	if isHTTPS(m.URL) {
		l.URL = m.URL
	}
	for _, r := range m.References {
		if isHTTPS(r) {
			l.References = append(l.References, r)
		}
	}
	return l
}

// RustSecWarnings name what the RustSec file leaves out to pass
// advisory-db's linter, so that the release manager can fix it before the
// pull request.
func (m *Model) RustSecWarnings() []string {
	var out []string
	// A post on this machine's loopback is a sandbox's (the built-in
	// example's): no advisory-db entry ever links to it, whatever its
	// scheme, and there is nothing to fix.
	if m.URL != "" && !isHTTPS(m.URL) && !onLoopback(m.URL) {
		out = append(out, fmt.Sprintf("the RustSec file leaves out url %q: advisory-db takes only https:// URLs; serve the post over https (blog.url)", m.URL))
	}
	for _, r := range m.References {
		if !isHTTPS(r) {
			out = append(out, fmt.Sprintf("the RustSec file leaves out the reference %q: advisory-db takes only https:// URLs (advisory.references)", r))
		}
	}
	if v := m.RustSecCVSS(); v != m.CVSS {
		out = append(out, fmt.Sprintf("the RustSec file carries cvss %q, the base metrics of %q: advisory-db reads CVSS 3.x base metrics only (advisory.cvss)", v, m.CVSS))
	}
	return out
}

// cvss3Base are the CVSS 3.x metrics advisory-db reads: its parser (the
// cvss crate's v3 Base) refuses any other, so a vector with temporal or
// environmental metrics would not load.
var cvss3Base = []string{"AV", "AC", "PR", "UI", "S", "C", "I", "A"}

// RustSecCVSS is the CVSS vector of the RustSec file: of a CVSS 3.x
// vector with temporal or environmental metrics, the base metrics, in the
// specification's order (their score is the one RustSec shows); any other
// vector as it is.
func (m *Model) RustSecCVSS() string {
	rest, ok := strings.CutPrefix(m.CVSS, "CVSS:3.")
	if !ok {
		return m.CVSS
	}
	version, metrics, _ := strings.Cut(rest, "/")
	given := map[string]string{}
	others := false
	for _, part := range strings.Split(metrics, "/") {
		name, value, _ := strings.Cut(part, ":")
		given[name] = value
		others = others || !slices.Contains(cvss3Base, name)
	}
	if !others {
		return m.CVSS
	}
	out := []string{"CVSS:3." + version}
	for _, name := range cvss3Base {
		out = append(out, name+":"+given[name])
	}
	return strings.Join(out, "/")
}

func isHTTPS(u string) bool { return strings.HasPrefix(u, "https://") && len(u) > len("https://") }

// onLoopback reports whether the URL's host is this machine's loopback.
func onLoopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}
