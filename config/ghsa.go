package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

var (
	// ghsaRepoPattern is owner/name as GitHub spells them.
	ghsaRepoPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)
	// loginPattern is a GitHub login: letters, digits and single inner
	// dashes, at most 39 characters.
	loginPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}$`)
)

// GHSACreditTypes are the credit types GitHub accepts on a repository
// security advisory.
var GHSACreditTypes = []string{"analyst", "finder", "reporter", "coordinator", "remediation_developer",
	"remediation_reviewer", "remediation_verifier", "tool", "sponsor", "other"}

// DefaultGHSACreditType is the type of a credit written as a login alone.
const DefaultGHSACreditType = "finder"

// GHSACredit is one entry of ghsa.credits: a GitHub login and its type.
type GHSACredit struct{ Login, Type string }

// ParseGHSACredit reads "login" or "login:type".
func ParseGHSACredit(s string) (GHSACredit, error) {
	login, typ, hasType := strings.Cut(s, ":")
	if !hasType {
		typ = DefaultGHSACreditType
	}
	if !loginPattern.MatchString(login) {
		return GHSACredit{}, fmt.Errorf("%q is not a GitHub login", login)
	}
	if !oneOf(typ, GHSACreditTypes...) {
		return GHSACredit{}, fmt.Errorf("%q is not a GitHub credit type (one of %s)", typ, strings.Join(GHSACreditTypes, ", "))
	}
	return GHSACredit{Login: login, Type: typ}, nil
}

// GHSACredits are ghsa.credits, parsed; entries that do not parse (the
// config's validation reports them) are left out.
func (g *GHSASection) GHSACredits() []GHSACredit {
	var out []GHSACredit
	for _, s := range g.Credits {
		if c, err := ParseGHSACredit(s); err == nil {
			out = append(out, c)
		}
	}
	return out
}

func (c *Config) validateGHSA(v *validator, g *GHSASection) {
	switch {
	case g.Repo == "":
		v.add("ghsa.repo", "missing: the GitHub repository that holds the draft advisory", `e.g. repo = "async-rs/async-std"`)
	case !ghsaRepoPattern.MatchString(g.Repo):
		v.add("ghsa.repo", fmt.Sprintf("%q is not owner/name", g.Repo), `e.g. repo = "async-rs/async-std"`)
	}
	switch {
	case g.ID == "":
		v.add("ghsa.id", "missing: the draft advisory's GHSA identifier", `e.g. id = "GHSA-4x7m-9pqr-c2vw", from the draft's URL`)
	case !ghsaPattern.MatchString(g.ID):
		v.add("ghsa.id", fmt.Sprintf("%q is not a GHSA identifier", g.ID), `e.g. id = "GHSA-4x7m-9pqr-c2vw", from the draft's URL`)
	}
	if g.API == "" {
		g.API = DefaultGHSAAPI
	} else if u, err := url.Parse(g.API); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		// The value is not quoted back: a URL may carry credentials.
		v.add("ghsa.api", "is not an http(s) URL without credentials", `e.g. api = "https://api.github.com", or "https://HOST/api/v3" for GitHub Enterprise Server`)
	} else {
		g.API = strings.TrimSuffix(g.API, "/")
	}
	if g.TokenEnv == "" {
		v.add("ghsa.token_env", "missing: GitHub wants a token to publish an advisory", `e.g. token_env = "EMBARGO_GHSA_TOKEN" (a token with repository_advisories:write)`)
	}
	v.envName("ghsa.token_env", g.TokenEnv)
	seen := map[string]bool{}
	for i, s := range g.Credits {
		cr, err := ParseGHSACredit(s)
		switch {
		case err != nil:
			v.add("ghsa.credits", fmt.Sprintf("entry %d: %v", i+1, err), `GitHub credits logins only, e.g. credits = ["octocat"] or ["octocat:reporter"]`)
		case seen[strings.ToLower(cr.Login)]:
			v.add("ghsa.credits", fmt.Sprintf("entry %d: %s is listed twice", i+1, cr.Login), "")
		default:
			seen[strings.ToLower(cr.Login)] = true
		}
	}
	// The GHSA joins the advisory's aliases; another one there is a
	// mistake in one of the two.
	for _, a := range c.Advisory.Aliases {
		if strings.HasPrefix(a, "GHSA-") && g.ID != "" && !strings.EqualFold(a, g.ID) {
			v.add("advisory.aliases", fmt.Sprintf("names %s, but ghsa.id is %s", a, g.ID), "one vulnerability has one GHSA: correct ghsa.id or the alias")
		}
	}
}
