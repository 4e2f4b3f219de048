package templates

import (
	"bytes"
	"slices"
	"testing"
)

// The GitHub advisory lists each vulnerable range with the version of the
// line that fixes it, so Dependabot tells each user the upgrade within
// their own line; a range no line fixes has no patched version.
func TestGHSARangesPairEachVulnerableRangeWithItsFix(t *testing.T) {
	m := modelWith([]string{"< 1.5.0"}, Fix{"2.0", "2.0.4"}, Fix{"1.9", "1.9.8"}, Fix{"1.8", "1.8.3"})
	want := []GHSARange{{">= 1.5.0, < 1.8.3", "1.8.3"}, {">= 1.9.0, < 1.9.8", "1.9.8"}, {">= 2.0.0, < 2.0.4", "2.0.4"}}
	if got := m.GHSARanges(); !slices.Equal(got, want) {
		t.Errorf("GHSARanges() = %q, want %q", got, want)
	}
	m = modelWith([]string{">= 1.0.0, < 1.1.0"}, Fix{"1.2", "1.2.3"})
	want = []GHSARange{{"< 1.0.0", ""}, {">= 1.1.0, < 1.2.3", "1.2.3"}}
	if got := m.GHSARanges(); !slices.Equal(got, want) {
		t.Errorf("GHSARanges() with an unaffected range in the middle = %q, want %q", got, want)
	}
}

func TestTheGHSAJoinsTheAliasesOfEveryOutput(t *testing.T) {
	in := fixtureInput(t)
	in.GHSA = "GHSA-9q2r-7x4m-hh3c"
	m, err := NewModel(in)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(m.Aliases, "GHSA-9q2r-7x4m-hh3c") {
		t.Fatalf("aliases %q lack the GHSA of [ghsa]", m.Aliases)
	}
	before := len(m.Aliases)
	in.Aliases = append(in.Aliases, "GHSA-9q2r-7x4m-hh3c")
	if m, _ = NewModel(in); len(m.Aliases) != before {
		t.Errorf("aliases %q: the GHSA already listed is listed twice", m.Aliases)
	}
	out, err := Render(m, "middleman", Conventions{}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range out.Files() {
		if !bytes.Contains(f.Content, []byte("GHSA-9q2r-7x4m-hh3c")) {
			t.Errorf("%s does not name the GHSA", f.Path)
		}
	}
}
