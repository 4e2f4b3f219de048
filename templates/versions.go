package templates

import (
	"regexp"
	"slices"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/async-rs/embargo/semrange"
)

// Versions are compared with golang.org/x/mod/semver, which wants a leading
// "v"; inside this package a version is held in that form ("v1.2.3"). The
// ranges and their algebra are semrange's, shared with the config's
// validation.

var fullVersionRE = regexp.MustCompile(`^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$`)

// canonical turns a crate version ("1.2.3") into the comparable form
// ("v1.2.3"), or reports that it is not a full semver version.
func canonical(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if !fullVersionRE.MatchString(s) {
		return "", false
	}
	v := "v" + s
	if !semver.IsValid(v) {
		return "", false
	}
	return v, true
}

// series is a version's release series, "major.minor": the unit a release
// line maintains.
func series(v string) string {
	return strings.TrimPrefix(semver.MajorMinor(v), "v")
}

// Statuses of Class.
const (
	StatusUnaffected = "unaffected"
	StatusFixed      = "fixed"
	StatusAffected   = "affected"
	StatusNoFix      = "affected-no-fix"
)

// Class is what the advisory says about one published version.
type Class struct {
	Version string
	// Status: unaffected (never vulnerable), fixed (a fix version or later
	// within a patched range), affected (vulnerable, in a maintained series)
	// or affected-no-fix (vulnerable, in a series no release line maintains).
	Status string
	// FixedBy is the version to upgrade to: the fix of the version's own
	// series when maintained, else the oldest fix above it ("" when none is).
	FixedBy string
}

// fix is a release line's fix version in comparable form.
type fix struct {
	v, series string
	line      string // the release line it fixes
}

// fixes are the valid fix versions, newest first.
func (m *Model) fixes() []fix {
	var out []fix
	for _, f := range m.Fixes {
		if v, ok := canonical(f.Version); ok {
			out = append(out, fix{v: v, series: series(v), line: f.Line})
		}
	}
	slices.SortStableFunc(out, func(a, b fix) int { return semver.Compare(b.v, a.v) })
	return out
}

// ranges returns the parsed unaffected and patched ranges, skipping any
// that do not parse (Validate reports those).
func (m *Model) ranges() (unaffected, patched []semrange.Range) {
	for _, s := range m.Unaffected {
		if iv, err := semrange.Parse(s); err == nil {
			unaffected = append(unaffected, iv)
		}
	}
	return unaffected, m.patched()
}

// affectedIntervals are the vulnerable versions: everything neither
// unaffected nor patched.
func (m *Model) affectedIntervals() []semrange.Range {
	unaffected, patched := m.ranges()
	return semrange.Complement(append(unaffected, patched...))
}

// Affected lists the vulnerable versions in RustSec's range syntax, oldest
// first: the complement of the patched and unaffected ranges.
func (m *Model) Affected() []string {
	var out []string
	for _, iv := range m.affectedIntervals() {
		out = append(out, iv.String())
	}
	return out
}

// Classify says, for each version a registry lists, whether it is
// vulnerable and what its users upgrade to. Versions that are not semver are
// left out; the result is sorted by semver precedence.
func (m *Model) Classify(versions []string) []Class {
	type entry struct{ raw, v string }
	var list []entry
	seen := map[string]bool{}
	for _, raw := range versions {
		v, ok := canonical(raw)
		if !ok || seen[v] {
			continue
		}
		seen[v] = true
		list = append(list, entry{strings.TrimSpace(raw), v})
	}
	slices.SortStableFunc(list, func(a, b entry) int {
		if c := semver.Compare(a.v, b.v); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})

	unaffected, patched := m.ranges()
	fixes := m.fixes()
	in := func(v string, ivs []semrange.Range) bool {
		for _, iv := range ivs {
			if iv.Contains(v) {
				return true
			}
		}
		return false
	}
	out := make([]Class, 0, len(list))
	for _, e := range list {
		c := Class{Version: e.raw}
		switch {
		case in(e.v, unaffected):
			c.Status = StatusUnaffected
		case in(e.v, patched):
			c.Status = StatusFixed
		default:
			c.Status = StatusNoFix
			s := series(e.v)
			for i := len(fixes) - 1; i >= 0; i-- { // oldest first
				f := fixes[i]
				if semver.Compare(f.v, e.v) <= 0 {
					continue
				}
				if f.series == s {
					c.Status, c.FixedBy = StatusAffected, semrange.Plain(f.v)
					break
				}
				if c.FixedBy == "" {
					c.FixedBy = semrange.Plain(f.v)
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// NoFixSeries lists, oldest first, the series ("1.10") that hold vulnerable
// versions and that no release line maintains: their users get no fix in
// their series and must upgrade to another.
func (m *Model) NoFixSeries(versions []string) []string {
	var out []string
	for _, g := range m.noFixGroups(versions) {
		out = append(out, g.Series...)
	}
	return out
}

// NoFixGroup is a run of unmaintained vulnerable series that share the
// version to upgrade to.
type NoFixGroup struct {
	Series  []string // oldest first, e.g. ["1.10", "1.11"]
	Upgrade string   // the oldest fix above them; "" when there is none
}

func (m *Model) noFixGroups(versions []string) []NoFixGroup {
	var out []NoFixGroup
	seen := map[string]bool{}
	for _, c := range m.Classify(versions) {
		if c.Status != StatusNoFix {
			continue
		}
		v, _ := canonical(c.Version)
		s := series(v)
		if seen[s] {
			continue
		}
		seen[s] = true
		if n := len(out); n > 0 && out[n-1].Upgrade == c.FixedBy {
			out[n-1].Series = append(out[n-1].Series, s)
			continue
		}
		out = append(out, NoFixGroup{Series: []string{s}, Upgrade: c.FixedBy})
	}
	return out
}
