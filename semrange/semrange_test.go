package semrange

import "testing"

func TestParseRange(t *testing.T) {
	for in, want := range map[string]Range{
		"< 1.5.0":           {Lowest, "v1.5.0"},
		">= 1.2.3, < 1.3.0": {"v1.2.3", "v1.3.0"},
		">=1.2.3,<1.3.0":    {"v1.2.3", "v1.3.0"},
		"= 1.2.3":           {"v1.2.3", "v1.2.4-0"},
		"=1.2":              {"v1.2.0", "v1.3.0-0"},
		"^1.2.3":            {"v1.2.3", "v2.0.0-0"},
		"^0.2.3":            {"v0.2.3", "v0.3.0-0"},
		"^0.0.3":            {"v0.0.3", "v0.0.4-0"},
		"^0":                {"v0.0.0", "v1.0.0-0"},
		"1.4":               {"v1.4.0", "v2.0.0-0"},
		"~1.2.3":            {"v1.2.3", "v1.3.0-0"},
		"~1":                {"v1.0.0", "v2.0.0-0"},
		"> 1.2.3":           {"v1.2.4-0", ""},
		"> 1.2":             {"v1.3.0-0", ""},
		"<= 1.2.3":          {Lowest, "v1.2.4-0"},
		"<= 1.2.3-rc.1":     {Lowest, "v1.2.3-rc.1.0"},
		"*":                 {Lowest, ""},
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ">= banana", "< 1.2.3.4", ">= 1.0.0,", "~> 1.0", ">= 2.0.0, < 1.0.0", "= 01.2.3"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) should fail", bad)
		}
	}
}

func TestSuccessor(t *testing.T) {
	for in, want := range map[string]string{"v1.2.3": "v1.2.4-0", "v1.2.3-9": "v1.2.3-9.0", "v1.2.3-alpha.1": "v1.2.3-alpha.1.0"} {
		got := Successor(in)
		if got != want {
			t.Errorf("Successor(%s) = %s, want %s", in, got, want)
		}
	}
}
