package templates

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/semver"
)

// Versions are compared with golang.org/x/mod/semver, which wants a leading
// "v"; inside this file a version is held in that form ("v1.2.3").
//
// Ranges follow RustSec and OSV: plain semver precedence, so "< 2.0.0"
// includes 2.0.0-beta.1, and the upper ends that cargo derives for "^" and
// "~" are "-0" prereleases ("^1.2" is [1.2.0, 2.0.0-0)).

// lowest is the least version semver can express.
const lowest = "v0.0.0-0"

var (
	fullVersionRE    = regexp.MustCompile(`^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$`)
	partialVersionRE = regexp.MustCompile(`^(\d+)(?:\.(\d+)(?:\.(\d+)(-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)?)?$`)
)

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

// plain is the crate form of a comparable version, without build metadata.
func plain(v string) string {
	if i := strings.IndexByte(v, '+'); i >= 0 {
		v = v[:i]
	}
	return strings.TrimPrefix(v, "v")
}

// series is a version's release series, "major.minor": the unit a release
// line maintains.
func series(v string) string {
	return strings.TrimPrefix(semver.MajorMinor(v), "v")
}

type triple struct {
	major, minor, patch uint64
	pre                 string // without the dash
}

func parseTriple(v string) triple {
	core := plain(v)
	var t triple
	if i := strings.IndexByte(core, '-'); i >= 0 {
		core, t.pre = core[:i], core[i+1:]
	}
	parts := strings.SplitN(core, ".", 3)
	nums := make([]uint64, 3)
	for i := range parts {
		nums[i], _ = strconv.ParseUint(parts[i], 10, 64)
	}
	t.major, t.minor, t.patch = nums[0], nums[1], nums[2]
	return t
}

func (t triple) String() string {
	s := fmt.Sprintf("v%d.%d.%d", t.major, t.minor, t.patch)
	if t.pre != "" {
		s += "-" + t.pre
	}
	return s
}

// successor is the least version above v: 1.2.3 → 1.2.4-0, and
// 1.2.3-rc.1 → 1.2.3-rc.1.0. It turns inclusive upper bounds into exclusive
// ones, which is all OSV events can say.
func successor(v string) string {
	t := parseTriple(v)
	if t.pre == "" {
		t.patch++
		t.pre = "0"
	} else {
		t.pre += ".0"
	}
	return t.String()
}

// interval is the half-open version range [lo, hi); hi "" is unbounded.
type interval struct {
	lo, hi string
}

func (iv interval) contains(v string) bool {
	return semver.Compare(v, iv.lo) >= 0 && (iv.hi == "" || semver.Compare(v, iv.hi) < 0)
}

func (iv interval) overlaps(o interval) bool {
	loBelowEnd := func(lo string, hi string) bool { return hi == "" || semver.Compare(lo, hi) < 0 }
	return loBelowEnd(iv.lo, o.hi) && loBelowEnd(o.lo, iv.hi)
}

// String writes the interval in RustSec's range syntax.
func (iv interval) String() string {
	switch {
	case iv.lo == lowest && iv.hi == "":
		return "*"
	case iv.lo == lowest:
		return "< " + plain(iv.hi)
	case iv.hi == "":
		return ">= " + plain(iv.lo)
	default:
		return fmt.Sprintf(">= %s, < %s", plain(iv.lo), plain(iv.hi))
	}
}

// parseRange reads one RustSec/cargo version requirement: comparators
// (>=, >, <=, <, =, ^, ~, or a bare version meaning ^) joined by commas,
// all of which must hold, or "*".
func parseRange(s string) (interval, error) {
	iv := interval{lo: lowest}
	if strings.TrimSpace(s) == "" {
		return iv, fmt.Errorf("empty range")
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, err := comparator(strings.TrimSpace(part))
		if err != nil {
			return iv, fmt.Errorf("%q: %w", s, err)
		}
		if lo != "" && semver.Compare(lo, iv.lo) > 0 {
			iv.lo = lo
		}
		if hi != "" && (iv.hi == "" || semver.Compare(hi, iv.hi) < 0) {
			iv.hi = hi
		}
	}
	if iv.hi != "" && semver.Compare(iv.lo, iv.hi) >= 0 {
		return iv, fmt.Errorf("%q matches no version", s)
	}
	return iv, nil
}

// comparator returns the bounds one comparator sets: lo inclusive, hi
// exclusive, "" for a side it leaves open.
func comparator(c string) (lo, hi string, err error) {
	if c == "" {
		return "", "", fmt.Errorf("empty comparator")
	}
	if c == "*" {
		return "", "", nil
	}
	op := ""
	for _, o := range []string{">=", "<=", ">", "<", "=", "^", "~"} {
		if strings.HasPrefix(c, o) {
			op = o
			break
		}
	}
	ver := strings.TrimSpace(c[len(op):])
	m := partialVersionRE.FindStringSubmatch(ver)
	if m == nil {
		return "", "", fmt.Errorf("%q is not a version", ver)
	}
	n := 1
	if m[2] != "" {
		n = 2
	}
	if m[3] != "" {
		n = 3
	}
	var t triple
	nums := []*uint64{&t.major, &t.minor, &t.patch}
	for i := 0; i < n; i++ {
		if d := m[i+1]; len(d) > 1 && d[0] == '0' {
			return "", "", fmt.Errorf("%q: leading zero in %s", ver, d)
		}
		if *nums[i], err = strconv.ParseUint(m[i+1], 10, 64); err != nil {
			return "", "", fmt.Errorf("%q: %w", ver, err)
		}
	}
	t.pre = strings.TrimPrefix(m[4], "-")
	base := t.String()
	if !semver.IsValid(base) {
		return "", "", fmt.Errorf("%q is not a semver version", ver)
	}
	// above is the exclusive end of what a partial version names:
	// "1.2" is 1.2.*, ending before 1.3.0-0.
	above := func() string {
		if n == 1 {
			return triple{major: t.major + 1, pre: "0"}.String()
		}
		return triple{major: t.major, minor: t.minor + 1, pre: "0"}.String()
	}
	switch op {
	case ">=":
		return base, "", nil
	case ">":
		if n == 3 {
			return successor(base), "", nil
		}
		return above(), "", nil
	case "<":
		return "", base, nil
	case "<=":
		if n == 3 {
			return "", successor(base), nil
		}
		return "", above(), nil
	case "=":
		if n == 3 {
			return base, successor(base), nil
		}
		return base, above(), nil
	case "~":
		if n == 1 {
			return base, above(), nil
		}
		return base, triple{major: t.major, minor: t.minor + 1, pre: "0"}.String(), nil
	default: // "^" or bare
		switch {
		case t.major > 0 || n == 1:
			return base, triple{major: t.major + 1, pre: "0"}.String(), nil
		case t.minor > 0 || n == 2:
			return base, triple{minor: t.minor + 1, pre: "0"}.String(), nil
		default:
			return base, triple{patch: t.patch + 1, pre: "0"}.String(), nil
		}
	}
}

// complement returns the versions none of the intervals hold, in order.
func complement(covered []interval) []interval {
	sorted := slices.Clone(covered)
	slices.SortFunc(sorted, func(a, b interval) int { return semver.Compare(a.lo, b.lo) })
	var out []interval
	cursor := lowest
	for _, iv := range sorted {
		if semver.Compare(iv.lo, cursor) > 0 {
			out = append(out, interval{lo: cursor, hi: iv.lo})
		}
		if iv.hi == "" {
			return out
		}
		if semver.Compare(iv.hi, cursor) > 0 {
			cursor = iv.hi
		}
	}
	return append(out, interval{lo: cursor})
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
func (m *Model) ranges() (unaffected, patched []interval) {
	for _, s := range m.Unaffected {
		if iv, err := parseRange(s); err == nil {
			unaffected = append(unaffected, iv)
		}
	}
	return unaffected, m.patched()
}

// affectedIntervals are the vulnerable versions: everything neither
// unaffected nor patched.
func (m *Model) affectedIntervals() []interval {
	unaffected, patched := m.ranges()
	return complement(append(unaffected, patched...))
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
	in := func(v string, ivs []interval) bool {
		for _, iv := range ivs {
			if iv.contains(v) {
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
					c.Status, c.FixedBy = StatusAffected, plain(f.v)
					break
				}
				if c.FixedBy == "" {
					c.FixedBy = plain(f.v)
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
