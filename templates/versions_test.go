package templates

import (
	"slices"
	"strings"
	"testing"
)

func modelWith(unaffected []string, fixes ...Fix) *Model {
	m := &Model{ID: "X-1", Package: "demo", Unaffected: unaffected, Fixes: fixes}
	sortFixes(m.Fixes)
	return m
}

func TestPatched(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fixes []Fix
		want  []string
	}{
		{"three lines across a major", []Fix{{"1.8", "1.8.3"}, {"2.0", "2.0.4"}, {"1.9", "1.9.8"}},
			[]string{">= 2.0.4", ">= 1.9.8, < 2.0.0", ">= 1.8.3, < 1.9.0"}},
		{"one line", []Fix{{"1.13", "1.13.1"}}, []string{">= 1.13.1"}},
		{"unmaintained series between lines", []Fix{{"1.13", "1.13.1"}, {"1.9", "1.9.8"}},
			[]string{">= 1.13.1", ">= 1.9.8, < 1.10.0"}},
		{"0.x lines", []Fix{{"0.3", "0.3.5"}, {"0.2", "0.2.9"}},
			[]string{">= 0.3.5", ">= 0.2.9, < 0.3.0"}},
		{"0.x below 1.x", []Fix{{"1.0", "1.0.2"}, {"0.9", "0.9.4"}},
			[]string{">= 1.0.2", ">= 0.9.4, < 1.0.0"}},
		{"prerelease fix", []Fix{{"2.0", "2.0.0-rc.2"}, {"1.9", "1.9.8"}},
			[]string{">= 2.0.0-rc.2", ">= 1.9.8, < 2.0.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := modelWith(nil, tc.fixes...).Patched(); !slices.Equal(got, tc.want) {
				t.Errorf("Patched() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAffected(t *testing.T) {
	m := modelWith([]string{"< 1.5.0"}, Fix{"2.0", "2.0.4"}, Fix{"1.9", "1.9.8"}, Fix{"1.8", "1.8.3"})
	want := []string{">= 1.5.0, < 1.8.3", ">= 1.9.0, < 1.9.8", ">= 2.0.0, < 2.0.4"}
	if got := m.Affected(); !slices.Equal(got, want) {
		t.Errorf("Affected() = %q, want %q", got, want)
	}
	m = modelWith(nil, Fix{"1.2", "1.2.3"})
	if got := m.Affected(); !slices.Equal(got, []string{"< 1.2.3"}) {
		t.Errorf("Affected() = %q", got)
	}
	m = modelWith([]string{"<= 0.4.2", "^0.5"}, Fix{"1.2", "1.2.3"})
	if got, want := m.Affected(), []string{">= 0.4.3-0, < 0.5.0", ">= 0.6.0-0, < 1.2.3"}; !slices.Equal(got, want) {
		t.Errorf("Affected() = %q, want %q", got, want)
	}
}

func TestClassify(t *testing.T) {
	m := modelWith([]string{"< 1.5.0"}, Fix{"2.0", "2.0.4"}, Fix{"1.9", "1.9.8"}, Fix{"1.8", "1.8.3"})
	// Shuffled, with a duplicate and a name that is not semver.
	versions := []string{"2.0.4", "1.9.0", "1.4.0", "1.6.2", "1.8.3", "2.0.0", "1.7.0", "1.8.2", "1.9.8", "2.1.0",
		"1.5.0", "1.9.7", "1.0.0", "1.4.0", "not-a-version", "2.0.3", "1.6.5"}
	got := m.Classify(versions)
	want := []Class{
		{"1.0.0", StatusUnaffected, ""},
		{"1.4.0", StatusUnaffected, ""},
		{"1.5.0", StatusNoFix, "1.8.3"},
		{"1.6.2", StatusNoFix, "1.8.3"},
		{"1.6.5", StatusNoFix, "1.8.3"},
		{"1.7.0", StatusNoFix, "1.8.3"},
		{"1.8.2", StatusAffected, "1.8.3"},
		{"1.8.3", StatusFixed, ""},
		{"1.9.0", StatusAffected, "1.9.8"},
		{"1.9.7", StatusAffected, "1.9.8"},
		{"1.9.8", StatusFixed, ""},
		{"2.0.0", StatusAffected, "2.0.4"},
		{"2.0.3", StatusAffected, "2.0.4"},
		{"2.0.4", StatusFixed, ""},
		{"2.1.0", StatusFixed, ""},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Classify:\n got %v\nwant %v", got, want)
	}
	if got := m.NoFixSeries(versions); !slices.Equal(got, []string{"1.5", "1.6", "1.7"}) {
		t.Errorf("NoFixSeries = %q", got)
	}
}

// TestClassifyGap: the lines are 1.13 and 1.9; 1.10 to 1.12 were released
// in between and are no longer maintained.
func TestClassifyGap(t *testing.T) {
	m := modelWith(nil, Fix{"1.13", "1.13.1"}, Fix{"1.9", "1.9.8"})
	versions := []string{"1.9.7", "1.9.8", "1.10.0", "1.10.2", "1.11.0", "1.12.1", "1.13.0", "1.13.1"}
	got := m.Classify(versions)
	want := []Class{
		{"1.9.7", StatusAffected, "1.9.8"},
		{"1.9.8", StatusFixed, ""},
		{"1.10.0", StatusNoFix, "1.13.1"},
		{"1.10.2", StatusNoFix, "1.13.1"},
		{"1.11.0", StatusNoFix, "1.13.1"},
		{"1.12.1", StatusNoFix, "1.13.1"},
		{"1.13.0", StatusAffected, "1.13.1"},
		{"1.13.1", StatusFixed, ""},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Classify:\n got %v\nwant %v", got, want)
	}
	if got := m.NoFixSeries(versions); !slices.Equal(got, []string{"1.10", "1.11", "1.12"}) {
		t.Errorf("NoFixSeries = %q", got)
	}
	if got := m.NoFixSeries(nil); got != nil {
		t.Errorf("NoFixSeries(nil) = %q", got)
	}
}

func findingsText(m *Model) string {
	var b strings.Builder
	for _, f := range m.Validate() {
		b.WriteString(f.Subject + ": " + f.Msg + "\n      fix: " + f.Fix + "\n")
	}
	return b.String()
}

func TestValidate(t *testing.T) {
	good := modelWith([]string{"< 1.5.0"}, Fix{"2.0", "2.0.4"}, Fix{"1.9", "1.9.8"})
	good.Categories = []string{"memory-corruption", "thread-safety"}
	if f := good.Validate(); len(f) != 0 {
		t.Fatalf("unexpected findings: %v", f)
	}

	for _, tc := range []struct {
		name string
		edit func(m *Model)
		want []string // substrings of the findings, in order
	}{
		{"unknown category", func(m *Model) { m.Categories = append(m.Categories, "use-after-free") },
			[]string{`advisory.categories: "use-after-free" is not a RustSec category`}},
		{"two lines of one series", func(m *Model) {
			m.Fixes = append(m.Fixes, Fix{"1.9-lts", "1.9.9"})
			sortFixes(m.Fixes)
		}, []string{"fix versions 1.9.9 and 1.9.8 are both of series 1.9"}},
		{"unaffected overlaps patched", func(m *Model) { m.Unaffected = []string{"< 1.9.9"} },
			[]string{`unaffected "< 1.9.9" overlaps patched ">= 1.9.8, < 2.0.0"`}},
		{"invalid semver", func(m *Model) { m.Fixes = append(m.Fixes, Fix{"1.7", "1.7"}) },
			[]string{`release 1.7: fix version "1.7" is not a semver version`}},
		{"unparsable range", func(m *Model) { m.Unaffected = []string{"before 1.5"} },
			[]string{"advisory.unaffected: cannot read range"}},
		{"fix outside its line", func(m *Model) { m.Fixes[1].Line = "1.8" },
			[]string{"release 1.8: fix version 1.9.8 is not of the 1.8 line"}},
		{"nothing affected", func(m *Model) { m.Unaffected = []string{"< 1.9.8", ">= 2.0.0, < 2.0.4"} },
			[]string{"nothing is affected"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := modelWith(slices.Clone(good.Unaffected), slices.Clone(good.Fixes)...)
			m.Categories = slices.Clone(good.Categories)
			tc.edit(m)
			got := findingsText(m)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("findings lack %q:\n%s", w, got)
				}
			}
			if got == "" {
				t.Error("no findings")
			}
		})
	}
}
