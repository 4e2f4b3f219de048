package templates

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// registry is what crates.io would list for the fixture's package at T0:
// never-affected versions before 1.5.0, unmaintained 1.5 to 1.7, and the
// three maintained lines with their fixes.
var registry = []string{
	"1.0.0", "1.0.1", "1.1.0", "1.2.0", "1.3.0", "1.4.0",
	"1.5.0", "1.6.0", "1.6.2", "1.6.5", "1.7.0",
	"1.8.0", "1.8.1", "1.8.2", "1.8.3",
	"1.9.0", "1.9.5", "1.9.7", "1.9.8",
	"2.0.0", "2.0.3", "2.0.4",
}

// fixtureInput is the advisory every golden file is rendered from: three
// maintained lines, versions before 1.5.0 never affected. It is what
// testdata/embargo.toml states, so that a test of stages can check the
// config converts to the same outputs.
func fixtureInput(t *testing.T) Input {
	t.Helper()
	desc, err := os.ReadFile(filepath.Join("testdata", "advisory.md"))
	if err != nil {
		t.Fatal(err)
	}
	return Input{
		ID:         "ASYNC-STD-SA-2026-001",
		Handler:    "Jane Doe <jane@example.org>",
		Published:  time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC),
		Title:      "Use-after-free in async_std::task",
		Package:    "async-std",
		Date:       time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		CVSS:       "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
		Aliases:    []string{"CVE-2026-12345", "GHSA-4x7m-9pqr-c2vw"},
		Categories: []string{"memory-corruption"},
		Keywords:   []string{"task", "use-after-free", "join handle"},
		Unaffected: []string{"< 1.5.0"},
		Credits:    []string{"Alex Reporter", "Sam Analyst"},
		References: []string{
			"https://github.com/async-rs/async-std/security/advisories/GHSA-4x7m-9pqr-c2vw",
			"https://github.com/async-rs/async-std/commit/6f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6",
		},
		Description: string(desc),
		Fixes:       []Fix{{"1.8", "1.8.3"}, {"2.0", "2.0.4"}, {"1.9", "1.9.8"}},
		BlogPath:    "source/blog/{{.Date}}-{{.Slug}}.html.md",
		BlogURL:     "https://async.rs/blog/{{.Slug}}/",
	}
}

func fixtureModel(t *testing.T) *Model {
	t.Helper()
	m, err := NewModel(fixtureInput(t))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// golden compares got with testdata/golden/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (regenerate with: go test ./templates/ -update)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Fatalf("%s: line %d differs\n got: %q\nwant: %q\n(if the change is intended: go test ./templates/ -update)", name, i+1, gl, wl)
		}
	}
}

func TestNewModel(t *testing.T) {
	m := fixtureModel(t)
	if m.ID != "ASYNC-STD-SA-2026-001" || m.Package != "async-std" {
		t.Errorf("id/package: %q %q", m.ID, m.Package)
	}
	if want := "use-after-free-in-async-std-task"; m.Slug != want {
		t.Errorf("slug %q, want %q", m.Slug, want)
	}
	if want := "https://async.rs/blog/use-after-free-in-async-std-task/"; m.URL != want {
		t.Errorf("url %q, want %q", m.URL, want)
	}
	if want := "source/blog/2026-12-01-use-after-free-in-async-std-task.html.md"; m.PostPath != want {
		t.Errorf("post path %q, want %q", m.PostPath, want)
	}
	if want := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC); !m.Published.Equal(want) {
		t.Errorf("published %v, want %v", m.Published, want)
	}
	if m.RustSecID != RustSecPlaceholder {
		t.Errorf("rustsec id %q", m.RustSecID)
	}
	want := []Fix{{"2.0", "2.0.4"}, {"1.9", "1.9.8"}, {"1.8", "1.8.3"}}
	if !slices.Equal(m.Fixes, want) {
		t.Errorf("fixes %v, want %v (newest first)", m.Fixes, want)
	}
	if m.Author() != "Jane Doe" || m.AuthorEmail() != "jane@example.org" {
		t.Errorf("author %q <%s>", m.Author(), m.AuthorEmail())
	}
	if len(m.Validate()) != 0 {
		t.Errorf("the fixture should validate: %v", m.Validate())
	}
}

func TestNewModelDefaults(t *testing.T) {
	in := fixtureInput(t)
	in.Date = time.Time{}
	in.Published = time.Date(2026, 12, 1, 23, 30, 0, 0, time.FixedZone("", -5*3600)) // 2026-12-02 04:30 UTC
	in.RustSecID = "RUSTSEC-2026-0042"
	in.BlogAuthor, in.BlogURL, in.BlogPath = "", "", ""
	m, err := NewModel(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Date.Format(time.DateOnly); got != "2026-12-02" {
		t.Errorf("date %s, want T0's UTC date 2026-12-02", got)
	}
	if m.RustSecID != "RUSTSEC-2026-0042" || m.RustSecURL() != "https://rustsec.org/advisories/RUSTSEC-2026-0042.html" {
		t.Errorf("rustsec %q %q", m.RustSecID, m.RustSecURL())
	}
	if m.URL != "" || m.PostPath != "2026-12-02-use-after-free-in-async-std-task.md" {
		t.Errorf("without a blog: url %q, path %q", m.URL, m.PostPath)
	}
}

func TestNewModelBadPathTemplate(t *testing.T) {
	in := fixtureInput(t)
	in.BlogURL = "https://async.rs/{{.Year}}/{{.Slug}}/"
	if _, err := NewModel(in); err == nil || !strings.Contains(err.Error(), "blog.url") {
		t.Fatalf("want an error naming blog.url, got %v", err)
	}
}

func TestSlugify(t *testing.T) {
	for in, want := range map[string]string{
		"Use-after-free in async_std::task": "use-after-free-in-async-std-task",
		"  Data race: Mutex<T> (again!) ":   "data-race-mutex-t-again",
		"Déjà vu in 2.0":                    "d-j-vu-in-2-0",
	} {
		if got := slugify(in); got != want {
			t.Errorf("slugify(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRenderGolden(t *testing.T) {
	m := fixtureModel(t)
	for _, style := range BlogStyles {
		t.Run(style, func(t *testing.T) {
			o, err := Render(m, style, Conventions{}, "", registry)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "post-"+style+".md", o.Post.Content)
			if o.Post.Path != m.PostPath {
				t.Errorf("post path %q", o.Post.Path)
			}
			if style != "middleman" {
				return
			}
			golden(t, "rustsec.md", o.RustSec.Content)
			golden(t, "osv.json", o.OSV.Content)
			golden(t, "mail.txt", o.Mail.Content)
			if want := "crates/async-std/RUSTSEC-0000-0000.md"; o.RustSec.Path != want {
				t.Errorf("rustsec path %q, want %q", o.RustSec.Path, want)
			}
			if o.OSV.Path != "ASYNC-STD-SA-2026-001.osv.json" || o.Mail.Path != "ASYNC-STD-SA-2026-001.txt" {
				t.Errorf("paths %q %q", o.OSV.Path, o.Mail.Path)
			}
		})
	}
}

func TestRenderUnknownStyle(t *testing.T) {
	if _, err := Render(fixtureModel(t), "wordpress", Conventions{}, "", nil); err == nil {
		t.Fatal("want an error for an unknown style")
	}
}

// frontMatter splits a post into its front matter lines and body.
func frontMatter(t *testing.T, post []byte, fence string) (map[string]string, string) {
	t.Helper()
	s := string(post)
	if !strings.HasPrefix(s, fence+"\n") {
		t.Fatalf("post does not start with %s:\n%s", fence, s)
	}
	head, body, ok := strings.Cut(s[len(fence)+1:], "\n"+fence+"\n")
	if !ok {
		t.Fatalf("front matter not closed by %s", fence)
	}
	kv := map[string]string{}
	for _, l := range strings.Split(head, "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok {
			kv[k] = v
		}
	}
	return kv, body
}

func unquote(t *testing.T, s string) string {
	t.Helper()
	var out string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("%s is not a quoted string: %v", s, err)
	}
	return out
}

func TestPostFrontMatter(t *testing.T) {
	m := fixtureModel(t)
	m.Title = `Use-after-free in "task": a #1 problem` // needs quoting in YAML and TOML
	render := func(style string) []byte {
		o, err := Render(m, style, Conventions{}, "", registry)
		if err != nil {
			t.Fatal(err)
		}
		return o.Post.Content
	}

	fm, body := frontMatter(t, render("middleman"), "---")
	if unquote(t, fm["title"]) != m.Title || fm["tags"] != "[security]" || unquote(t, fm["author"]) != "Jane Doe" {
		t.Errorf("middleman front matter: %v", fm)
	}
	if name := filepath.Base(m.PostPath); !strings.HasPrefix(name, fm["date"]+"-") {
		t.Errorf("middleman date %q is not the date of the file name %q", fm["date"], name)
	}
	for _, want := range []string{"ASYNC-STD-SA-2026-001", "CVE-2026-12345", "`>= 1.9.8, < 2.0.0`", "Dropping a `JoinHandle`",
		"no fix for the 1.5, 1.6 and 1.7 series", "Upgrade to 1.8.3 or later", "Alex Reporter", "to be assigned"} {
		if !strings.Contains(body, want) {
			t.Errorf("post body lacks %q", want)
		}
	}

	fm, _ = frontMatter(t, render("hugo"), "---")
	if _, err := time.Parse(time.RFC3339, fm["date"]); err != nil || fm["date"] != "2026-12-01T14:00:00Z" {
		t.Errorf("hugo date %q: %v", fm["date"], err)
	}
	if unquote(t, fm["summary"]) == "" || unquote(t, fm["title"]) != m.Title {
		t.Errorf("hugo front matter: %v", fm)
	}

	fm, _ = frontMatter(t, render("jekyll"), "---")
	if fm["layout"] != "post" || fm["date"] != "2026-12-01 14:00:00 +0000" || unquote(t, fm["title"]) != m.Title {
		t.Errorf("jekyll front matter: %v", fm)
	}

	post := string(render("zola"))
	head, _, ok := strings.Cut(strings.TrimPrefix(post, "+++\n"), "\n+++\n")
	if !ok || !strings.HasPrefix(post, "+++\n") {
		t.Fatalf("zola front matter not fenced by +++:\n%s", post)
	}
	var z struct {
		Title       string
		Date        time.Time
		Description string
		Taxonomies  struct{ Tags []string }
		Extra       struct{ Author string }
	}
	md, err := toml.Decode(head, &z)
	if err != nil {
		t.Fatalf("zola front matter is not TOML: %v\n%s", err, head)
	}
	if len(md.Undecoded()) != 0 {
		t.Errorf("zola front matter has unexpected keys %v", md.Undecoded())
	}
	if z.Title != m.Title || !z.Date.Equal(m.Published) || !slices.Equal(z.Taxonomies.Tags, []string{"security"}) || z.Extra.Author != "Jane Doe" {
		t.Errorf("zola front matter: %+v", z)
	}
}

func TestRustSecIsTOML(t *testing.T) {
	m := fixtureModel(t)
	o, err := Render(m, "middleman", Conventions{}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := string(o.RustSec.Content)
	if !strings.HasPrefix(s, "```toml\n") {
		t.Fatalf("no ```toml block first:\n%s", s)
	}
	block, rest, ok := strings.Cut(strings.TrimPrefix(s, "```toml\n"), "\n```\n")
	if !ok {
		t.Fatal("the toml block is not closed")
	}
	var adv struct {
		Advisory struct {
			ID         string   `toml:"id"`
			Package    string   `toml:"package"`
			Date       string   `toml:"date"`
			URL        string   `toml:"url"`
			Categories []string `toml:"categories"`
			Keywords   []string `toml:"keywords"`
			Aliases    []string `toml:"aliases"`
			CVSS       string   `toml:"cvss"`
			References []string `toml:"references"`
		} `toml:"advisory"`
		Versions struct {
			Patched    []string `toml:"patched"`
			Unaffected []string `toml:"unaffected"`
		} `toml:"versions"`
	}
	md, err := toml.Decode(block, &adv)
	if err != nil {
		t.Fatalf("not TOML: %v\n%s", err, block)
	}
	if u := md.Undecoded(); len(u) != 0 {
		t.Errorf("unexpected keys %v", u)
	}
	a := adv.Advisory
	if a.ID != RustSecPlaceholder || a.Package != "async-std" || a.Date != "2026-12-01" || a.URL != m.URL {
		t.Errorf("advisory: %+v", a)
	}
	if !slices.Equal(a.Categories, []string{"memory-corruption"}) || !slices.Equal(a.Aliases, m.Aliases) ||
		!slices.Equal(a.Keywords, m.Keywords) || a.CVSS != m.CVSS || !slices.Equal(a.References, m.References) {
		t.Errorf("advisory: %+v", a)
	}
	if want := []string{">= 2.0.4", ">= 1.9.8, < 2.0.0", ">= 1.8.3, < 1.9.0"}; !slices.Equal(adv.Versions.Patched, want) {
		t.Errorf("patched %q, want %q", adv.Versions.Patched, want)
	}
	if !slices.Equal(adv.Versions.Unaffected, []string{"< 1.5.0"}) {
		t.Errorf("unaffected %q", adv.Versions.Unaffected)
	}
	if !strings.HasPrefix(strings.TrimLeft(rest, "\n"), "# Use-after-free in async_std::task\n") {
		t.Errorf("the title heading does not follow the block:\n%s", rest)
	}
	if md.IsDefined("advisory", "informational") {
		t.Error("informational must be omitted")
	}

	// Without CVSS, aliases or a URL, those keys are left out, and the
	// output still parses.
	m.CVSS, m.Severity, m.Aliases, m.URL = "", "high", nil, ""
	o, err = Render(m, "middleman", Conventions{}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	block, _, _ = strings.Cut(strings.TrimPrefix(string(o.RustSec.Content), "```toml\n"), "\n```\n")
	md, err = toml.Decode(block, &adv)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cvss", "aliases", "url"} {
		if md.IsDefined("advisory", k) {
			t.Errorf("%s should be left out", k)
		}
	}
}

func compileOSVSchema(t *testing.T, extraPrefix string) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "osv", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if extraPrefix != "" {
		// The schema lists the id prefixes registered with OSV; a project's
		// own prefix passes once registered, which this stands in for.
		p := doc.(map[string]any)["$defs"].(map[string]any)["prefix"].(map[string]any)
		p["pattern"] = strings.Replace(p["pattern"].(string), "^(", "^("+extraPrefix+"|", 1)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// leafErrors are the instance locations of the innermost validation errors.
func leafErrors(err error) []string {
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []string{err.Error()}
	}
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, "/"+strings.Join(e.InstanceLocation, "/"))
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
}

func TestOSVSchema(t *testing.T) {
	m := fixtureModel(t)
	withPrefix := compileOSVSchema(t, "ASYNC-STD-SA")

	validate := func(t *testing.T, s *jsonschema.Schema, m *Model) error {
		t.Helper()
		b, err := OSV(m)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		return s.Validate(inst)
	}

	if err := validate(t, withPrefix, m); err != nil {
		t.Errorf("the fixture's OSV record does not validate: %v", err)
	}
	// As published, the 1.7 schema rejects only the id, whose prefix is the
	// project's own and not a registered database's.
	if err := validate(t, compileOSVSchema(t, ""), m); err == nil {
		t.Error("an unregistered id prefix should fail the stock schema")
	} else if locs := leafErrors(err); !slices.Equal(slices.Compact(locs), []string{"/id"}) {
		t.Errorf("the stock schema should reject only /id, got %v: %v", locs, err)
	}

	// A severity instead of CVSS, a CVSS 4 vector, an assigned RustSec id
	// and no blog all still validate.
	v := *m
	v.CVSS, v.Severity, v.URL, v.RustSecID = "", "critical", "", "RUSTSEC-2026-0042"
	if err := validate(t, withPrefix, &v); err != nil {
		t.Errorf("variant: %v", err)
	}
	v.Severity, v.CVSS = "", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
	if err := validate(t, withPrefix, &v); err != nil {
		t.Errorf("CVSS 4 variant: %v", err)
	}
}

func TestOSVFields(t *testing.T) {
	m := fixtureModel(t)
	b, err := OSV(m)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		SchemaVersion string `json:"schema_version"`
		ID            string
		Published     string
		Modified      string
		Summary       string
		Affected      []struct {
			Package map[string]string
			Ranges  []struct {
				Type   string
				Events []map[string]string
			}
		}
		Severity         []map[string]string
		References       []map[string]string
		Credits          []map[string]string
		DatabaseSpecific map[string]any `json:"database_specific"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.SchemaVersion != "1.7.0" || rec.ID != m.ID || rec.Published != "2026-12-01T14:00:00Z" || rec.Summary != m.Title {
		t.Errorf("record: %+v", rec)
	}
	pkg := rec.Affected[0].Package
	if pkg["ecosystem"] != "crates.io" || pkg["name"] != "async-std" || pkg["purl"] != "pkg:cargo/async-std" {
		t.Errorf("package %v", pkg)
	}
	var events []string
	for _, e := range rec.Affected[0].Ranges[0].Events {
		for k, v := range e {
			events = append(events, k+" "+v)
		}
	}
	want := []string{"introduced 1.5.0", "fixed 1.8.3", "introduced 1.9.0", "fixed 1.9.8", "introduced 2.0.0", "fixed 2.0.4"}
	if !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
	if rec.Affected[0].Ranges[0].Type != "SEMVER" {
		t.Errorf("range type %q", rec.Affected[0].Ranges[0].Type)
	}
	if len(rec.Severity) != 1 || rec.Severity[0]["type"] != "CVSS_V3" || rec.Severity[0]["score"] != m.CVSS {
		t.Errorf("severity %v", rec.Severity)
	}
	if rec.DatabaseSpecific != nil {
		t.Errorf("database_specific without a severity: %v", rec.DatabaseSpecific)
	}
	types := map[string]string{}
	for _, r := range rec.References {
		types[r["url"]] = r["type"]
	}
	if types[m.URL] != "ADVISORY" || types["https://crates.io/crates/async-std"] != "PACKAGE" ||
		types[m.References[0]] != "ADVISORY" || types[m.References[1]] != "FIX" {
		t.Errorf("references %v", rec.References)
	}
	if len(rec.Credits) != 2 || rec.Credits[0]["name"] != "Alex Reporter" {
		t.Errorf("credits %v", rec.Credits)
	}

	// Without unaffected ranges, vulnerability starts at the first version.
	m.Unaffected, m.CVSS, m.Severity = nil, "", "high"
	b, _ = OSV(m)
	if !bytes.Contains(b, []byte(`"introduced": "0.0.0-0"`)) || !bytes.Contains(b, []byte(`"severity": "high"`)) || bytes.Contains(b, []byte("CVSS_V3")) {
		t.Errorf("record without unaffected ranges:\n%s", b)
	}
}

func TestMailWidth(t *testing.T) {
	m := fixtureModel(t)
	m.Title = "Use-after-free in async_std::task::JoinHandle when dropped from another thread"
	m.References = append(m.References, "https://example.org/a/very/long/reference/that/cannot/be/broken/anywhere/because/it/is/one/url")
	o, err := Render(m, "middleman", Conventions{}, "", registry)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(o.Mail.Content), "\n"), "\n")
	if want := "Subject: [SECURITY] ASYNC-STD-SA-2026-001: "; !strings.HasPrefix(lines[0], want) {
		t.Errorf("first line %q does not start with %q", lines[0], want)
	}
	// The folded subject unfolds to the full one.
	subject := lines[0]
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, " ") {
			break
		}
		subject += l
	}
	if want := "Subject: [SECURITY] " + m.ID + ": " + m.Title; subject != want {
		t.Errorf("unfolded subject %q, want %q", subject, want)
	}
	for i, l := range lines {
		if utf8.RuneCountInString(l) <= mailWidth {
			continue
		}
		if f := strings.Fields(l); len(f) == 1 && strings.Contains(f[0], "://") {
			continue // an unbreakable URL
		}
		t.Errorf("line %d is %d columns: %q", i+1, utf8.RuneCountInString(l), l)
	}
	for _, want := range []string{"no fix for the 1.5, 1.6 and 1.7", "1.9 line: upgrade to 1.9.8", "Jane Doe <jane@example.org>"} {
		if !strings.Contains(strings.Join(strings.Fields(string(o.Mail.Content)), " "), want) {
			t.Errorf("mail lacks %q", want)
		}
	}
}

func TestWrapMail(t *testing.T) {
	in := "Subject: x\n\n" +
		"- a list item that is long enough to need wrapping at seventy-two columns, surely\n" +
		"> a quoted line that is long enough to need wrapping at seventy-two columns, yes\n" +
		"see https://example.org/" + strings.Repeat("x", 80) + " for more\n" +
		strings.Repeat("y", 100) + "\n"
	got := string(wrapMail([]byte(in), 72))
	want := "Subject: x\n\n" +
		"- a list item that is long enough to need wrapping at seventy-two\n" +
		"  columns, surely\n" +
		"> a quoted line that is long enough to need wrapping at seventy-two\n" +
		"> columns, yes\n" +
		"see\n" +
		"https://example.org/" + strings.Repeat("x", 80) + "\n" +
		"for more\n" +
		strings.Repeat("y", 72) + "\n" + strings.Repeat("y", 28) + "\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestOverride(t *testing.T) {
	m := fixtureModel(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, TemplateAdvisory), []byte("Our own body for {{.ID}}.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := Render(m, "hugo", Conventions{}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	post := string(o.Post.Content)
	if !strings.Contains(post, "Our own body for ASYNC-STD-SA-2026-001.") || strings.Contains(post, "## Description") {
		t.Errorf("the override did not replace the embedded body:\n%s", post)
	}
	if !strings.HasPrefix(post, "---\ntitle:") {
		t.Errorf("the embedded front matter should stay:\n%s", post)
	}
	plainOut, err := Render(m, "hugo", Conventions{}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(o.RustSec.Content, plainOut.RustSec.Content) {
		t.Error("templates without an override should be the embedded ones")
	}

	if err := os.WriteFile(filepath.Join(dir, TemplateMail), []byte("{{.Nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Render(m, "hugo", Conventions{}, dir, nil); err == nil || !strings.Contains(err.Error(), TemplateMail) {
		t.Errorf("a broken override should fail naming its file, got %v", err)
	}
}

func TestWriteDir(t *testing.T) {
	m := fixtureModel(t)
	o, err := Render(m, "middleman", Conventions{}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := o.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range o.Files() {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil || !bytes.Equal(b, f.Content) {
			t.Errorf("%s: %v", f.Path, err)
		}
	}
	o.Post.Path = "../escape.md"
	if err := o.WriteDir(dir); err == nil {
		t.Error("a path leaving the folder should be refused")
	}
}
