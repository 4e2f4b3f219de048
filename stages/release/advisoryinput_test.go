package release_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/templates"
)

// The config's check refuses what the templates cannot render and accepts
// what they can: the same blog styles, and the same RustSec placeholder,
// which neither the check nor the templates treat as an assigned id.
func TestTheTemplatesKnowTheConfigsStylesAndPlaceholder(t *testing.T) {
	t.Parallel()
	if !slices.Equal(templates.BlogStyles, config.BlogStyles) {
		t.Errorf("templates render styles %q, the config accepts %q", templates.BlogStyles, config.BlogStyles)
	}
	if templates.RustSecPlaceholder != config.RustSecPlaceholderID {
		t.Errorf("templates' RustSec placeholder %q, the config's %q", templates.RustSecPlaceholder, config.RustSecPlaceholderID)
	}
}

// Every key of the config an output shows reaches the templates, each in
// its own field, with the fix version read from the line's tag.
func TestAdvisoryInputCarriesEveryKeyOfTheConfig(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 15, 0, 0, 0, time.FixedZone("", 3600))
	cfg := &config.Config{
		Embargo: config.EmbargoSection{ID: "DEMO-SA-2026-001", At: t0, Handler: "Jane Doe <jane@example.org>"},
		Releases: []config.Release{
			{Line: "1.12", Tag: "v1.12.4"},
			{Line: "1.13", Tag: "demo-1.13.1"},
		},
		Advisory: config.AdvisorySection{
			Title:         "Data race in demo::Pool",
			Package:       "demo",
			Date:          time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC),
			Severity:      "high",
			CVSS:          "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
			Aliases:       []string{"CVE-2026-1"},
			Categories:    []string{"thread-safety"},
			Keywords:      []string{"pool"},
			Unaffected:    []string{"< 1.0.0"},
			Credits:       []string{"Alex Reporter"},
			References:    []string{"https://example.org/fix"},
			Description:   "advisory.md",
			RustSecID:     "RUSTSEC-2026-0042",
			Functions:     []string{"demo::Pool::get"},
			Informational: "unsound",
			License:       "CC0-1.0",
		},
		Blog:        &config.BlogSection{Style: "hugo", Author: "The demo developers", URL: "https://demo.rs/{{.Slug}}/", Path: "content/{{.Slug}}.md"},
		GHSA:        &config.GHSASection{ID: "GHSA-9q2r-7x4m-hh3c"},
		Description: "A data race.\n",
	}
	want := templates.Input{
		ID:            "DEMO-SA-2026-001",
		Handler:       "Jane Doe <jane@example.org>",
		Published:     t0.UTC(),
		Title:         "Data race in demo::Pool",
		Package:       "demo",
		Date:          time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC),
		Severity:      "high",
		CVSS:          "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
		Aliases:       []string{"CVE-2026-1"},
		Categories:    []string{"thread-safety"},
		Keywords:      []string{"pool"},
		Credits:       []string{"Alex Reporter"},
		References:    []string{"https://example.org/fix"},
		Description:   "A data race.\n",
		Functions:     []string{"demo::Pool::get"},
		Informational: "unsound",
		License:       "CC0-1.0",
		RustSecID:     "RUSTSEC-2026-0042",
		GHSA:          "GHSA-9q2r-7x4m-hh3c",
		Unaffected:    []string{"< 1.0.0"},
		Fixes:         []templates.Fix{{Line: "1.12", Version: "1.12.4"}, {Line: "1.13", Version: "1.13.1"}},
		BlogAuthor:    "The demo developers",
		BlogURL:       "https://demo.rs/{{.Slug}}/",
		BlogPath:      "content/{{.Slug}}.md",
	}
	// A field the templates gain must be stated here, or this test would
	// pass with the conversion leaving it out.
	v := reflect.ValueOf(want)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("the test's input leaves %s out", v.Type().Field(i).Name)
		}
	}
	got := release.AdvisoryInput(cfg)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("advisoryInput:\n got %+v\nwant %+v", got, want)
	}

	// Without [blog] and [ghsa] the templates get none of their keys.
	cfg.Blog, cfg.GHSA = nil, nil
	got = release.AdvisoryInput(cfg)
	if got.BlogAuthor != "" || got.BlogURL != "" || got.BlogPath != "" || got.GHSA != "" {
		t.Errorf("without [blog] and [ghsa]: author %q, url %q, path %q, ghsa %q", got.BlogAuthor, got.BlogURL, got.BlogPath, got.GHSA)
	}
}

// The config the templates' golden files stand for renders to exactly those
// files through the stages' own path (AdvisoryModel and RenderAdvisory), in
// every blog style.
func TestTheConfigRendersTheTemplatesGoldenFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "templates", "testdata")
	cfg, err := config.Load(filepath.Join(dir, "embargo.toml"))
	if err != nil {
		t.Fatal(err)
	}
	// What crates.io lists for the package: the registry the golden files
	// are rendered with.
	registry := []string{
		"1.0.0", "1.0.1", "1.1.0", "1.2.0", "1.3.0", "1.4.0",
		"1.5.0", "1.6.0", "1.6.2", "1.6.5", "1.7.0",
		"1.8.0", "1.8.1", "1.8.2", "1.8.3",
		"1.9.0", "1.9.5", "1.9.7", "1.9.8",
		"2.0.0", "2.0.3", "2.0.4",
	}
	m, err := release.AdvisoryModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, style := range templates.BlogStyles {
		cfg.Blog.Style = style
		out, err := release.RenderAdvisory(cfg, m, templates.Conventions{}, registry)
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{"post-" + style + ".md": out.Post.Content}
		if style == "middleman" {
			files["rustsec.md"], files["osv.json"], files["mail.txt"] = out.RustSec.Content, out.OSV.Content, out.Mail.Content
		}
		for name, got := range files {
			want, err := os.ReadFile(filepath.Join(dir, "golden", name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s rendered from the config differs from templates/testdata/golden/%s:\n%s", style, name, got)
			}
		}
	}
}

// The advisory's problems read as the config's findings, word for word:
// what render prints and the preflight reports.
func TestAdvisoryFindingsKeepEveryProblemsText(t *testing.T) {
	t.Parallel()
	m := &templates.Model{Categories: []string{"rce"}, Fixes: []templates.Fix{{Line: "1.7", Version: "1.7"}}}
	problems := m.Validate()
	findings := release.AdvisoryFindings(m)
	if len(problems) != 2 || len(findings) != len(problems) {
		t.Fatalf("problems %v, findings %v", problems, findings)
	}
	for i, p := range problems {
		if p.Fix == "" {
			t.Fatalf("problem %v names no fix: the test would not see a fix dropped", p)
		}
		want := p.Subject + ": " + p.Msg + "\n      fix: " + p.Fix
		if got := fmt.Sprint(findings[i]); got != want {
			t.Errorf("finding %d reads %q, want %q", i, got, want)
		}
	}
}
