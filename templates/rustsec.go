package templates

import (
	"fmt"
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
	if m.URL != "" && !isHTTPS(m.URL) {
		out = append(out, fmt.Sprintf("the RustSec file leaves out url %q: advisory-db takes only https:// URLs; serve the post over https (blog.url)", m.URL))
	}
	for _, r := range m.References {
		if !isHTTPS(r) {
			out = append(out, fmt.Sprintf("the RustSec file leaves out the reference %q: advisory-db takes only https:// URLs (advisory.references)", r))
		}
	}
	return out
}

func isHTTPS(u string) bool { return strings.HasPrefix(u, "https://") && len(u) > len("https://") }
