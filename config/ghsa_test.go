package config_test

import (
	"strings"
	"testing"

	"github.com/async-rs/embargo/config"
)

const ghsaSection = `
[ghsa]
repo      = "async-rs/async-std"
id        = "GHSA-4x7m-9pqr-c2vw"
token_env = "EMBARGO_GHSA_TOKEN"
credits   = ["octocat", "hubot:reporter"]
`

func TestConfigGHSALoadsWithItsDefaults(t *testing.T) {
	cfg, err := config.Load(writeConfig(t, minimalConfig+ghsaSection))
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.GHSA
	if g == nil || g.Repo != "async-rs/async-std" || g.ID != "GHSA-4x7m-9pqr-c2vw" || g.API != config.DefaultGHSAAPI {
		t.Fatalf("[ghsa] = %+v, want the repo, the id and api defaulting to %s", g, config.DefaultGHSAAPI)
	}
	got := g.GHSACredits()
	want := []config.GHSACredit{{Login: "octocat", Type: "finder"}, {Login: "hubot", Type: "reporter"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("credits = %+v, want %+v (a login alone is a finder)", got, want)
	}
}

func TestConfigGHSAEnterpriseAPILoads(t *testing.T) {
	src := edit(t, minimalConfig+ghsaSection, `token_env = "EMBARGO_GHSA_TOKEN"`, "token_env = \"EMBARGO_GHSA_TOKEN\"\napi = \"https://github.example.com/api/v3/\"")
	cfg, err := config.Load(writeConfig(t, src))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GHSA.API != "https://github.example.com/api/v3" {
		t.Errorf("api = %q, want the GitHub Enterprise URL without its trailing slash", cfg.GHSA.API)
	}
}

// Every mistake of [ghsa] is reported with the config, at its line, not
// when T0 comes and GitHub refuses.
func TestConfigGHSAMistakesAreRefusedAtTheirLines(t *testing.T) {
	src := edit(t, minimalConfig+ghsaSection, `repo      = "async-rs/async-std"`, `repo      = "https://github.com/async-rs/async-std"  # <- repo`)
	src = edit(t, src, `id        = "GHSA-4x7m-9pqr-c2vw"`, `id        = "CVE-2026-12345"  # <- id`)
	src = edit(t, src, `credits   = ["octocat", "hubot:reporter"]`, `credits   = ["Jane Doe", "hubot:author"]  # <- credits`)
	src = edit(t, src, `token_env = "EMBARGO_GHSA_TOKEN"`, "token_env = \"EMBARGO_GHSA_TOKEN\"\napi = \"https://user:pw@github.example.com/api/v3\"  # <- api")
	problems := expectProblems(t, src,
		want{"ghsa.repo", "# <- repo", []string{"not owner/name"}},
		want{"ghsa.id", "# <- id", []string{"not a GHSA identifier"}},
		want{"ghsa.api", "# <- api", []string{"not an http(s) URL without credentials"}},
		want{"ghsa.credits", "# <- credits", []string{"entry 1", `"Jane Doe" is not a GitHub login`}},
		want{"ghsa.credits", "# <- credits", []string{"entry 2", `"author" is not a GitHub credit type`}},
	)
	for _, p := range problems {
		if strings.Contains(p.String(), "pw@") {
			t.Errorf("the problem %q repeats the URL's credentials", p)
		}
	}
}

func TestConfigGHSAWithoutTokenOrWithAnotherGHSAAliasIsRefused(t *testing.T) {
	src := edit(t, minimalConfig+ghsaSection, `token_env = "EMBARGO_GHSA_TOKEN"`+"\n", "")
	src = edit(t, src, `severity    = "high"`, "severity    = \"high\"\naliases     = [\"CVE-2026-12345\", \"GHSA-9q2r-7x4m-hh3c\"]  # <- alias")
	expectProblems(t, src,
		want{"advisory.aliases", "# <- alias", []string{"GHSA-9q2r-7x4m-hh3c", "ghsa.id is GHSA-4x7m-9pqr-c2vw"}},
		want{"ghsa.token_env", "[ghsa]", []string{"missing"}},
	)
}

// GitHub assigns GHSA ids from 23456789cfghjmpqrvwx: an id of other
// letters was mistyped and names no draft.
func TestConfigGHSAIDOfLettersGitHubNeverUsesIsRefused(t *testing.T) {
	src := edit(t, minimalConfig+ghsaSection, `id        = "GHSA-4x7m-9pqr-c2vw"`, `id        = "GHSA-4x7m-9pqr-c2vo"  # <- id`)
	expectProblems(t, src, want{"ghsa.id", "# <- id", []string{`"GHSA-4x7m-9pqr-c2vo" is not a GHSA identifier`}})
}
