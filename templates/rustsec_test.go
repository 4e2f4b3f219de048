package templates

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// lintRustSec applies advisory-db's linter rules to a rendered RustSec
// file: only the keys it knows, an https url, the id's year the date's,
// known categories and informational kinds, an accepted licence and
// function paths that start with the crate's name.
func lintRustSec(t *testing.T, content []byte) (map[string]any, []string) {
	t.Helper()
	s := string(content)
	block, rest, ok := strings.Cut(strings.TrimPrefix(s, "```toml\n"), "\n```\n")
	if !ok || !strings.HasPrefix(s, "```toml\n") {
		t.Fatalf("no closed ```toml block first:\n%s", s)
	}
	if !strings.HasPrefix(strings.TrimLeft(rest, "\n"), "# ") {
		t.Errorf("no title heading after the block:\n%s", rest)
	}
	var doc map[string]any
	if _, err := toml.Decode(block, &doc); err != nil {
		t.Fatalf("not TOML: %v\n%s", err, block)
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	adv, _ := doc["advisory"].(map[string]any)
	known := []string{"id", "package", "date", "url", "categories", "keywords", "aliases", "cvss", "informational", "license", "references", "related", "withdrawn"}
	for k, v := range adv {
		if !slices.Contains(known, k) {
			bad("invalid key %q in [advisory]", k)
		}
		switch k {
		case "url":
			if !strings.HasPrefix(v.(string), "https://") {
				bad("url %v must start with https://", v)
			}
		case "categories":
			for _, c := range v.([]any) {
				if !slices.Contains(Categories, c.(string)) {
					bad("unknown category %v", c)
				}
			}
		case "informational":
			if !slices.Contains([]string{"notice", "unmaintained", "unsound"}, v.(string)) {
				bad("unknown informational %v", v)
			}
		case "license":
			if !slices.Contains([]string{"CC0-1.0", "CC-BY-4.0"}, v.(string)) {
				bad("unknown license %v", v)
			}
		}
	}
	id, _ := adv["id"].(string)
	date, _ := adv["date"].(string)
	if id != RustSecPlaceholder && (len(id) < 12 || len(date) < 4 || id[8:12] != date[:4]) {
		bad("year in advisory ID %s does not match date %s", id, date)
	}
	for k := range doc {
		if !slices.Contains([]string{"advisory", "versions", "affected"}, k) {
			bad("invalid top-level key %q", k)
		}
	}
	if aff, ok := doc["affected"].(map[string]any); ok {
		crate := strings.ReplaceAll(adv["package"].(string), "-", "_")
		fns, _ := aff["functions"].(map[string]any)
		for path := range fns {
			if strings.Split(path, "::")[0] != crate {
				bad("function path %s must start with crate name", path)
			}
		}
	}
	return doc, errs
}

func TestRustSecFilePassesAdvisoryDBLinter(t *testing.T) {
	m := fixtureModel(t)
	m.RustSecID = "RUSTSEC-2026-0042"
	m.URL = "http://blog.example.org/out-of-bounds/"
	m.References = []string{"https://github.com/async-rs/async-std/pull/1234", "http://mail.example.org/thread/1"}
	m.Functions = []string{"async_std::task::spawn", "async_std::task::JoinHandle::cancel"}
	m.Informational, m.License = "unsound", "CC-BY-4.0"
	o, err := Render(m, "hugo", Conventions{}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "crates/async-std/RUSTSEC-2026-0042.md"; o.RustSec.Path != want {
		t.Errorf("RustSec file at %s, want %s (advisory-db's layout)", o.RustSec.Path, want)
	}
	doc, errs := lintRustSec(t, o.RustSec.Content)
	for _, e := range errs {
		t.Error(e)
	}
	adv := doc["advisory"].(map[string]any)
	if _, ok := adv["url"]; ok {
		t.Errorf("an http url is in the RustSec file: %v", adv["url"])
	}
	if refs := adv["references"].([]any); len(refs) != 1 || refs[0] != m.References[0] {
		t.Errorf("references %v, want only the https one", refs)
	}
	if adv["informational"] != "unsound" || adv["license"] != "CC-BY-4.0" {
		t.Errorf("informational %v, license %v", adv["informational"], adv["license"])
	}
	// Each function carries the affected ranges, the same as [versions]
	// implies: what is neither patched nor unaffected.
	fns := doc["affected"].(map[string]any)["functions"].(map[string]any)
	if len(fns) != 2 {
		t.Fatalf("affected functions %v", fns)
	}
	for _, f := range m.Functions {
		var got []string
		for _, r := range fns[f].([]any) {
			got = append(got, r.(string))
		}
		if !slices.Equal(got, m.Affected()) || len(got) == 0 {
			t.Errorf("%s = %q, want the affected ranges %q", f, got, m.Affected())
		}
	}

	warnings := m.RustSecWarnings()
	if len(warnings) != 2 || !strings.Contains(warnings[0], m.URL) || !strings.Contains(warnings[1], m.References[1]) {
		t.Errorf("warnings %q, want the left-out url and reference named", warnings)
	}
	// The post and OSV keep every link: only the RustSec file drops them.
	if !strings.Contains(string(o.OSV.Content), m.References[1]) {
		t.Error("OSV lost the http reference")
	}
}

// advisory-db reads a CVSS 3.x vector's base metrics only: the RustSec
// file carries those, in order, and says so, while the post and OSV keep
// the whole vector; a CVSS 4.0 vector, which advisory-db reads whole, is
// carried as it is.
func TestRustSecFileCarriesTheCVSS3BaseMetricsAdvisoryDBReads(t *testing.T) {
	m := fixtureModel(t)
	m.Severity, m.CVSS = "", "CVSS:3.1/S:U/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H/E:P/RL:O/RC:C/MAV:L"
	o, err := Render(m, "hugo", Conventions{}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := lintRustSec(t, o.RustSec.Content)
	if got, want := doc["advisory"].(map[string]any)["cvss"], "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"; got != want {
		t.Errorf("RustSec cvss %v, want the base metrics %s", got, want)
	}
	if w := m.RustSecWarnings(); len(w) != 1 || !strings.Contains(w[0], m.CVSS) {
		t.Errorf("warnings %q, want the full vector named", w)
	}
	if !strings.Contains(string(o.OSV.Content), m.CVSS) {
		t.Error("OSV lost the temporal and environmental metrics")
	}
	for _, v := range []string{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:P", "CVSS:3.0/S:U/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H"} {
		m.CVSS = v
		if got := m.RustSecCVSS(); got != v || len(m.RustSecWarnings()) != 0 {
			t.Errorf("RustSec cvss %q, warnings %q; want %s as it is, unwarned", got, m.RustSecWarnings(), v)
		}
	}
}

func TestRustSecFileWithoutTheOptionalKeys(t *testing.T) {
	m := fixtureModel(t)
	o, err := Render(m, "middleman", Conventions{}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	doc, errs := lintRustSec(t, o.RustSec.Content)
	for _, e := range errs {
		t.Error(e)
	}
	if _, ok := doc["affected"]; ok {
		t.Error("[affected] without advisory.functions")
	}
	for _, k := range []string{"informational", "license"} {
		if _, ok := doc["advisory"].(map[string]any)[k]; ok {
			t.Errorf("%s written though not set", k)
		}
	}
	if w := m.RustSecWarnings(); len(w) != 0 {
		t.Errorf("warnings for an https-only advisory: %q", w)
	}
}

func TestValidateRefusesCategoriesRustSecDoesNotKnow(t *testing.T) {
	m := fixtureModel(t)
	m.Categories = []string{"memory-corruption", "malicious", "rce"}
	var got []string
	for _, f := range m.Validate() {
		if f.Subject == "advisory.categories" {
			got = append(got, f.Msg)
		}
	}
	if len(got) != 2 || !strings.Contains(got[0], `"malicious"`) || !strings.Contains(got[1], `"rce"`) {
		t.Errorf("category findings %q", got)
	}
}

// A post served on this machine's loopback (a sandbox's, as the built-in
// example's) is left out of the RustSec file without a warning: no
// advisory-db entry links there, whatever the scheme. Any other http://
// post is still named.
func TestRustSecLeavesOutALoopbackPostWithoutAWarning(t *testing.T) {
	for u, warned := range map[string]bool{
		"http://127.0.0.1:38011/blog/slug/": false,
		"http://localhost:4567/blog/slug/":  false,
		"http://[::1]:4567/blog/slug/":      false,
		"http://blog.example.org/slug/":     true,
		"http://127.0.0.1.example.org/":     true,
	} {
		m := fixtureModel(t)
		m.URL = u
		if got := len(m.RustSecWarnings()) == 1; got != warned {
			t.Errorf("post at %s: warned %v, want %v: %q", u, got, warned, m.RustSecWarnings())
		}
		if l := m.RustSecURLs(); l.URL != "" {
			t.Errorf("post at %s: the RustSec file carries it", u)
		}
	}
}
