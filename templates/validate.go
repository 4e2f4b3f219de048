package templates

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/async-rs/embargo/semrange"
)

// Categories are the advisory categories RustSec's linter accepts.
var Categories = []string{
	"code-execution",
	"crypto-failure",
	"denial-of-service",
	"file-disclosure",
	"format-injection",
	"memory-corruption",
	"memory-exposure",
	"privilege-escalation",
	"thread-safety",
}

var lineRE = regexp.MustCompile(`^\d+\.\d+$`)

// Problem is one thing Validate finds wrong, named by the config key or
// release it is about.
type Problem struct {
	Subject string // "advisory.categories", "release 1.13"
	Msg     string
	Fix     string // what to do about it
}

// Validate lists what would make the advisory wrong or unpublishable: an
// unknown category, fix versions that are not semver or do not belong to
// their line, two lines of one series, ranges that do not parse or that
// overlap, and ranges that leave no version affected.
func (m *Model) Validate() []Problem {
	var out []Problem
	add := func(subject, fix, format string, args ...any) {
		out = append(out, Problem{Subject: subject, Msg: fmt.Sprintf(format, args...), Fix: fix})
	}

	for _, c := range m.Categories {
		if !slices.Contains(Categories, c) {
			add("advisory.categories", "use one of "+strings.Join(Categories, ", "),
				"%q is not a RustSec category", c)
		}
	}

	bySeries := map[string]string{}
	for _, f := range m.Fixes {
		subject := "release " + f.Line
		v, ok := canonical(f.Version)
		if !ok {
			add(subject, "name the tag after the fixed version, e.g. v1.13.1",
				"fix version %q is not a semver version", f.Version)
			continue
		}
		s := series(v)
		if lineRE.MatchString(f.Line) && f.Line != s {
			add(subject, fmt.Sprintf("tag the %s line with a %s.x version, or correct release.line", f.Line, f.Line),
				"fix version %s is not of the %s line", f.Version, f.Line)
		}
		if other, dup := bySeries[s]; dup {
			add(subject, "keep one [[release]] per major.minor series",
				"fix versions %s and %s are both of series %s: their patched ranges overlap", other, f.Version, s)
			continue
		}
		bySeries[s] = f.Version
	}

	type named struct {
		name string
		iv   semrange.Range
	}
	var ranges []named
	for _, s := range m.Unaffected {
		iv, err := semrange.Parse(s)
		if err != nil {
			add("advisory.unaffected", `write ranges as RustSec does, e.g. "< 1.5.0" or ">= 1.0.0, < 1.2.0"`,
				"cannot read range: %v", err)
			continue
		}
		ranges = append(ranges, named{"unaffected " + quote(s), iv})
	}
	nUnaffected := len(ranges)
	for _, iv := range m.patched() {
		ranges = append(ranges, named{"patched " + quote(iv.String()), iv})
	}
	for i := range ranges {
		for j := i + 1; j < len(ranges); j++ {
			if j >= nUnaffected && i >= nUnaffected {
				continue // two lines of one series, reported above
			}
			if !ranges[i].iv.Overlaps(ranges[j].iv) {
				continue
			}
			fix := "a version is either unaffected or patched: narrow the unaffected range"
			if j < nUnaffected {
				fix = "merge the overlapping unaffected ranges"
			}
			add("advisory.unaffected", fix, "%s overlaps %s", ranges[i].name, ranges[j].name)
		}
	}
	if len(ranges) > 0 && len(m.affectedIntervals()) == 0 {
		add("advisory.unaffected", "check the unaffected ranges and the release tags",
			"the unaffected and patched ranges cover every version: nothing is affected")
	}
	return out
}
