package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
)

// minimalConfig is what a project writes when it takes every default: no
// window, no [registry], no source.repo. Table headers carry comments so a
// test can point at "the second [[release]]".
const minimalConfig = `[embargo]
id      = "ASYNC-STD-SA-2026-001"
at      = 2026-12-01T14:00:00Z
handler = "Jane Doe <jane@example.org>"

[source]
public    = "https://github.com/async-rs/async-std.git"
token_env = "EMBARGO_GIT_TOKEN"

[[release]]  # 1.13
line          = "1.13"
branch        = "embargo/1.13"
public_branch = "main"
tag           = "v1.13.1"
crates        = ["async-std"]

[[release]]  # 1.12
line          = "1.12"
branch        = "embargo/1.12"
public_branch = "release-1.12"
tag           = "v1.12.1"

[advisory]
title       = "Use-after-free in async_std::task"
package     = "async-std"
severity    = "high"
description = "advisory.md"

[blog]
repo      = "https://github.com/async-rs/async.rs.git"
branch    = "master"
style     = "middleman"
path      = "source/blog/{{.Date}}-{{.Slug}}.html.md"
url       = "https://async.rs/blog/{{.Slug}}/"
token_env = "EMBARGO_BLOG_TOKEN"
`

const advisoryText = "A task handle could be used after its task was freed.\n"

// writeConfig puts src as embargo.toml, with advisory.md beside it, into a
// fresh folder and makes that folder the working directory, as a release
// manager running `embargo check` there would have it.
func writeConfig(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "embargo.toml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "advisory.md"), []byte(advisoryText), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	return "embargo.toml"
}

// edit replaces the single occurrence of old in src.
func edit(t *testing.T, src, old, new string) string {
	t.Helper()
	if n := strings.Count(src, old); n != 1 {
		t.Fatalf("test setup: %q occurs %d times in the config", old, n)
	}
	return strings.Replace(src, old, new, 1)
}

// lineOf is the 1-based line of src holding needle, which must be unique.
func lineOf(t *testing.T, src, needle string) int {
	t.Helper()
	if n := strings.Count(src, needle); n != 1 {
		t.Fatalf("test setup: %q occurs %d times in the config", needle, n)
	}
	return strings.Count(src[:strings.Index(src, needle)], "\n") + 1
}

// want is one problem a user must be shown: the key, the line holding at
// (a unique piece of the file; "" for a key that has no line), and pieces of
// the message.
type want struct {
	key  string
	at   string
	says []string
}

// expectProblems loads src and checks that exactly the wanted problems are
// reported, in this order, each as "embargo.toml:LINE: KEY: ...".
func expectProblems(t *testing.T, src string, wants ...want) []config.Problem {
	t.Helper()
	path := writeConfig(t, src)
	cfg, err := config.Load(path)
	if err == nil {
		t.Fatalf("config loaded (%+v), want %d problem(s)", cfg.Embargo, len(wants))
	}
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %T %v, want *config.Error", err, err)
	}
	if !config.IsError(err) {
		t.Errorf("IsError(%v) = false", err)
	}
	if len(ce.Problems) != len(wants) {
		t.Fatalf("got %d problem(s), want %d:\n%v", len(ce.Problems), len(wants), err)
	}
	for i, w := range wants {
		p := ce.Problems[i]
		prefix := "embargo.toml: " + w.key + ": "
		if w.at != "" {
			prefix = fmt.Sprintf("embargo.toml:%d: %s: ", lineOf(t, src, w.at), w.key)
		}
		got := p.String()
		if !strings.HasPrefix(got, prefix) {
			t.Errorf("problem %d = %q, want it to start with %q", i+1, got, prefix)
		}
		for _, s := range w.says {
			if !strings.Contains(got, s) {
				t.Errorf("problem %d = %q, want it to say %q", i+1, got, s)
			}
		}
		if !strings.Contains(err.Error(), got) {
			t.Errorf("error text %q lacks problem %q", err.Error(), got)
		}
	}
	return ce.Problems
}

func TestConfigMinimalLoadsWithDefaults(t *testing.T) {
	cfg, err := config.Load(writeConfig(t, minimalConfig))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	if !cfg.T0().Equal(t0) {
		t.Errorf("T0 = %v, want %v", cfg.T0(), t0)
	}
	if cfg.Window != 6*time.Hour {
		t.Errorf("window = %v, want the default 6h", cfg.Window)
	}
	if !cfg.Deadline().Equal(t0.Add(6 * time.Hour)) {
		t.Errorf("deadline = %v, want T0 + 6h", cfg.Deadline())
	}
	if cfg.Registry.Name != "crates-io" || cfg.Registry.Index != "sparse+https://index.crates.io/" || cfg.Registry.TokenEnv != "CARGO_REGISTRY_TOKEN" {
		t.Errorf("registry = %+v, want crates.io defaults", cfg.Registry)
	}
	if cfg.Source.Repo != "." {
		t.Errorf("source.repo = %q, want \".\"", cfg.Source.Repo)
	}
	if len(cfg.Releases) != 2 || cfg.Releases[0].Tag != "v1.13.1" || cfg.Releases[1].PublicBranch != "release-1.12" {
		t.Errorf("releases = %+v", cfg.Releases)
	}
	if cfg.Description != advisoryText {
		t.Errorf("description = %q, want the text of advisory.md", cfg.Description)
	}
	wd, _ := os.Getwd()
	if got := cfg.Resolve(cfg.Advisory.Description); got != filepath.Join(wd, "advisory.md") {
		t.Errorf("description resolves to %q, want advisory.md beside the config", got)
	}
}

func TestConfigFullExampleLoads(t *testing.T) {
	src := minimalConfig + `
[registry]
name      = "sandbox"
index     = "sparse+http://127.0.0.1:8080/index/"
token_env = "SANDBOX_TOKEN"

[seal]
oci          = "ghcr.io/async-rs/embargo-bundles"
recipients   = ["age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq"]
identity_env = "EMBARGO_AGE_IDENTITY"

[[image]]
from = "ghcr.io/async-rs/private/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
to   = "ghcr.io/async-rs/app:1.13.1"
`
	src = edit(t, src, `handler = "Jane Doe <jane@example.org>"`, "handler = \"Jane Doe <jane@example.org>\"\nwindow  = \"90m\"")
	src = edit(t, src, `at      = 2026-12-01T14:00:00Z`, `at      = 2026-12-01T15:00:00+01:00`)
	src = edit(t, src, `severity    = "high"`, "severity    = \"high\"\ndate        = 2026-11-20")
	cfg, err := config.Load(writeConfig(t, src))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Window != 90*time.Minute {
		t.Errorf("window = %v, want 90m", cfg.Window)
	}
	if want := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC); !cfg.T0().Equal(want) || cfg.T0().Location() != time.UTC {
		t.Errorf("T0 = %v, want %v in UTC", cfg.T0(), want)
	}
	if y, m, d := cfg.Advisory.Date.Date(); y != 2026 || m != time.November || d != 20 {
		t.Errorf("advisory.date = %v, want 2026-11-20", cfg.Advisory.Date)
	}
	if cfg.Registry.Name != "sandbox" || cfg.Registry.TokenEnv != "SANDBOX_TOKEN" {
		t.Errorf("registry = %+v, want the configured one", cfg.Registry)
	}
	if cfg.Seal == nil || cfg.Seal.IdentityEnv != "EMBARGO_AGE_IDENTITY" || len(cfg.Images) != 1 {
		t.Errorf("seal = %+v, images = %+v", cfg.Seal, cfg.Images)
	}
}

func TestConfigLocalTimeIsRefused(t *testing.T) {
	src := edit(t, minimalConfig, `at      = 2026-12-01T14:00:00Z`, `at      = 2026-12-01T14:00:00  # <- mistake`)
	expectProblems(t, src, want{"embargo.at", "# <- mistake", []string{"no UTC offset", "at = 2026-12-01T14:00:00Z"}})
}

func TestConfigPlainDateAtIsRefused(t *testing.T) {
	src := edit(t, minimalConfig, `at      = 2026-12-01T14:00:00Z`, `at      = 2026-12-01  # <- mistake`)
	expectProblems(t, src, want{"embargo.at", "# <- mistake", []string{"no UTC offset"}})
}

func TestConfigAdvisoryDateWithATimeIsRefused(t *testing.T) {
	src := edit(t, minimalConfig, `severity    = "high"`, "severity    = \"high\"\ndate        = 2026-11-20T10:00:00Z  # <- mistake")
	expectProblems(t, src, want{"advisory.date", "# <- mistake", []string{"plain date"}})
}

func TestConfigMissingAtIsRefused(t *testing.T) {
	src := edit(t, minimalConfig, "at      = 2026-12-01T14:00:00Z\n", "")
	expectProblems(t, src, want{"embargo.at", "[embargo]", []string{"missing"}})
}

func TestConfigTypoKeySuggestsTheKnownOne(t *testing.T) {
	src := edit(t, minimalConfig, `public_branch = "release-1.12"`, `publc_branch = "release-1.12"  # <- mistake`)
	expectProblems(t, src,
		// The real key is now absent from the second release: located at its table.
		want{"release[2].public_branch", "[[release]]  # 1.12", []string{"missing"}},
		want{"release[2].publc_branch", "# <- mistake", []string{"unknown key", `did you mean "public_branch"?`}},
	)
}

func TestConfigUnknownTableIsRefused(t *testing.T) {
	src := minimalConfig + "\n[blgo]  # <- mistake\nrepo = \"x\"\nbranch = \"master\"\n"
	expectProblems(t, src, want{"blgo", "# <- mistake", []string{"unknown key", `did you mean "blog"?`}})
}

func TestConfigMissingEmbargoIDIsRefused(t *testing.T) {
	src := edit(t, minimalConfig, "id      = \"ASYNC-STD-SA-2026-001\"\n", "")
	expectProblems(t, src, want{"embargo.id", "[embargo]", []string{"missing"}})
}

func TestConfigMissingPublicRepositoryIsRefused(t *testing.T) {
	src := edit(t, minimalConfig, "public    = \"https://github.com/async-rs/async-std.git\"\n", "")
	expectProblems(t, src, want{"source.public", "[source]", []string{"missing"}})
}

func TestConfigMissingReleaseBranchAndTagAreRefused(t *testing.T) {
	src := edit(t, minimalConfig, "branch        = \"embargo/1.12\"\n", "")
	src = edit(t, src, "tag           = \"v1.12.1\"\n", "")
	expectProblems(t, src,
		want{"release[2].branch", "[[release]]  # 1.12", []string{"missing"}},
		want{"release[2].tag", "[[release]]  # 1.12", []string{"missing"}},
	)
}

func TestConfigMissingAdvisoryTitleAndDescriptionAreRefused(t *testing.T) {
	src := edit(t, minimalConfig, "title       = \"Use-after-free in async_std::task\"\n", "")
	src = edit(t, src, "description = \"advisory.md\"\n", "")
	expectProblems(t, src,
		want{"advisory.title", "[advisory]", []string{"missing"}},
		want{"advisory.description", "[advisory]", []string{"missing"}},
	)
}

func TestConfigNoReleaseAtAllIsRefused(t *testing.T) {
	start := strings.Index(minimalConfig, "[[release]]  # 1.13")
	end := strings.Index(minimalConfig, "[advisory]")
	src := minimalConfig[:start] + minimalConfig[end:]
	expectProblems(t, src, want{"release", "", []string{"no [[release]]"}})
}

func TestConfigDuplicateReleaseLineIsRefused(t *testing.T) {
	src := edit(t, minimalConfig, `line          = "1.12"`, `line          = "1.13"  # <- mistake`)
	expectProblems(t, src, want{"release[2].line", "# <- mistake", []string{`"1.13" is already release[1]`}})
}

func TestConfigTwoLinesSharingATagAreRefused(t *testing.T) {
	src := edit(t, minimalConfig, `tag           = "v1.12.1"`, `tag           = "v1.13.1"  # <- mistake`)
	expectProblems(t, src, want{"release[2].tag", "# <- mistake", []string{`"v1.13.1"`, "release[1]"}})
}

func TestConfigTwoLinesSharingAPublicBranchAreRefused(t *testing.T) {
	src := edit(t, minimalConfig, `public_branch = "release-1.12"`, `public_branch = "main"  # <- mistake`)
	expectProblems(t, src, want{"release[2].public_branch", "# <- mistake", []string{`"main"`, "release[1]"}})
}

func TestConfigTagWithoutVersionIsRefused(t *testing.T) {
	src := edit(t, minimalConfig, `tag           = "v1.12.1"`, `tag           = "latest"  # <- mistake`)
	expectProblems(t, src, want{"release[2].tag", "# <- mistake", []string{"no version"}})
}

func TestConfigUnreadableDescriptionIsRefused(t *testing.T) {
	src := edit(t, minimalConfig, `description = "advisory.md"`, `description = "ADVISORY.md"  # <- mistake`)
	expectProblems(t, src, want{"advisory.description", "# <- mistake", []string{"cannot read ADVISORY.md"}})
}

func TestConfigDescriptionThatIsAFolderIsRefused(t *testing.T) {
	src := edit(t, minimalConfig, `description = "advisory.md"`, `description = "."  # <- mistake`)
	expectProblems(t, src, want{"advisory.description", "# <- mistake", []string{"cannot read"}})
}

func TestConfigWindowInWordsIsRefused(t *testing.T) {
	src := edit(t, minimalConfig, `handler = "Jane Doe <jane@example.org>"`, "handler = \"Jane Doe <jane@example.org>\"\nwindow  = \"6 hours\"  # <- mistake")
	expectProblems(t, src, want{"embargo.window", "# <- mistake", []string{`"6 hours" is not a duration`, `window = "6h"`}})
}

func TestConfigNegativeWindowIsRefused(t *testing.T) {
	src := edit(t, minimalConfig, `handler = "Jane Doe <jane@example.org>"`, "handler = \"Jane Doe <jane@example.org>\"\nwindow  = \"-1h\"  # <- mistake")
	expectProblems(t, src, want{"embargo.window", "# <- mistake", []string{"must be positive"}})
}

func TestConfigHandlerWithoutAddressIsRefused(t *testing.T) {
	src := edit(t, minimalConfig, `handler = "Jane Doe <jane@example.org>"`, `handler = "Jane Doe"  # <- mistake`)
	expectProblems(t, src, want{"embargo.handler", "# <- mistake", []string{`"Jane Doe"`, "Name <email>"}})
}

func TestConfigUnknownSeverityIsRefused(t *testing.T) {
	src := edit(t, minimalConfig, `severity    = "high"`, `severity    = "urgent"  # <- mistake`)
	expectProblems(t, src, want{"advisory.severity", "# <- mistake", []string{`"urgent" is not a severity`, "critical"}})
}

func TestConfigSeverityAndCVSSTogetherAreRefused(t *testing.T) {
	src := edit(t, minimalConfig, `severity    = "high"`, "severity    = \"high\"\ncvss        = \"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"  # <- mistake")
	expectProblems(t, src, want{"advisory.cvss", "# <- mistake", []string{"either severity or cvss"}})
}

func TestConfigUnknownBlogStyleIsRefused(t *testing.T) {
	src := edit(t, minimalConfig, `style     = "middleman"`, `style     = "wordpress"  # <- mistake`)
	expectProblems(t, src, want{"blog.style", "# <- mistake", []string{`"wordpress"`, "middleman, hugo, jekyll, zola"}})
}

func TestConfigTokenPastedIntoTokenEnvIsRefusedWithoutEchoingIt(t *testing.T) {
	for _, token := range []string{
		"ghp_R2d2C3poL8kE9xQ7mN4bV6cZ1aS5dF0gH3jK", // GitHub personal access token
		"cio4Fq9ZkT7pLm2XwB8nR5sY1vH6cJ3dG0a",      // crates.io token
		"cio0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d",      // crates.io token, no capitals
		"glpat-Xk3_9fQ2mZ7pLw4RbT1n",               // GitLab token
	} {
		t.Run(token[:8], func(t *testing.T) {
			src := edit(t, minimalConfig, `token_env = "EMBARGO_GIT_TOKEN"`, `token_env = "`+token+`"  # <- mistake`)
			problems := expectProblems(t, src, want{"source.token_env", "# <- mistake", []string{"environment variable"}})
			if s := problems[0].String(); strings.Contains(s, token) || strings.Contains(s, token[4:12]) {
				t.Errorf("the problem %q repeats the token; it must never be printed", s)
			}
		})
	}
}

func TestConfigVariableNamesAreAcceptedAsTokenEnv(t *testing.T) {
	for _, name := range []string{"EMBARGO_GIT_TOKEN", "GH_TOKEN", "cargo_registry_token_2", "CI_JOB_TOKEN"} {
		src := edit(t, minimalConfig, `token_env = "EMBARGO_GIT_TOKEN"`, `token_env = "`+name+`"`)
		if _, err := config.Load(writeConfig(t, src)); err != nil {
			t.Errorf("token_env = %q: %v", name, err)
		}
	}
}

func TestConfigImageNotPinnedByDigestIsRefused(t *testing.T) {
	src := minimalConfig + "\n[[image]]\nfrom = \"ghcr.io/async-rs/private/app:1.13.1\"  # <- mistake\nto   = \"ghcr.io/async-rs/app:1.13.1\"\n"
	expectProblems(t, src, want{"image[1].from", "# <- mistake", []string{"not pinned by digest"}})
}

const sealSection = `
[seal]
oci          = "ghcr.io/async-rs/embargo-bundles"
recipients   = ["age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq"]
identity_env = "EMBARGO_AGE_IDENTITY"
`

// A [seal] that could not be used is refused with the config, naming the
// key, not first when `seal --push` or a bundle run needs it.
func TestConfigUnusableSealIsRefused(t *testing.T) {
	src := edit(t, minimalConfig+sealSection, `recipients   = ["age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq"]`,
		`recipients   = ["age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq", "age1notarecipient"]  # <- mistake`)
	src = edit(t, src, `oci          = "ghcr.io/async-rs/embargo-bundles"`, `oci          = "ghcr.io/Async-RS/embargo bundles"  # <- wrong oci`)
	expectProblems(t, src,
		want{"seal.oci", "# <- wrong oci", []string{"not an OCI repository"}},
		want{"seal.recipients", "# <- mistake", []string{"entry 2", "not an age recipient"}})
}

func TestConfigIdentityPastedAsRecipientIsRefusedWithoutEchoingIt(t *testing.T) {
	key := "AGE-SECRET-KEY-1QQPQZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQS7W0E7N"
	src := edit(t, minimalConfig+sealSection, `recipients   = ["age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq"]`,
		`recipients   = ["`+key+`"]  # <- mistake`)
	problems := expectProblems(t, src, want{"seal.recipients", "# <- mistake", []string{"entry 1", "secret key"}})
	if s := problems[0].String(); strings.Contains(s, key[15:40]) {
		t.Errorf("the problem %q repeats the secret key", s)
	}
}

func TestConfigSyntaxErrorNamesItsLine(t *testing.T) {
	src := edit(t, minimalConfig, `title       = "Use-after-free in async_std::task"`, `title       = "Use-after-free in async_std::task  # <- mistake`)
	path := writeConfig(t, src)
	_, err := config.Load(path)
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 1 {
		t.Fatalf("got %v, want one syntax problem", err)
	}
	p := ce.Problems[0]
	if want := lineOf(t, src, "# <- mistake"); p.Line != want || p.File != "embargo.toml" {
		t.Errorf("problem at %s:%d, want embargo.toml:%d: %v", p.File, p.Line, want, p)
	}
	if !strings.HasPrefix(p.String(), fmt.Sprintf("embargo.toml:%d: ", p.Line)) {
		t.Errorf("problem %q does not start with its file and line", p)
	}
}

func TestConfigQuotedLocalAtIsRefusedWithItsLine(t *testing.T) {
	src := edit(t, minimalConfig, `at      = 2026-12-01T14:00:00Z`, `at      = "2026-12-01T14:00:00"  # <- mistake`)
	problems := expectProblems(t, src, want{"embargo.at", "# <- mistake", []string{"no UTC offset", "e.g. at = 2026-12-01T14:00:00Z"}})
	if s := problems[0].String(); strings.Contains(s, "parsing time") {
		t.Errorf("the problem %q is the parser's, not the user's", s)
	}
}

// A value of the wrong kind is a mistake like any other: located, with its
// fix, and reported beside every other mistake of the file.
func TestConfigWrongKindsAreReportedWithTheOtherMistakes(t *testing.T) {
	src := minimalConfig
	src = edit(t, src, `handler = "Jane Doe <jane@example.org>"`, "handler = \"Jane Doe <jane@example.org>\"\nwindow  = 6  # <- window")
	src = edit(t, src, `line          = "1.12"`, `line          = 1.10  # <- line`)
	src = edit(t, src, `crates        = ["async-std"]`, `crates        = "async-std"  # <- crates`)
	src = edit(t, src, `severity    = "high"`, "severity    = \"urgent\"  # <- severity\ndate        = \"2026-11-20\"  # <- date")
	src = edit(t, src, `branch    = "master"`, `branch    = true  # <- branch`)
	expectProblems(t, src,
		want{"embargo.window", "# <- window", []string{"6 is a number, not a string", `window = "6h"`}},
		want{"release[1].crates", "# <- crates", []string{"not a list of strings", `crates = ["async-std"]`}},
		want{"release[2].line", "# <- line", []string{"1.10 is a number", `line = "1.10"`}},
		want{"advisory.severity", "# <- severity", nil},
		want{"advisory.date", "# <- date", []string{"not a date", "date = 2026-11-20"}},
		want{"blog.branch", "# <- branch", []string{"true is a boolean", `branch = "true"`}},
	)
}

// A quoted T0 is accepted when it is a full RFC 3339 time with its offset.
func TestConfigQuotedAtWithOffsetLoads(t *testing.T) {
	src := edit(t, minimalConfig, `at      = 2026-12-01T14:00:00Z`, `at      = "2026-12-01T15:00:00+01:00"`)
	cfg, err := config.Load(writeConfig(t, src))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC); !cfg.T0().Equal(want) {
		t.Errorf("T0 = %s, want %s", cfg.T0(), want)
	}
}

func TestConfigMissingFileIsAConfigError(t *testing.T) {
	t.Chdir(t.TempDir())
	_, err := config.Load("embargo.toml")
	var ce *config.Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "embargo.toml") || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("got %v, want a config error naming the missing file", err)
	}
}

func TestConfigEveryMistakeIsReportedAtOnceInFileOrder(t *testing.T) {
	src := minimalConfig
	src = edit(t, src, `at      = 2026-12-01T14:00:00Z`, `at      = 2026-12-01T14:00:00  # <- at`)
	src = edit(t, src, `handler = "Jane Doe <jane@example.org>"`, "handler = \"Jane Doe <jane@example.org>\"\nwindow  = \"6 hours\"  # <- window")
	src = edit(t, src, `token_env = "EMBARGO_GIT_TOKEN"`, "token_env = \"EMBARGO_GIT_TOKEN\"\nreop      = \".\"  # <- typo")
	src = edit(t, src, `tag           = "v1.12.1"`, `tag           = "v1.13.1"  # <- tag`)
	src = edit(t, src, `severity    = "high"`, `severity    = "urgent"  # <- severity`)
	src = edit(t, src, `description = "advisory.md"`, `description = "nope.md"  # <- description`)
	src = edit(t, src, `style     = "middleman"`, `style     = "wordpress"  # <- style`)
	problems := expectProblems(t, src,
		want{"embargo.at", "# <- at", nil},
		want{"embargo.window", "# <- window", nil},
		want{"source.reop", "# <- typo", []string{`did you mean "repo"?`}},
		want{"release[2].tag", "# <- tag", nil},
		want{"advisory.severity", "# <- severity", nil},
		want{"advisory.description", "# <- description", nil},
		want{"blog.style", "# <- style", nil},
	)
	_, err := config.Load("embargo.toml")
	if !strings.Contains(err.Error(), fmt.Sprintf("%d problems", len(problems))) {
		t.Errorf("error %q does not count its problems", err)
	}
}

func TestConfigSecondReleaseKeysAreNamedAndLocatedInTheirOwnTable(t *testing.T) {
	// The same key in both tables: the problem must point at the second
	// table's line, not the first's.
	src := edit(t, minimalConfig, `branch        = "embargo/1.12"`, `branch        = "embargo 1.12"  # <- mistake`)
	problems := expectProblems(t, src, want{"release[2].branch", "# <- mistake", []string{"not a branch name"}})
	if first := lineOf(t, src, `branch        = "embargo/1.13"`); problems[0].Line == first {
		t.Errorf("problem located at the first release's branch (line %d)", first)
	}
}

func TestConfigSameTypoInTwoReleasesIsReportedInEach(t *testing.T) {
	src := edit(t, minimalConfig, `public_branch = "main"`, `publc_branch = "main"  # <- first`)
	src = edit(t, src, `public_branch = "release-1.12"`, `publc_branch = "release-1.12"  # <- second`)
	expectProblems(t, src,
		want{"release[1].public_branch", "[[release]]  # 1.13", []string{"missing"}},
		want{"release[1].publc_branch", "# <- first", []string{`did you mean "public_branch"?`}},
		want{"release[2].public_branch", "[[release]]  # 1.12", []string{"missing"}},
		want{"release[2].publc_branch", "# <- second", []string{`did you mean "public_branch"?`}},
	)
}

func TestConfigUnknownKeyInSecondImageIsLocatedThere(t *testing.T) {
	img := "\n[[image]]\nfrom = \"ghcr.io/a/b@sha256:00\"\nto   = \"ghcr.io/a/b:1\"\n"
	src := minimalConfig + img + img + "tag  = \"x\"  # <- mistake\n"
	expectProblems(t, src, want{"image[2].tag", "# <- mistake", []string{"unknown key"}})
}

// A runner releasing from a bundle has the config only: the description
// comes with the bundle, so its absence alone is not a problem, while every
// other problem still is.
func TestConfigAwaitingItsDescriptionFromABundle(t *testing.T) {
	path := writeConfig(t, minimalConfig)
	if err := os.Remove("advisory.md"); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadAwaitingDescription(path)
	if err != nil {
		t.Fatalf("config without its description file: %v", err)
	}
	if cfg.Description != "" || cfg.Advisory.Description != "advisory.md" {
		t.Errorf("description %q from %q", cfg.Description, cfg.Advisory.Description)
	}
	if _, err := config.Load(path); err == nil {
		t.Error("Load accepted a missing description")
	}

	os.WriteFile(path, []byte(minimalConfig+"\n[sael]\n"), 0o644)
	if _, err := config.LoadAwaitingDescription(path); !config.IsError(err) || !strings.Contains(err.Error(), "sael") {
		t.Errorf("an unknown table while awaiting the description: %v", err)
	}
	os.Mkdir("advisory.md", 0o755)
	os.WriteFile(path, []byte(minimalConfig), 0o644)
	if _, err := config.LoadAwaitingDescription(path); err == nil {
		t.Error("a description that is a folder was accepted")
	}
}

// A starter config from `embargo init` is refused until every placeholder
// is replaced, each named once at its own line, whatever else its key is
// checked for.
func TestConfigPlaceholdersAreRefusedUntilReplaced(t *testing.T) {
	src := edit(t, minimalConfig, `title       = "Use-after-free in async_std::task"`, `title       = "TODO: the advisory's title"`)
	src = edit(t, src, `handler = "Jane Doe <jane@example.org>"`, `handler = "TODO: Name <email> of the primary handler"`)
	src = edit(t, src, `tag           = "v1.12.1"`, `tag           = "TODO: v1.12.1"`)
	src = edit(t, src, `at      = 2026-12-01T14:00:00Z`, `at      = "TODO: T0, unquoted with its UTC offset"`)
	expectProblems(t, src,
		want{"embargo.at", "at      = ", []string{"is still a placeholder: T0, unquoted with its UTC offset"}},
		want{"embargo.handler", "handler = ", []string{"is still a placeholder: Name <email> of the primary handler", "replace it"}},
		want{"release[2].tag", `tag           = "TODO`, []string{"is still a placeholder: v1.12.1"}},
		want{"advisory.title", "title       = ", []string{"is still a placeholder: the advisory's title"}},
	)
}
