package templates

import (
	"strings"

	"github.com/async-rs/embargo/semrange"
)

// GHSARange is one vulnerability of the GitHub security advisory: a range
// of vulnerable versions, in GitHub's syntax, and the version that fixes
// it ("" for a range no release line fixes).
type GHSARange struct {
	Vulnerable, Patched string
}

// GHSARanges are the vulnerable ranges, oldest first, each with the fix
// that ends it: one per maintained line, and one for any vulnerable range
// no line fixes. GitHub writes ranges as RustSec does ("< 1.2.3",
// ">= 1.0.0, < 1.2.3"), with ">= 0" for every version.
func (m *Model) GHSARanges() []GHSARange {
	fixed := map[string]bool{}
	for _, f := range m.fixes() {
		fixed[f.v] = true
	}
	var out []GHSARange
	for _, iv := range m.affectedIntervals() {
		r := GHSARange{Vulnerable: iv.String()}
		if r.Vulnerable == "*" {
			r.Vulnerable = ">= 0"
		}
		if fixed[iv.Hi] {
			r.Patched = semrange.Plain(iv.Hi)
		}
		out = append(out, r)
	}
	return out
}

// withAlias appends id to aliases unless it is there already.
func withAlias(aliases []string, id string) []string {
	for _, a := range aliases {
		if strings.EqualFold(a, id) {
			return aliases
		}
	}
	return append(aliases, id)
}
