package config_test

import (
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
)

func TestConfigPublicationKeysLoad(t *testing.T) {
	src := edit(t, minimalConfig, `handler = "Jane Doe <jane@example.org>"`, `handler = "Jane Doe <jane@example.org>"
distros = 2026-11-28T15:00:00+01:00`)
	src = edit(t, src, `description = "advisory.md"`, `description = "advisory.md"
rustsec_id    = "RUSTSEC-2026-0042"
functions     = ["async_std::task::spawn", "async_std::task::JoinHandle::cancel"]
informational = "unsound"
license       = "CC0-1.0"`)
	src = edit(t, src, `token_env = "EMBARGO_BLOG_TOKEN"`, `token_env = "EMBARGO_BLOG_TOKEN"
author    = "The async-std developers"
build     = "bundle exec middleman build"`)
	cfg, err := config.Load(writeConfig(t, src))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 28, 14, 0, 0, 0, time.UTC); !cfg.Embargo.Distros.Equal(want) {
		t.Errorf("embargo.distros = %v, want %v", cfg.Embargo.Distros, want)
	}
	if cfg.Blog.Author != "The async-std developers" || cfg.Blog.Build != "bundle exec middleman build" {
		t.Errorf("blog = %+v", cfg.Blog)
	}
	if len(cfg.Advisory.Functions) != 2 || cfg.Advisory.Informational != "unsound" || cfg.Advisory.License != "CC0-1.0" {
		t.Errorf("advisory = %+v", cfg.Advisory)
	}
}

func TestConfigDistrosWithoutOffsetIsRefused(t *testing.T) {
	src := edit(t, minimalConfig, `handler = "Jane Doe <jane@example.org>"`, `handler = "Jane Doe <jane@example.org>"
distros = 2026-11-28T14:00:00`)
	expectProblems(t, src, want{key: "embargo.distros", at: "distros =", says: []string{"no UTC offset", "distros = 2026-11-28T14:00:00Z"}})
}

func TestConfigRustSecIDMustBeOfTheAdvisoryYear(t *testing.T) {
	// T0 is in 2026 and advisory.date is not set: the id's year must be 2026.
	src := edit(t, minimalConfig, `description = "advisory.md"`, `description = "advisory.md"
rustsec_id  = "RUSTSEC-2025-0042"`)
	expectProblems(t, src, want{key: "advisory.rustsec_id", at: "rustsec_id", says: []string{"RUSTSEC-2025-0042 is of 2025", "dated 2026"}})

	src = edit(t, minimalConfig, `description = "advisory.md"`, `description = "advisory.md"
rustsec_id  = "RUSTSEC-26-42"`)
	expectProblems(t, src, want{key: "advisory.rustsec_id", at: "rustsec_id", says: []string{"not a RustSec id", "RUSTSEC-YYYY-NNNN"}})

	// The placeholder is what an unassigned advisory carries.
	src = edit(t, minimalConfig, `description = "advisory.md"`, `description = "advisory.md"
rustsec_id  = "RUSTSEC-0000-0000"`)
	if _, err := config.Load(writeConfig(t, src)); err != nil {
		t.Fatal(err)
	}
}

func TestConfigRustSecKeysOutsideAdvisoryDBAreRefused(t *testing.T) {
	src := edit(t, minimalConfig, `description = "advisory.md"`, `description = "advisory.md"
functions     = ["async_std::task::spawn", "async-std::task", "tokio::spawn", "async_std::task::spawn"]
informational = "unmaintained-ish"
license       = "MIT"`)
	expectProblems(t, src,
		want{key: "advisory.functions", at: "functions", says: []string{`entry 2 "async-std::task" is not a Rust path`}},
		want{key: "advisory.functions", at: "functions", says: []string{`entry 3 "tokio::spawn" does not start with the crate's name async_std`, "async_std::spawn"}},
		want{key: "advisory.functions", at: "functions", says: []string{`"async_std::task::spawn" is listed twice`}},
		want{key: "advisory.informational", at: "informational", says: []string{"notice, unmaintained, unsound"}},
		want{key: "advisory.license", at: "license", says: []string{"CC0-1.0, CC-BY-4.0"}},
	)
}

func TestConfigEmptyBlogAuthorAndBuildAreRefused(t *testing.T) {
	src := edit(t, minimalConfig, `token_env = "EMBARGO_BLOG_TOKEN"`, `token_env = "EMBARGO_BLOG_TOKEN"
author    = " "
build     = ""`)
	expectProblems(t, src,
		want{key: "blog.author", at: "author", says: []string{"is empty"}},
		want{key: "blog.build", at: "build ", says: []string{"is empty", "hugo --quiet"}},
	)
}
