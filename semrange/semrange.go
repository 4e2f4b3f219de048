// Package semrange is the version algebra of an advisory: crate versions
// ordered by semver precedence, and the ranges RustSec and cargo write
// ("< 1.5.0", ">= 1.2.0, < 1.3.0", "^1.2"). The config's validation and the
// advisory's outputs read ranges with this one parser, so that a range the
// config accepts is the range the outputs publish. It depends on no other
// part of embargo.
//
// Versions are compared with golang.org/x/mod/semver, which wants a leading
// "v"; a version here is held in that form ("v1.2.3").
//
// Ranges follow RustSec and OSV: plain semver precedence, so "< 2.0.0"
// includes 2.0.0-beta.1, and the upper ends that cargo derives for "^" and
// "~" are "-0" prereleases ("^1.2" is [1.2.0, 2.0.0-0)).
package semrange

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/semver"
)

// Lowest is the least version semver can express.
const Lowest = "v0.0.0-0"

var partialVersionRE = regexp.MustCompile(`^(\d+)(?:\.(\d+)(?:\.(\d+)(-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)?)?$`)

// Plain is the crate form of a comparable version, without build metadata.
func Plain(v string) string {
	if i := strings.IndexByte(v, '+'); i >= 0 {
		v = v[:i]
	}
	return strings.TrimPrefix(v, "v")
}

// Version is a version's numbers and prerelease, to build the versions
// around it.
type Version struct {
	Major, Minor, Patch uint64
	Pre                 string // without the dash
}

// ParseVersion reads a comparable version ("v1.2.3-rc.1").
func ParseVersion(v string) Version {
	core := Plain(v)
	var t Version
	if i := strings.IndexByte(core, '-'); i >= 0 {
		core, t.Pre = core[:i], core[i+1:]
	}
	parts := strings.SplitN(core, ".", 3)
	nums := make([]uint64, 3)
	for i := range parts {
		nums[i], _ = strconv.ParseUint(parts[i], 10, 64)
	}
	t.Major, t.Minor, t.Patch = nums[0], nums[1], nums[2]
	return t
}

// String is the comparable form, "v1.2.3-rc.1".
func (t Version) String() string {
	s := fmt.Sprintf("v%d.%d.%d", t.Major, t.Minor, t.Patch)
	if t.Pre != "" {
		s += "-" + t.Pre
	}
	return s
}

// Successor is the least version above v: 1.2.3 → 1.2.4-0, and
// 1.2.3-rc.1 → 1.2.3-rc.1.0. It turns inclusive upper bounds into exclusive
// ones, which is all OSV events can say.
func Successor(v string) string {
	t := ParseVersion(v)
	if t.Pre == "" {
		t.Patch++
		t.Pre = "0"
	} else {
		t.Pre += ".0"
	}
	return t.String()
}

// Range is the half-open version range [Lo, Hi); Hi "" is unbounded.
type Range struct {
	Lo, Hi string
}

// Contains is whether v (comparable form) is in the range.
func (iv Range) Contains(v string) bool {
	return semver.Compare(v, iv.Lo) >= 0 && (iv.Hi == "" || semver.Compare(v, iv.Hi) < 0)
}

// Overlaps is whether some version is in both ranges.
func (iv Range) Overlaps(o Range) bool {
	loBelowEnd := func(lo string, hi string) bool { return hi == "" || semver.Compare(lo, hi) < 0 }
	return loBelowEnd(iv.Lo, o.Hi) && loBelowEnd(o.Lo, iv.Hi)
}

// String writes the range in RustSec's syntax.
func (iv Range) String() string {
	switch {
	case iv.Lo == Lowest && iv.Hi == "":
		return "*"
	case iv.Lo == Lowest:
		return "< " + Plain(iv.Hi)
	case iv.Hi == "":
		return ">= " + Plain(iv.Lo)
	default:
		return fmt.Sprintf(">= %s, < %s", Plain(iv.Lo), Plain(iv.Hi))
	}
}

// Parse reads one RustSec/cargo version requirement: comparators (>=, >,
// <=, <, =, ^, ~, or a bare version meaning ^) joined by commas, all of
// which must hold, or "*". A requirement no version meets is an error.
func Parse(s string) (Range, error) {
	iv := Range{Lo: Lowest}
	if strings.TrimSpace(s) == "" {
		return iv, fmt.Errorf("empty range")
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, err := comparator(strings.TrimSpace(part))
		if err != nil {
			return iv, fmt.Errorf("%q: %w", s, err)
		}
		if lo != "" && semver.Compare(lo, iv.Lo) > 0 {
			iv.Lo = lo
		}
		if hi != "" && (iv.Hi == "" || semver.Compare(hi, iv.Hi) < 0) {
			iv.Hi = hi
		}
	}
	if iv.Hi != "" && semver.Compare(iv.Lo, iv.Hi) >= 0 {
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
	var t Version
	nums := []*uint64{&t.Major, &t.Minor, &t.Patch}
	for i := 0; i < n; i++ {
		if d := m[i+1]; len(d) > 1 && d[0] == '0' {
			return "", "", fmt.Errorf("%q: leading zero in %s", ver, d)
		}
		if *nums[i], err = strconv.ParseUint(m[i+1], 10, 64); err != nil {
			return "", "", fmt.Errorf("%q: %w", ver, err)
		}
	}
	t.Pre = strings.TrimPrefix(m[4], "-")
	base := t.String()
	if !semver.IsValid(base) {
		return "", "", fmt.Errorf("%q is not a semver version", ver)
	}
	// above is the exclusive end of what a partial version names:
	// "1.2" is 1.2.*, ending before 1.3.0-0.
	above := func() string {
		if n == 1 {
			return Version{Major: t.Major + 1, Pre: "0"}.String()
		}
		return Version{Major: t.Major, Minor: t.Minor + 1, Pre: "0"}.String()
	}
	switch op {
	case ">=":
		return base, "", nil
	case ">":
		if n == 3 {
			return Successor(base), "", nil
		}
		return above(), "", nil
	case "<":
		return "", base, nil
	case "<=":
		if n == 3 {
			return "", Successor(base), nil
		}
		return "", above(), nil
	case "=":
		if n == 3 {
			return base, Successor(base), nil
		}
		return base, above(), nil
	case "~":
		if n == 1 {
			return base, above(), nil
		}
		return base, Version{Major: t.Major, Minor: t.Minor + 1, Pre: "0"}.String(), nil
	default: // "^" or bare
		switch {
		case t.Major > 0 || n == 1:
			return base, Version{Major: t.Major + 1, Pre: "0"}.String(), nil
		case t.Minor > 0 || n == 2:
			return base, Version{Minor: t.Minor + 1, Pre: "0"}.String(), nil
		default:
			return base, Version{Patch: t.Patch + 1, Pre: "0"}.String(), nil
		}
	}
}

// Complement returns the versions none of the ranges hold, in order.
func Complement(covered []Range) []Range {
	sorted := slices.Clone(covered)
	slices.SortFunc(sorted, func(a, b Range) int { return semver.Compare(a.Lo, b.Lo) })
	var out []Range
	cursor := Lowest
	for _, iv := range sorted {
		if semver.Compare(iv.Lo, cursor) > 0 {
			out = append(out, Range{Lo: cursor, Hi: iv.Lo})
		}
		if iv.Hi == "" {
			return out
		}
		if semver.Compare(iv.Hi, cursor) > 0 {
			cursor = iv.Hi
		}
	}
	return append(out, Range{Lo: cursor})
}
