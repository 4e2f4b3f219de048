package cli

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/async-rs/embargo/config"
)

// The starter embargo.toml that `embargo init` writes from its survey.

// starterConfig renders the starter embargo.toml.
func starterConfig(s *survey, repo string, year int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	q := strconv.Quote
	todo := func(what string) string { return q(config.Placeholder + " " + what) }

	pkg := ""
	switch {
	case len(s.crates) > 0:
		pkg = s.crates[len(s.crates)-1].Name // the crate the others build up to
	case len(s.lines) > 0 && len(s.lines[0].crates) > 0:
		pkg = s.lines[0].crates[len(s.lines[0].crates)-1]
	}
	id := todo("the advisory identifier, e.g. PROJECT-SA-2026-001")
	if pkg != "" {
		id = q(fmt.Sprintf("%s-SA-%d-001", strings.ToUpper(pkg), year))
	}
	handler := todo("Name <email> of the primary handler")
	if len(s.lines) > 0 {
		handler = q(s.lines[0].author)
	}

	w("# Written by embargo init from %s. Every key is described in docs/config.md\n", filepath.Base(s.root))
	w("# of embargo. Replace each %s value and review each \"check\" before\n", config.Placeholder)
	w("# running embargo check.\n\n")

	w("[embargo]\n")
	w("id      = %s  # check: used in file names\n", id)
	w("at      = %s\n", todo("T0, unquoted with its UTC offset, e.g. 2026-12-01T14:00:00Z"))
	w("window  = \"6h\"  # the advisory is live by T0 + window\n")
	w("handler = %s  # check: the primary handler\n\n", handler)

	w("[source]\n")
	w("repo   = %s  # the clone holding the held branches, relative to this file\n", q(repo))
	if s.public != "" {
		w("public = %s  # check: origin's URL; the public repository pushed to at T0\n", q(s.public))
	} else {
		w("public = %s\n", todo("the public repository, e.g. https://github.com/org/repo.git (this clone has no origin)"))
	}
	w("# token_env = \"EMBARGO_GIT_TOKEN\"  # the variable holding the HTTP push token (its name, never the token)\n")

	for _, l := range s.lines {
		w("\n[[release]]\n")
		for _, n := range l.notes {
			w("# %s\n", n)
		}
		w("line          = %s  # check\n", q(l.line))
		w("branch        = %s\n", q(l.branch))
		w("public_branch = %s  # check: the branch %s grew from\n", q(l.publicBranch), l.branch)
		w("tag           = %s  # check: names the fixed version\n", q(l.tag))
		if len(l.crates) > 0 {
			quoted := make([]string, len(l.crates))
			for i, c := range l.crates {
				quoted[i] = q(c)
			}
			w("crates        = [%s]  # check: left out, every publishable crate\n", strings.Join(quoted, ", "))
		}
	}
	if len(s.lines) == 0 {
		// Nothing guessed: every value a placeholder, no "check" beside it.
		w("\n[[release]]\n")
		w("# no held branch was found (%s, not on origin): one [[release]] per maintained line\n", strings.Join(heldPatterns, ", "))
		w("line          = %s\n", todo("the release line, e.g. 1.13"))
		w("branch        = %s\n", todo("the held branch, e.g. embargo/1.13"))
		w("public_branch = %s\n", todo("the public branch the held branch fast-forwards, e.g. main"))
		w("tag           = %s\n", todo("the tag made at the held tip, e.g. v1.13.1"))
	}

	w("\n# [registry]  # left out: crates.io\n")
	w("# name      = %q\n", config.DefaultRegistryName)
	w("# index     = %q\n", config.DefaultRegistryIndex)
	w("# token_env = %q  # the variable holding the publish token\n", config.DefaultRegistryToken)
	w("# trusted_publishing = true  # or, from CI: crates.io Trusted Publishing, no long-lived token (see docs/config.md)\n")

	w("\n[advisory]\n")
	w("title       = %s\n", todo("a one-line summary, e.g. Use-after-free in async_std::task"))
	if pkg != "" {
		w("package     = %s  # check: the affected crate\n", q(pkg))
	} else {
		w("package     = %s\n", todo("the affected crate"))
	}
	w("severity    = %s\n", todo("none, low, medium, high or critical (or cvss = \"CVSS:3.1/...\" instead)"))
	w("# aliases    = [\"CVE-2026-12345\"]\n")
	w("# categories = [\"memory-corruption\"]\n")
	w("# keywords   = []\n")
	w("# credits    = [\"Reporter Name\"]\n")
	w("# references = []\n")
	w("description = \"advisory.md\"  # the Markdown description, relative to this file: write it\n")

	w(`
# [blog]  # the git-backed site the advisory is posted to
# repo      = "https://github.com/org/blog.git"
# branch    = "master"
# style     = "middleman"  # middleman, hugo, jekyll or zola
# path      = "source/blog/{{.Date}}-{{.Slug}}.html.md"
# url       = "https://example.org/blog/{{.Slug}}/"
# feed      = "source/security.xml"
# token_env = "EMBARGO_BLOG_TOKEN"
# author    = "The project developers"  # as the site's author registry names it; default: the handler
# build     = "bundle exec middleman build"  # the site's own build, run before T0 with the post

# [seal]  # the encrypted bundle a CI runner releases from (embargo seal --push)
# oci          = "ghcr.io/org/embargo-bundles"
# recipients   = ["age1..."]
# identity_env = "EMBARGO_AGE_IDENTITY"

# [[image]]  # container images promoted by digest at T0
# from = "ghcr.io/org/private/app@sha256:..."
# to   = "ghcr.io/org/app:1.0.1"

# [ghsa]  # the draft GitHub security advisory published after the crates
# repo      = "org/repo"
# id        = "GHSA-xxxx-xxxx-xxxx"  # from the draft's URL
# token_env = "EMBARGO_GHSA_TOKEN"   # a token with repository_advisories:write
# credits   = ["reporter-login"]     # GitHub logins
`)
	return b.String()
}
