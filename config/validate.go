package config

import (
	"errors"
	"fmt"
	"net/mail"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// validate checks every section in the order of the file's reference
// (docs/config.md), filling in the defaults; the problems are then put in
// file order.
func (c *Config) validate(v *validator, md toml.MetaData) {
	c.validateEmbargo(v, md)
	c.validateSource(v)
	c.validateReleases(v)
	c.validateRegistry(v, md)
	c.validateAdvisory(v, md)
	if c.Blog != nil {
		c.validateBlog(v, c.Blog)
	}
	if c.Seal != nil {
		validateSeal(v, c.Seal)
	}
	c.validateImages(v)
	if g := c.GHSA; g != nil {
		c.validateGHSA(v, g)
	}
	if a := c.Announce; a != nil {
		validateAnnounce(v, a)
		c.validatePrivatePubkey(v, a)
	}
	c.validatePublication(v, md)
	// File order reads best; problems of absent keys (line 0) come last.
	sort.SliceStable(v.problems, func(i, j int) bool {
		li, lj := v.problems[i].Line, v.problems[j].Line
		return li > 0 && (lj == 0 || li < lj)
	})
}

// validateEmbargo checks [embargo]: the identifier, T0 with its offset, the
// window (default 6h) and the handler.
func (c *Config) validateEmbargo(v *validator, md toml.MetaData) {
	e := c.Embargo
	switch {
	case e.ID == "":
		v.add("embargo.id", "missing", `set the advisory identifier, e.g. id = "ASYNC-STD-SA-2026-001"`)
	case !idPattern.MatchString(e.ID):
		v.add("embargo.id", fmt.Sprintf("%q is not usable in file names", e.ID), "use letters, digits, '.', '_' and '-'")
	}
	switch {
	case !md.IsDefined("embargo", "at"):
		v.add("embargo.at", "missing: the embargo instant T0", "e.g. at = 2026-12-01T14:00:00Z")
	case isLocalTime(v.rawTime("embargo", "at")):
		v.add("embargo.at", "has no UTC offset; a local time is ambiguous across the people and machines of an embargo",
			fmt.Sprintf("write it with an offset, e.g. at = %sZ", v.rawTime("embargo", "at").Format("2006-01-02T15:04:05")))
	}
	c.Window = DefaultWindow
	if e.Window != "" {
		d, err := time.ParseDuration(e.Window)
		switch {
		case err != nil:
			v.add("embargo.window", fmt.Sprintf("%q is not a duration", e.Window), `e.g. window = "6h"`)
		case d <= 0:
			v.add("embargo.window", "must be positive", `e.g. window = "6h"`)
		default:
			c.Window = d
		}
	}
	if e.Handler == "" {
		v.add("embargo.handler", "missing: the primary handler", `e.g. handler = "Jane Doe <jane@example.org>"`)
	} else if _, err := mail.ParseAddress(e.Handler); err != nil {
		v.add("embargo.handler", fmt.Sprintf("%q is not \"Name <email>\"", e.Handler), `e.g. handler = "Jane Doe <jane@example.org>"`)
	}
}

// validateSource checks [source]; repo defaults to the config's folder.
func (c *Config) validateSource(v *validator) {
	if c.Source.Repo == "" {
		c.Source.Repo = "."
	}
	if c.Source.Public == "" {
		v.add("source.public", "missing: the public repository the fix is pushed to", `e.g. public = "https://github.com/org/repo.git"`)
	} else if p := remoteProblem(c.Source.Public); p != "" {
		v.add("source.public", p, remoteFix("public", "https://github.com/org/repo.git"))
	}
	v.envName("source.token_env", c.Source.TokenEnv)
}

// validateReleases checks every [[release]] and that no two lines share a
// line, a public branch or a tag.
func (c *Config) validateReleases(v *validator) {
	if len(c.Releases) == 0 {
		v.add("release", "no [[release]] line: nothing to release", "add one [[release]] table per maintained release line")
	}
	lines, tags, branches := map[string]int{}, map[string]int{}, map[string]int{}
	for i, r := range c.Releases {
		k := func(key string) string { return fmt.Sprintf("release[%d].%s", i+1, key) }
		if r.Line == "" {
			v.add(k("line"), "missing", `e.g. line = "1.13"`)
		} else if j, dup := lines[r.Line]; dup {
			v.add(k("line"), fmt.Sprintf("line %q is already release[%d]", r.Line, j+1), "each maintained line appears once")
		} else {
			lines[r.Line] = i
		}
		if r.Branch == "" {
			v.add(k("branch"), "missing: the held patched branch", fmt.Sprintf(`e.g. branch = "embargo/%s"`, r.Line))
		} else if !refNamePattern.MatchString(r.Branch) {
			v.add(k("branch"), fmt.Sprintf("%q is not a branch name", r.Branch), "")
		}
		if r.PublicBranch == "" {
			v.add(k("public_branch"), "missing: the public branch the fix fast-forwards", `e.g. public_branch = "main"`)
		} else if !refNamePattern.MatchString(r.PublicBranch) {
			v.add(k("public_branch"), fmt.Sprintf("%q is not a branch name", r.PublicBranch), "")
		} else if j, dup := branches[r.PublicBranch]; dup {
			v.add(k("public_branch"), fmt.Sprintf("%q is also the public branch of release[%d]", r.PublicBranch, j+1), "each line pushes to its own public branch")
		} else {
			branches[r.PublicBranch] = i
		}
		switch {
		case r.Tag == "":
			v.add(k("tag"), "missing", `e.g. tag = "v1.13.1"`)
		case !refNamePattern.MatchString(r.Tag):
			v.add(k("tag"), fmt.Sprintf("%q is not a tag name", r.Tag), "")
		case TagVersion(r.Tag) == "":
			v.add(k("tag"), fmt.Sprintf("%q carries no version", r.Tag), `name it after the fixed version, e.g. tag = "v1.13.1"`)
		default:
			if j, dup := tags[r.Tag]; dup {
				v.add(k("tag"), fmt.Sprintf("tag %q is also release[%d]'s", r.Tag, j+1), "each line gets its own tag")
			} else {
				tags[r.Tag] = i
			}
		}
		seen := map[string]bool{}
		for _, cr := range r.Crates {
			if seen[cr] {
				v.add(k("crates"), fmt.Sprintf("crate %q listed twice", cr), "")
			}
			seen[cr] = true
		}
	}
}

// validateRegistry checks [registry], with the defaults of crates.io.
func (c *Config) validateRegistry(v *validator, md toml.MetaData) {
	if c.Registry.Name == "" {
		c.Registry.Name = DefaultRegistryName
	}
	if c.Registry.Index == "" {
		c.Registry.Index = DefaultRegistryIndex
	} else if p := sparseIndexProblem(c.Registry.Index); p != "" {
		v.add("registry.index", p, `a sparse index is sparse+, an http(s) URL and a closing slash, e.g. index = "sparse+https://index.crates.io/"`)
	}
	c.validateRegistryAuth(v, md)
}

// validateAdvisory checks [advisory] and reads its description.
func (c *Config) validateAdvisory(v *validator, md toml.MetaData) {
	a := c.Advisory
	if a.Title == "" {
		v.add("advisory.title", "missing", "")
	}
	if a.Package == "" {
		v.add("advisory.package", "missing: the affected crate", `e.g. package = "async-std"`)
	}
	if md.IsDefined("advisory", "date") && !isLocalDate(v.rawTime("advisory", "date")) {
		v.add("advisory.date", "must be a plain date", "e.g. date = 2026-11-20")
	}
	if a.Severity != "" && a.CVSS != "" {
		v.add("advisory.cvss", "give either severity or cvss, not both", "")
	}
	if a.Severity != "" && !oneOf(a.Severity, "none", "low", "medium", "high", "critical") {
		v.add("advisory.severity", fmt.Sprintf("%q is not a severity", a.Severity), "one of none, low, medium, high, critical")
	}
	if a.CVSS != "" {
		for _, p := range checkCVSS(a.CVSS) {
			v.add("advisory.cvss", p.Msg, p.Fix)
		}
	}
	seen := map[string]bool{}
	for i, alias := range a.Aliases {
		if p, fix := aliasProblem(alias); p != "" {
			v.add("advisory.aliases", fmt.Sprintf("entry %d: %s", i+1, p), fix)
		} else if seen[alias] {
			v.add("advisory.aliases", fmt.Sprintf("entry %d: %s is listed twice", i+1, alias), "")
		}
		seen[alias] = true
	}
	for i, ref := range a.References {
		if p := webProblem(ref); p != "" {
			v.add("advisory.references", fmt.Sprintf("entry %d: %s", i+1, p), `references are http(s) URLs, e.g. references = ["https://github.com/org/repo/pull/123"]`)
		}
	}
	checkUnaffected(v, a.Unaffected)
	c.readDescription(v)
}

// readDescription reads the Markdown file advisory.description names into
// Description; a runner releasing from a bundle may not have it yet.
func (c *Config) readDescription(v *validator) {
	a := c.Advisory
	if a.Description == "" {
		v.add("advisory.description", "missing: the Markdown file describing the vulnerability", `e.g. description = "advisory.md"`)
	} else {
		b, err := os.ReadFile(c.Resolve(a.Description))
		if err != nil && v.descriptionMayBeMissing && errors.Is(err, os.ErrNotExist) {
			// It comes with the bundle.
		} else if err != nil {
			v.add("advisory.description", fmt.Sprintf("cannot read %s: %s", a.Description, unwrapPathError(err)), "the path is relative to the config file")
		} else if strings.TrimSpace(string(b)) == "" {
			v.add("advisory.description", a.Description+" is empty", "")
		} else if p := textProblem(b); p != "" {
			v.add("advisory.description", a.Description+" "+p, "name the Markdown file describing the vulnerability, saved as UTF-8")
		} else {
			c.Description = string(b)
		}
	}
}

// validateBlog checks [blog].
func (c *Config) validateBlog(v *validator, b *BlogSection) {
	if b.Repo == "" {
		v.add("blog.repo", "missing: the blog's git repository", "")
	} else if p := remoteProblem(b.Repo); p != "" {
		v.add("blog.repo", p, remoteFix("repo", "https://github.com/async-rs/async.rs.git"))
	}
	if b.Branch == "" {
		v.add("blog.branch", "missing", `e.g. branch = "master"`)
	}
	if !oneOf(b.Style, BlogStyles...) {
		v.add("blog.style", fmt.Sprintf("%q is not a supported style", b.Style), "one of "+strings.Join(BlogStyles, ", "))
	}
	if b.Path == "" {
		v.add("blog.path", "missing: where the post goes in the blog repository", `e.g. path = "source/blog/{{.Date}}-{{.Slug}}.html.md"`)
	}
	if b.URL == "" {
		v.add("blog.url", "missing: where the post is served", `e.g. url = "https://async.rs/blog/{{.Slug}}/"`)
	} else if u, err := c.expandPattern(b.URL); err != nil {
		v.add("blog.url", err.Error(), "it may use {{.Slug}}, {{.Date}} and {{.ID}}, e.g. url = \"https://async.rs/blog/{{.Slug}}/\"")
	} else if reason, secret := webReason(u); reason != "" {
		msg := fmt.Sprintf("renders to %q, which %s", u, reason)
		if secret {
			msg = reason + " (value not shown)"
		}
		v.add("blog.url", msg, `the post's address on the site, e.g. url = "https://async.rs/blog/{{.Slug}}/"`)
	}
	v.envName("blog.token_env", b.TokenEnv)
}

// validateSeal checks [seal] with the libraries the bundle is made with.
func validateSeal(v *validator, s *SealSection) {
	if s.OCI == "" {
		v.add("seal.oci", "missing: the private OCI repository for the sealed bundle", "")
	}
	if len(s.Recipients) == 0 {
		v.add("seal.recipients", "missing: who can open the bundle", `e.g. recipients = ["age1..."]`)
	}
	for i, r := range s.Recipients {
		if _, err := ParseRecipient(r); err != nil {
			v.add("seal.recipients", fmt.Sprintf("entry %d %v", i+1, err), "")
		}
	}
	if s.OCI != "" {
		if err := CheckRepository(s.OCI); err != nil {
			v.add("seal.oci", err.Error(), "")
		}
	}
	if s.IdentityEnv == "" {
		v.add("seal.identity_env", "missing", `e.g. identity_env = "EMBARGO_AGE_IDENTITY"`)
	}
	v.envName("seal.identity_env", s.IdentityEnv)
}

// validateImages checks every [[image]]: promoted by digest.
func (c *Config) validateImages(v *validator) {
	for i, im := range c.Images {
		k := func(key string) string { return fmt.Sprintf("image[%d].%s", i+1, key) }
		if !strings.Contains(im.From, "@sha256:") {
			v.add(k("from"), fmt.Sprintf("%q is not pinned by digest", im.From), "images are promoted by digest: registry/repo@sha256:...")
		}
		if im.To == "" {
			v.add(k("to"), "missing", "")
		}
	}
}

// remoteFix is the fix of a malformed remote.
func remoteFix(key, example string) string {
	return fmt.Sprintf(`a git remote: an https://, http://, ssh://, git:// or file:// URL, an scp-like git@host:org/repo.git, or a local path; e.g. %s = %q`, key, example)
}
