package config

import (
	"fmt"
	"slices"
	"strings"
)

// advisory.cvss is checked against the vector grammars of FIRST's CVSS
// specifications (3.0, 3.1 and 4.0) as their JSON schemas write them, which
// OSV's schema repeats for the record embargo renders: every base metric
// once, the optional metrics at most once, each value one its metric
// defines, in capitals. CVSS 3.x metrics may come in any order; CVSS 4.0
// lists them in the specification's order, which OSV's schema requires.

// cvssMetric is one metric of a CVSS version and the values it takes.
type cvssMetric struct {
	name   string
	values []string
	base   bool // mandatory
}

// cvssVersion is the vector grammar of one CVSS version.
type cvssVersion struct {
	prefix  string // "CVSS:3.1"
	ordered bool   // the metrics must come in the order of metrics
	metrics []cvssMetric
}

func cvssBase(name string, values ...string) cvssMetric     { return cvssMetric{name, values, true} }
func cvssOptional(name string, values ...string) cvssMetric { return cvssMetric{name, values, false} }

// cvss3Metrics are CVSS 3.0's and 3.1's metrics (the two differ in their
// formulas, not in their vectors), in the specification's order.
var cvss3Metrics = []cvssMetric{
	// Base
	cvssBase("AV", "N", "A", "L", "P"), cvssBase("AC", "L", "H"), cvssBase("PR", "N", "L", "H"), cvssBase("UI", "N", "R"),
	cvssBase("S", "U", "C"), cvssBase("C", "H", "L", "N"), cvssBase("I", "H", "L", "N"), cvssBase("A", "H", "L", "N"),
	// Temporal
	cvssOptional("E", "X", "H", "F", "P", "U"), cvssOptional("RL", "X", "U", "W", "T", "O"), cvssOptional("RC", "X", "C", "R", "U"),
	// Environmental
	cvssOptional("CR", "X", "H", "M", "L"), cvssOptional("IR", "X", "H", "M", "L"), cvssOptional("AR", "X", "H", "M", "L"),
	cvssOptional("MAV", "X", "N", "A", "L", "P"), cvssOptional("MAC", "X", "L", "H"), cvssOptional("MPR", "X", "N", "L", "H"), cvssOptional("MUI", "X", "N", "R"),
	cvssOptional("MS", "X", "U", "C"), cvssOptional("MC", "X", "H", "L", "N"), cvssOptional("MI", "X", "H", "L", "N"), cvssOptional("MA", "X", "H", "L", "N"),
}

// cvss4Metrics are CVSS 4.0's metrics, in the order its vectors list them.
var cvss4Metrics = []cvssMetric{
	// Base
	cvssBase("AV", "N", "A", "L", "P"), cvssBase("AC", "L", "H"), cvssBase("AT", "N", "P"), cvssBase("PR", "N", "L", "H"), cvssBase("UI", "N", "P", "A"),
	cvssBase("VC", "H", "L", "N"), cvssBase("VI", "H", "L", "N"), cvssBase("VA", "H", "L", "N"),
	cvssBase("SC", "H", "L", "N"), cvssBase("SI", "H", "L", "N"), cvssBase("SA", "H", "L", "N"),
	// Threat
	cvssOptional("E", "X", "A", "P", "U"),
	// Environmental
	cvssOptional("CR", "X", "H", "M", "L"), cvssOptional("IR", "X", "H", "M", "L"), cvssOptional("AR", "X", "H", "M", "L"),
	cvssOptional("MAV", "X", "N", "A", "L", "P"), cvssOptional("MAC", "X", "L", "H"), cvssOptional("MAT", "X", "N", "P"), cvssOptional("MPR", "X", "N", "L", "H"),
	cvssOptional("MUI", "X", "N", "P", "A"), cvssOptional("MVC", "X", "H", "L", "N"), cvssOptional("MVI", "X", "H", "L", "N"), cvssOptional("MVA", "X", "H", "L", "N"),
	cvssOptional("MSC", "X", "H", "L", "N"), cvssOptional("MSI", "X", "S", "H", "L", "N"), cvssOptional("MSA", "X", "S", "H", "L", "N"),
	// Supplemental
	cvssOptional("S", "X", "N", "P"), cvssOptional("AU", "X", "N", "Y"), cvssOptional("R", "X", "A", "U", "I"), cvssOptional("V", "X", "D", "C"),
	cvssOptional("RE", "X", "L", "M", "H"), cvssOptional("U", "X", "Clear", "Green", "Amber", "Red"),
}

var cvssVersions = []cvssVersion{
	{prefix: "CVSS:3.0", metrics: cvss3Metrics},
	{prefix: "CVSS:3.1", metrics: cvss3Metrics},
	{prefix: "CVSS:4.0", ordered: true, metrics: cvss4Metrics},
}

// cvssProblem is what is wrong with a CVSS vector, with the fix when one
// can be said.
type cvssProblem struct {
	Msg, Fix string
}

// checkCVSS checks a CVSS 3.0, 3.1 or 4.0 vector string against its
// version's grammar and returns its problems, none for a valid vector.
func checkCVSS(vector string) []cvssProblem {
	prefix, rest, _ := strings.Cut(vector, "/")
	i := slices.IndexFunc(cvssVersions, func(g cvssVersion) bool { return g.prefix == prefix })
	if i < 0 {
		msg := fmt.Sprintf("%q does not start with CVSS:3.0/, CVSS:3.1/ or CVSS:4.0/", vector)
		if strings.HasPrefix(strings.ToUpper(vector), "CVSS:") {
			msg = fmt.Sprintf("%q is not a CVSS version embargo reads (3.0, 3.1 or 4.0)", prefix)
		}
		return []cvssProblem{{msg, `write the vector as FIRST's calculator gives it, e.g. cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"`}}
	}
	g := cvssVersions[i]
	var out []cvssProblem
	add := func(fix, format string, args ...any) {
		out = append(out, cvssProblem{fmt.Sprintf(format, args...), fix})
	}
	given := map[string]string{}
	var order []string // the known metrics, as given
	// A part that is not a known metric may be the one reported missing:
	// then that is not said twice.
	unread := false
	for _, part := range strings.Split(rest, "/") {
		name, value, ok := strings.Cut(part, ":")
		j := slices.IndexFunc(g.metrics, func(m cvssMetric) bool { return m.name == name })
		switch {
		case !ok || name == "" || value == "":
			add("each metric is NAME:VALUE, separated by single slashes", "%s: %q is not a metric", g.prefix, part)
			unread = true
			continue
		case j < 0 && slices.ContainsFunc(g.metrics, func(m cvssMetric) bool { return strings.EqualFold(m.name, name) }):
			add("write metrics and values in capitals, as the specification does", "%s: unknown metric %q", g.prefix, name)
			unread = true
			continue
		case j < 0:
			add(fmt.Sprintf("%s's metrics: %s", g.prefix, metricNames(g.metrics)), "%s: unknown metric %q", g.prefix, name)
			unread = true
			continue
		}
		m := g.metrics[j]
		if _, dup := given[name]; dup {
			add("give each metric once", "%s: metric %s is given twice", g.prefix, name)
			continue
		}
		given[name] = value
		order = append(order, name)
		if !slices.Contains(m.values, value) {
			add(fmt.Sprintf("%s takes one of %s", name, strings.Join(m.values, ", ")), "%s: %s:%s is not a value of %s", g.prefix, name, value, name)
		}
	}
	var missing []string
	for _, m := range g.metrics {
		if _, ok := given[m.name]; m.base && !ok {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 && !unread {
		add("every base metric is required: "+metricNames(baseMetrics(g.metrics)), "%s: the base metric(s) %s are missing", g.prefix, strings.Join(missing, ", "))
	}
	if g.ordered && len(out) == 0 {
		rank := func(name string) int {
			return slices.IndexFunc(g.metrics, func(m cvssMetric) bool { return m.name == name })
		}
		for k := 1; k < len(order); k++ {
			if rank(order[k]) < rank(order[k-1]) {
				sorted := slices.Clone(order)
				slices.SortFunc(sorted, func(a, b string) int { return rank(a) - rank(b) })
				parts := []string{g.prefix}
				for _, name := range sorted {
					parts = append(parts, name+":"+given[name])
				}
				add(fmt.Sprintf("the same vector in order: %q", strings.Join(parts, "/")),
					"%s lists its metrics in the specification's order, which OSV requires: %s comes before %s", g.prefix, order[k], order[k-1])
				break
			}
		}
	}
	return out
}

func metricNames(ms []cvssMetric) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.name
	}
	return strings.Join(names, ", ")
}

func baseMetrics(ms []cvssMetric) []cvssMetric {
	var out []cvssMetric
	for _, m := range ms {
		if m.base {
			out = append(out, m)
		}
	}
	return out
}
