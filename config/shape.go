package config

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/async-rs/embargo/semrange"
)

// The values whose shape is defined are checked when the config is read,
// not when a stage first uses them: URLs, git remotes, the advisory's
// aliases, CVSS vector and version ranges, and the description's text.

// webProblem says what keeps s from being an absolute http(s) URL a
// browser or an HTTP client can use, or "".
func webProblem(s string) string {
	reason, secret := webReason(s)
	switch {
	case reason == "":
		return ""
	case secret:
		return reason + " (value not shown)"
	}
	return fmt.Sprintf("%q %s", s, reason)
}

// webReason is webProblem's reason alone; secret is true when the value
// carries credentials, and is then never quoted back.
func webReason(s string) (reason string, secret bool) {
	u, err := url.Parse(s)
	switch {
	case err == nil && u.User != nil:
		return "carries credentials in the URL", true
	case strings.IndexFunc(s, unicode.IsSpace) >= 0:
		return "holds a space: a URL has none (write it as %20)", false
	case err != nil:
		return "is not a URL", false
	case u.Scheme != "http" && u.Scheme != "https":
		return "is not an http(s) URL", false
	case u.Hostname() == "":
		return "has no host", false
	}
	return "", false
}

// gitSchemes are the URL schemes git remotes are reached by (go-git's
// transports).
var gitSchemes = []string{"https", "http", "ssh", "git", "file"}

// scpLikeRE is git's scp-like remote, [user@]host:path.
var scpLikeRE = regexp.MustCompile(`^(?:[^@]+@)?[^:\s]+:[^\\].*$`)

// isSCPLike is git's rule for an scp-like remote: [user@]host:path, with
// no slash before the first colon (./a:b is a local path).
func isSCPLike(r string) bool {
	before, _, _ := strings.Cut(r, ":")
	return !strings.Contains(r, "://") && scpLikeRE.MatchString(r) && !strings.Contains(before, "/")
}

// remoteProblem says what keeps r from being a git remote, or "": a URL
// of a scheme git speaks, an scp-like user@host:path, or a local path
// (rehearsals and tests). A remote with a password is never quoted back.
func remoteProblem(r string) string {
	if strings.Contains(r, "://") {
		u, err := url.Parse(r)
		switch {
		case err == nil && u.User != nil && hasPassword(u.User):
			return "carries a password in the URL (value not shown): a credential belongs in an environment variable, named by token_env"
		case err != nil:
			return fmt.Sprintf("%q is not a URL", r)
		case !slices.Contains(gitSchemes, u.Scheme):
			return fmt.Sprintf("%q: %s:// is not a scheme git reaches a remote by", r, u.Scheme)
		case u.Scheme == "file" && u.Path == "":
			return fmt.Sprintf("%q names no path", r)
		case u.Scheme != "file" && u.Hostname() == "":
			return fmt.Sprintf("%q has no host", r)
		}
		return ""
	}
	if isSCPLike(r) {
		host, _, _ := strings.Cut(r, ":")
		if slices.Contains(gitSchemes, host) {
			return fmt.Sprintf("%q is a URL missing a slash", r)
		}
	}
	if strings.IndexFunc(r, unicode.IsControl) >= 0 {
		return fmt.Sprintf("%q holds a control character", r)
	}
	return ""
}

func hasPassword(u *url.Userinfo) bool {
	_, ok := u.Password()
	return ok
}

// patternData is what blog.url (and blog.path) may use, with the values a
// pattern is checked with: the advisory's own date and id, and a slug of
// the letters, digits and dashes a title turns into.
type patternData struct {
	Slug, Date, ID string
}

// expandPattern renders a blog.url or blog.path pattern as the advisory
// will, to check what it gives.
func (c *Config) expandPattern(pattern string) (string, error) {
	t, err := template.New("").Option("missingkey=error").Parse(pattern)
	if err != nil {
		return "", fmt.Errorf("is not a valid pattern: %w", err)
	}
	date := c.Advisory.Date
	if date.IsZero() {
		date = c.T0()
	}
	var b bytes.Buffer
	if err := t.Execute(&b, patternData{Slug: "use-after-free-in-a-task", Date: date.Format(time.DateOnly), ID: c.Embargo.ID}); err != nil {
		return "", fmt.Errorf("is not a valid pattern: %w", err)
	}
	return b.String(), nil
}

// sparseIndexProblem says what keeps index from being a sparse index URL
// cargo reads, or "".
func sparseIndexProblem(index string) string {
	rest, ok := strings.CutPrefix(index, "sparse+")
	if !ok {
		return fmt.Sprintf("%q is not a sparse index", index)
	}
	if reason, secret := webReason(rest); secret {
		return "carries credentials in the URL (value not shown)"
	} else if reason != "" {
		return fmt.Sprintf("%q is not sparse+ and an http(s) URL: what follows sparse+ %s", index, reason)
	}
	// Cargo refuses a sparse index URL without its closing slash, except
	// crates.io's own, which it knows by name.
	if !strings.HasSuffix(index, "/") && index+"/" != DefaultRegistryIndex {
		return fmt.Sprintf("%q does not end in a slash, which cargo requires of a sparse index", index)
	}
	return ""
}

var (
	// cvePattern is CVE's own schema's: four or more digits of sequence.
	cvePattern = regexp.MustCompile(`^CVE-(\d{4})-\d{4,19}$`)
	// ghsaPattern is a GHSA id in the alphabet GitHub assigns them from.
	ghsaPattern = regexp.MustCompile(`^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$`)
	// otherIDPattern is the part after the prefix of another database's id.
	otherIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)
)

// OtherAliasPrefixes are the databases, besides CVE, GHSA and RustSec,
// whose ids an advisory may name as aliases: the home databases OSV
// registers, and the Talos and TROVE ids RustSec's advisories carry.
var OtherAliasPrefixes = []string{"ASB-A", "PUB-A", "ALPINE", "ALSA", "ALBA", "ALEA", "AZL", "BELL", "BIT", "CGA", "CLEANSTART",
	"CLSA", "CURL", "DEBIAN", "DHI", "DRUPAL", "DSA", "DLA", "ELA", "DTSA", "ECHO", "EEF", "FreeBSD", "GO", "GSD", "HSEC",
	"JLSEC", "KUBE", "LBSEC", "LSN", "MAL", "MINI", "MGASA", "OESA", "OSEC", "OSV", "openSUSE-SU", "PHSA", "PSF", "PYSEC",
	"RHBA", "RHEA", "RHSA", "RLSA", "RXSA", "RSEC", "ROOT", "SUSE-SU", "SUSE-RU", "SUSE-FU", "SUSE-OU", "UBUNTU", "USN", "V8",
	"TALOS", "TROVE"}

// aliasForms names the forms advisory.aliases takes.
const aliasForms = "aliases are CVE-YYYY-NNNN (four or more digits), GHSA-xxxx-xxxx-xxxx (of GitHub's letters 23456789cfghjmpqrvwx), " +
	"RUSTSEC-YYYY-NNNN, or the id of another database OSV knows (PYSEC-…, GO-…, OSV-…, MAL-…)"

// aliasProblem says what keeps a from being a vulnerability id an
// advisory names, and how it is written; "" when nothing does.
func aliasProblem(a string) (problem, fix string) {
	scheme, _, _ := strings.Cut(a, "-")
	switch strings.ToUpper(scheme) {
	case "CVE":
		fix = "CVE-YYYY-NNNN, in capitals, four or more digits after the year, e.g. CVE-2026-12345"
		m := cvePattern.FindStringSubmatch(a)
		if m == nil {
			return fmt.Sprintf("%q is not a CVE id", a), fix
		}
		if year, _ := strconv.Atoi(m[1]); year < 1999 {
			return fmt.Sprintf("%q is of %d, before the first CVE ids (1999)", a, year), fix
		}
	case "GHSA":
		if !ghsaPattern.MatchString(a) {
			return fmt.Sprintf("%q is not a GHSA id", a), "GHSA- and three groups of four of GitHub's letters 23456789cfghjmpqrvwx, as the advisory's URL has it, e.g. GHSA-4x7m-9pqr-c2vw"
		}
	case "RUSTSEC":
		if !rustSecIDPattern.MatchString(a) || a == RustSecPlaceholderID {
			return fmt.Sprintf("%q is not a RustSec id", a), "RUSTSEC-YYYY-NNNN, as RustSec assigned it; the advisory's own RustSec id goes in advisory.rustsec_id"
		}
	default:
		for _, p := range OtherAliasPrefixes {
			if rest, ok := strings.CutPrefix(a, p+"-"); ok && otherIDPattern.MatchString(rest) {
				return "", ""
			}
		}
		return fmt.Sprintf("%q is not an id of a vulnerability database embargo knows", a), aliasForms
	}
	return "", ""
}

// textProblem says what keeps b from being the Markdown text of an
// advisory, or "": it is written into the post, the RustSec file, OSV
// and the mail, which all want UTF-8 text.
func textProblem(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		kind := "a binary file"
		if bytes.HasPrefix(b, []byte("\x7fELF")) {
			kind = "an ELF binary"
		}
		return fmt.Sprintf("is %s, not Markdown text (a NUL byte at offset %d)", kind, i)
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return fmt.Sprintf("is not UTF-8 text (the byte 0x%02x on line %d is not UTF-8)", b[i], bytes.Count(b[:i], []byte("\n"))+1)
		}
		i += n
	}
	return ""
}

// checkUnaffected reads every range of advisory.unaffected with the parser
// the outputs use (semrange), so that a range the config accepts is the
// range they publish.
func checkUnaffected(v *validator, ranges []string) {
	for i, s := range ranges {
		if _, err := semrange.Parse(s); err != nil {
			v.add("advisory.unaffected", fmt.Sprintf("entry %d: %v", i+1, err), `write ranges as RustSec does: comparators (<, <=, >, >=, =, ^, ~) and versions, joined by commas, e.g. "< 1.5.0" or ">= 1.0.0, < 1.2.0"`)
		}
	}
}
