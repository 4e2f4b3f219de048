package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/async-rs/embargo/config"
)

// shape is one value of a key whose shape is defined: set in place of
// from (a line of minimalConfig, or "" to add line to [advisory]), and
// either accepted (says nil) or refused with one problem at its line that
// says each of says and never hides of the value.
type shape struct {
	name, from, line string
	says             []string
	hides            string
}

const cvssLine = `severity    = "high"`

// The values that have a shape (URLs, remotes, the sparse index, the
// advisory's aliases, CVSS vector and ranges) are checked as the config is
// read: a malformed one exits 2 at its file, line and key before anything
// is done, and every well-formed one loads, the forms real projects write
// included.
func TestConfigValuesOfADefinedShapeAreCheckedWhenRead(t *testing.T) {
	const advisoryEnd = `description = "advisory.md"`
	cases := []shape{
		// CVSS 3.x: the base metrics once each, any order, temporal and
		// environmental metrics optional.
		{name: "cvss 3.1", from: cvssLine, line: `cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"`},
		{name: "cvss 3.0", from: cvssLine, line: `cvss = "CVSS:3.0/AV:L/AC:H/PR:L/UI:R/S:C/C:L/I:N/A:N"`},
		{name: "cvss 3.1 in another order, with temporal and environmental metrics", from: cvssLine,
			line: `cvss = "CVSS:3.1/S:U/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H/E:P/RL:O/RC:C/CR:H/IR:X/AR:L/MAV:A/MAC:H/MPR:L/MUI:R/MS:C/MC:N/MI:L/MA:H"`},
		{name: "cvss value of no metric", from: cvssLine, line: `cvss = "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"`,
			says: []string{"AV:X is not a value of AV", "AV takes one of N, A, L, P"}},
		{name: "cvss without a base metric", from: cvssLine, line: `cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H"`,
			says: []string{"the base metric(s) A are missing"}},
		{name: "cvss metric twice", from: cvssLine, line: `cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/A:L"`,
			says: []string{"metric A is given twice"}},
		{name: "cvss metric of another version", from: cvssLine, line: `cvss = "CVSS:3.1/AV:N/AC:L/AT:N/PR:N/UI:N/S:U/C:H/I:H/A:H"`,
			says: []string{`unknown metric "AT"`}},
		{name: "cvss in small letters", from: cvssLine, line: `cvss = "CVSS:3.1/av:n/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"`,
			says: []string{`unknown metric "av"`, "capitals"}},
		{name: "cvss 2", from: cvssLine, line: `cvss = "AV:N/AC:L/Au:N/C:P/I:P/A:P"`,
			says: []string{"does not start with CVSS:3.0/, CVSS:3.1/ or CVSS:4.0/"}},
		{name: "cvss of an unknown version", from: cvssLine, line: `cvss = "CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"`,
			says: []string{`"CVSS:3.2" is not a CVSS version`}},
		{name: "cvss trailing slash", from: cvssLine, line: `cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/"`,
			says: []string{`"" is not a metric`}},
		// CVSS 4.0: the base metrics in order, threat, environmental and
		// supplemental metrics optional, in the specification's order.
		{name: "cvss 4.0", from: cvssLine, line: `cvss = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"`},
		{name: "cvss 4.0 with threat, environmental and supplemental metrics", from: cvssLine,
			line: `cvss = "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:A/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N/E:P/CR:H/MAV:L/MSI:S/MSA:X/S:P/AU:Y/R:I/V:C/RE:M/U:Amber"`},
		{name: "cvss 4.0 out of order", from: cvssLine, line: `cvss = "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/SC:N/VI:H/SI:N/VA:H/SA:N"`,
			says: []string{"specification's order", "VI comes before SC", `"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"`}},
		{name: "cvss 4.0 without AT", from: cvssLine, line: `cvss = "CVSS:4.0/AV:N/AC:L/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"`,
			says: []string{"the base metric(s) AT are missing"}},
		{name: "cvss 4.0 value of no metric", from: cvssLine, line: `cvss = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/U:Purple"`,
			says: []string{"U:Purple is not a value of U", "X, Clear, Green, Amber, Red"}},
		{name: "cvss a word", from: cvssLine, line: `cvss = "high"`, says: []string{`"high" does not start with CVSS:`}},

		// Aliases: CVE, GHSA and RustSec ids as their databases write
		// them, and the ids of the databases OSV knows.
		{name: "aliases", from: advisoryEnd, line: advisoryEnd + "\n" + `aliases = ["CVE-2026-12345", "CVE-2026-00001", "CVE-2021-1000007", "GHSA-4x7m-9pqr-c2vw", "RUSTSEC-2026-0042", "PYSEC-2021-123", "GO-2023-1234", "MAL-2025-49350", "TROVE-2024-004", "OSV-2020-111"]`},
		{name: "cve of three digits", from: advisoryEnd, line: advisoryEnd + "\n" + `aliases = ["CVE-2026-123"]`, says: []string{`entry 1: "CVE-2026-123" is not a CVE id`, "four or more digits"}},
		{name: "cve in small letters", from: advisoryEnd, line: advisoryEnd + "\n" + `aliases = ["GHSA-4x7m-9pqr-c2vw", "cve-2026-12345"]`, says: []string{`entry 2: "cve-2026-12345" is not a CVE id`, "in capitals"}},
		{name: "ghsa of letters GitHub never uses", from: advisoryEnd, line: advisoryEnd + "\n" + `aliases = ["GHSA-abcd-efgh-ijkl"]`, says: []string{"is not a GHSA id", "23456789cfghjmpqrvwx"}},
		{name: "rustsec id of two digits", from: advisoryEnd, line: advisoryEnd + "\n" + `aliases = ["RUSTSEC-2026-42"]`, says: []string{"is not a RustSec id"}},
		{name: "alias of no database", from: advisoryEnd, line: advisoryEnd + "\n" + `aliases = ["BUG-1234"]`, says: []string{`"BUG-1234" is not an id of a vulnerability database`, "CVE-YYYY-NNNN", "GHSA-xxxx-xxxx-xxxx", "RUSTSEC-YYYY-NNNN"}},
		{name: "alias twice", from: advisoryEnd, line: advisoryEnd + "\n" + `aliases = ["CVE-2026-12345", "CVE-2026-12345"]`, says: []string{"entry 2: CVE-2026-12345 is listed twice"}},

		// References are http(s) URLs.
		{name: "references", from: advisoryEnd, line: advisoryEnd + "\n" + `references = ["https://github.com/async-rs/async-std/pull/1100", "http://example.org/report.txt"]`},
		{name: "reference without scheme", from: advisoryEnd, line: advisoryEnd + "\n" + `references = ["github.com/async-rs/async-std/pull/1100"]`, says: []string{"entry 1", "is not an http(s) URL"}},
		{name: "reference of another scheme", from: advisoryEnd, line: advisoryEnd + "\n" + `references = ["https://example.org/a", "ftp://example.org/report.txt"]`, says: []string{`entry 2: "ftp://example.org/report.txt" is not an http(s) URL`}},
		{name: "reference without host", from: advisoryEnd, line: advisoryEnd + "\n" + `references = ["https:///pull/1"]`, says: []string{"has no host"}},
		{name: "reference with a space", from: advisoryEnd, line: advisoryEnd + "\n" + `references = ["https://example.org/a report"]`, says: []string{"holds a space"}},
		{name: "reference with credentials", from: advisoryEnd, line: advisoryEnd + "\n" + `references = ["https://jane:hunter2@example.org/a"]`, says: []string{"credentials"}, hides: "hunter2"},

		// Unaffected ranges are read by the parser the outputs use.
		{name: "unaffected", from: advisoryEnd, line: advisoryEnd + "\n" + `unaffected = ["< 1.5.0", ">= 0.2.0, < 0.3", "^0.1", "=1.0.3", "<= 1.2.3-rc.1"]`},
		{name: "unaffected in ruby's syntax", from: advisoryEnd, line: advisoryEnd + "\n" + `unaffected = ["< 1.5.0", "~> 1.0"]`, says: []string{"entry 2", `"> 1.0" is not a version`, "RustSec"}},
		{name: "unaffected matching nothing", from: advisoryEnd, line: advisoryEnd + "\n" + `unaffected = [">= 2.0.0, < 1.0.0"]`, says: []string{"entry 1", "matches no version"}},

		// Remotes: URLs git speaks, scp-like remotes, local paths.
		{name: "public over ssh", from: `public    = "https://github.com/async-rs/async-std.git"`, line: `public    = "ssh://git@github.com/async-rs/async-std.git"`},
		{name: "public scp-like", from: `public    = "https://github.com/async-rs/async-std.git"`, line: `public    = "git@github.com:async-rs/async-std.git"`},
		{name: "public on a port", from: `public    = "https://github.com/async-rs/async-std.git"`, line: `public    = "http://127.0.0.1:8080/public.git"`},
		{name: "public file url", from: `public    = "https://github.com/async-rs/async-std.git"`, line: `public    = "file:///srv/git/public.git"`},
		{name: "public local path", from: `public    = "https://github.com/async-rs/async-std.git"`, line: `public    = "../public.git"`},
		{name: "public of a scheme git does not speak", from: `public    = "https://github.com/async-rs/async-std.git"`, line: `public    = "htps://github.com/async-rs/async-std.git"`,
			says: []string{"htps:// is not a scheme git reaches a remote by", "ssh://"}},
		{name: "public missing a slash", from: `public    = "https://github.com/async-rs/async-std.git"`, line: `public    = "https:/github.com/async-rs/async-std.git"`,
			says: []string{"a URL missing a slash"}},
		{name: "public with its password", from: `public    = "https://github.com/async-rs/async-std.git"`, line: `public    = "https://jane:ghp_R2d2C3poL8kE9xQ7mN4bV6cZ1aS5dF0gH3jK@github.com/async-rs/async-std.git"`,
			says: []string{"carries a password", "token_env"}, hides: "ghp_"},
		{name: "blog repo without host", from: `repo      = "https://github.com/async-rs/async.rs.git"`, line: `repo      = "https:///async-rs/async.rs.git"`,
			says: []string{"has no host"}},

		// The post's URL, as its pattern renders.
		{name: "blog url with date and id", from: `url       = "https://async.rs/blog/{{.Slug}}/"`, line: `url       = "http://127.0.0.1:8080/{{.Date}}/{{.ID}}/{{.Slug}}.html"`},
		{name: "blog url without scheme", from: `url       = "https://async.rs/blog/{{.Slug}}/"`, line: `url       = "async.rs/blog/{{.Slug}}/"`,
			says: []string{`renders to "async.rs/blog/use-after-free-in-a-task/", which is not an http(s) URL`}},
		{name: "blog url pattern that does not parse", from: `url       = "https://async.rs/blog/{{.Slug}}/"`, line: `url       = "https://async.rs/blog/{{.Slug/"`,
			says: []string{"not a valid pattern", "{{.Slug}}, {{.Date}} and {{.ID}}"}},
		{name: "blog url of a field no post has", from: `url       = "https://async.rs/blog/{{.Slug}}/"`, line: `url       = "https://async.rs/blog/{{.Title}}/"`,
			says: []string{"not a valid pattern", "Title"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line := tc.line
			if tc.says != nil {
				line += "  # <- mistake"
			}
			checkShape(t, edit(t, minimalConfig, tc.from, line), tc)
		})
	}
}

func checkShape(t *testing.T, src string, tc shape) {
	t.Helper()
	if tc.says == nil {
		if _, err := config.Load(writeConfig(t, src)); err != nil {
			t.Fatalf("%s was refused: %v", tc.line, err)
		}
		return
	}
	problems := expectProblems(t, src, want{keyOf(tc.line, src), "# <- mistake", tc.says})
	if tc.hides != "" && strings.Contains(problems[0].String(), tc.hides) {
		t.Errorf("the problem %q repeats the secret", problems[0])
	}
}

// keyOf is the dotted key the last line of lines sets in src.
func keyOf(lines, src string) string {
	last := lines[strings.LastIndex(lines, "\n")+1:]
	name, _, _ := strings.Cut(last, "=")
	table := src[strings.LastIndex(src[:strings.Index(src, last)], "\n[")+2:]
	return table[:strings.Index(table, "]")] + "." + strings.TrimSpace(name)
}

// The sparse index cargo reads: sparse+, an http(s) URL, a closing slash
// (crates.io's own index is known to cargo without it).
func TestConfigRegistryIndexIsASparseIndexURL(t *testing.T) {
	for index, says := range map[string][]string{
		"sparse+https://index.crates.io/":                    nil,
		"sparse+https://index.crates.io":                     nil,
		"sparse+http://127.0.0.1:8080/index/":                nil,
		"https://index.crates.io/":                           {"is not a sparse index", `"sparse+https://index.crates.io/"`},
		"sparse+index.example.org/":                          {"what follows sparse+ is not an http(s) URL"},
		"sparse+https://registry.example/index":              {"does not end in a slash, which cargo requires"},
		"sparse+https://jane:s3cr3t@registry.example/index/": {"carries credentials"},
	} {
		t.Run(index, func(t *testing.T) {
			src := minimalConfig + "\n[registry]\nindex = \"" + index + "\""
			if says != nil {
				src += "  # <- mistake"
			}
			checkShape(t, src+"\n", shape{line: `index = "` + index + `"`, says: says, hides: "s3cr3t"})
		})
	}
}

// The description is written into the post, the RustSec file, OSV and the
// mail: it must be UTF-8 text, and a binary named by mistake (an ELF
// executable, a UTF-16 file) is refused naming the key and the file.
func TestConfigDescriptionMustBeUTF8Text(t *testing.T) {
	for name, c := range map[string]struct {
		content []byte
		says    []string
	}{
		"markdown in many scripts": {[]byte("# Überlauf\r\n\r\nA task handle — 任务 — could be used after it was freed. 🦀\n"), nil},
		"an ELF binary":            {append([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"), []byte("rest of the program")...), []string{"advisory.md is an ELF binary, not Markdown text"}},
		"UTF-16 text":              {[]byte("\xff\xfeA\x00 \x00t\x00a\x00s\x00k\x00"), []string{"advisory.md is a binary file, not Markdown text"}},
		"Latin-1 text":             {[]byte("An advisory for caf\xe9s.\n"), []string{"advisory.md is not UTF-8 text", "0xe9 on line 1", "saved as UTF-8"}},
	} {
		t.Run(name, func(t *testing.T) {
			src := minimalConfig
			if c.says != nil {
				src = edit(t, src, `description = "advisory.md"`, `description = "advisory.md"  # <- mistake`)
			}
			path := writeConfig(t, src)
			if err := os.WriteFile("advisory.md", c.content, 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if c.says == nil {
				if err != nil || cfg.Description != string(c.content) {
					t.Fatalf("refused or changed: %v", err)
				}
				return
			}
			var ce *config.Error
			if !errors.As(err, &ce) || len(ce.Problems) != 1 {
				t.Fatalf("got %v, want one problem", err)
			}
			got := ce.Problems[0].String()
			prefix := fmt.Sprintf("embargo.toml:%d: advisory.description: ", lineOf(t, src, "# <- mistake"))
			if !strings.HasPrefix(got, prefix) {
				t.Errorf("problem %q, want it to start with %q", got, prefix)
			}
			for _, s := range c.says {
				if !strings.Contains(got, s) {
					t.Errorf("problem %q does not say %q", got, s)
				}
			}
		})
	}
}

// A remote is resolved against the config's folder only when it is a
// local path: a URL or an scp-like user@host:path, whatever the user, is
// the remote itself.
func TestConfigResolvesOnlyLocalRemotes(t *testing.T) {
	cfg, err := config.Load(writeConfig(t, minimalConfig))
	if err != nil {
		t.Fatal(err)
	}
	for _, remote := range []string{"https://github.com/org/repo.git", "git@github.com:org/repo.git", "deploy@git.example.org:org/repo.git", "git.example.org:repo.git"} {
		if got := cfg.ResolveRemote(remote); got != remote {
			t.Errorf("ResolveRemote(%q) = %q, want it unchanged", remote, got)
		}
	}
	for local, want := range map[string]string{"public.git": "public.git", "./a:b": "a:b", "../up.git": "../up.git"} {
		if got := cfg.ResolveRemote(local); got != filepath.Join(cfg.Dir, want) {
			t.Errorf("ResolveRemote(%q) = %q, want it beside the config: %s", local, got, filepath.Join(cfg.Dir, want))
		}
	}
}
