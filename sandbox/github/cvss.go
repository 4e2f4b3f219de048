package github

import (
	"math"
	"strings"
)

// cvss3Score is the CVSS 3.x base score of a vector, as GitHub shows it
// beside the vector; ok is false for a vector that is not CVSS 3.x with
// every base metric once.
func cvss3Score(vector string) (score float64, ok bool) {
	rest, found := strings.CutPrefix(vector, "CVSS:3.1/")
	if !found {
		if rest, found = strings.CutPrefix(vector, "CVSS:3.0/"); !found {
			return 0, false
		}
	}
	weights := map[string]map[string]float64{
		"AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
		"AC": {"L": 0.77, "H": 0.44},
		"PR": {"N": 0.85, "L": 0.62, "H": 0.27},
		"UI": {"N": 0.85, "R": 0.62},
		"S":  {"U": 0, "C": 1},
		"C":  {"H": 0.56, "L": 0.22, "N": 0},
		"I":  {"H": 0.56, "L": 0.22, "N": 0},
		"A":  {"H": 0.56, "L": 0.22, "N": 0},
	}
	m := map[string]string{}
	for _, part := range strings.Split(rest, "/") {
		k, v, _ := strings.Cut(part, ":")
		w, known := weights[k]
		if !known {
			continue // temporal and environmental metrics leave the base score
		}
		if _, valid := w[v]; !valid || m[k] != "" {
			return 0, false
		}
		m[k] = v
	}
	if len(m) != len(weights) {
		return 0, false
	}
	w := func(k string) float64 { return weights[k][m[k]] }
	changed := m["S"] == "C"
	pr := w("PR")
	if changed && m["PR"] == "L" {
		pr = 0.68
	} else if changed && m["PR"] == "H" {
		pr = 0.5
	}
	iss := 1 - (1-w("C"))*(1-w("I"))*(1-w("A"))
	impact := 6.42 * iss
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	}
	exploitability := 8.22 * w("AV") * w("AC") * pr * w("UI")
	if impact <= 0 {
		return 0, true
	}
	if changed {
		return roundUp(math.Min(1.08*(impact+exploitability), 10)), true
	}
	return roundUp(math.Min(impact+exploitability, 10)), true
}

// roundUp is CVSS 3.1's: the smallest number of one decimal not below x.
func roundUp(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return float64(i/10000+1) / 10
}

// severityOf is the severity GitHub gives a score.
func severityOf(score float64) string {
	switch {
	case score >= 9:
		return "critical"
	case score >= 7:
		return "high"
	case score >= 4:
		return "medium"
	}
	return "low"
}
