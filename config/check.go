package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// How a config mistake is found and told: every key located at its line
// in the file, a did-you-mean for an unknown one, placeholders and pasted
// tokens refused.

// validator collects problems with their line numbers.
type validator struct {
	file     string
	lines    map[string]int
	src      []string // the file's lines
	raw      map[string]any
	problems []Problem
	// typed are the keys whose value was of the wrong kind, or a
	// placeholder: the checks of their values are not repeated as "missing".
	typed map[string]bool
	// descriptionMayBeMissing: see LoadAwaitingDescription.
	descriptionMayBeMissing bool
}

// rawTime is the datetime at table.key as the TOML parser read it, with its
// local (offset-less) zone intact; the zero time when it is not a datetime.
func (v *validator) rawTime(table, key string) time.Time {
	tbl, _ := v.raw[table].(map[string]any)
	t, _ := tbl[key].(time.Time)
	return t
}

func (v *validator) add(key, msg, fix string) {
	if v.typed[key] {
		return // its value was of the wrong kind, already reported
	}
	v.problems = append(v.problems, Problem{File: v.file, Line: v.line(key), Key: key, Msg: msg, Fix: fix})
}

// line finds key, or failing that its closest enclosing table.
func (v *validator) line(key string) int {
	for k := key; k != ""; {
		if n, ok := v.lines[k]; ok {
			return n
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

// keyName turns a decoder key (release.crates) into the name used in
// messages; array-of-table keys lose their index in the decoder, and the
// decoder lists them in file order, so the nth (0-based) occurrence of a key
// path is the nth line recorded for it.
func (v *validator) keyName(k toml.Key, nth int) string {
	plain := k.String()
	if _, ok := v.lines[plain]; ok {
		return plain
	}
	var names []string
	for name := range v.lines {
		if stripIndexes(name) == plain {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return plain
	}
	sort.Slice(names, func(i, j int) bool { return v.lines[names[i]] < v.lines[names[j]] })
	return names[min(nth, len(names)-1)]
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

func stripIndexes(s string) string { return indexRE.ReplaceAllString(s, "") }

var knownKeys = map[string][]string{
	"":         {"embargo", "source", "release", "registry", "advisory", "blog", "seal", "image", "ghsa", "announce"},
	"embargo":  {"id", "at", "window", "handler", "distros"},
	"source":   {"repo", "public", "token_env"},
	"release":  {"line", "branch", "public_branch", "tag", "crates"},
	"registry": {"name", "index", "token_env", "trusted_publishing", "id_token_env"},
	"advisory": {"title", "package", "date", "severity", "cvss", "aliases", "categories", "keywords", "unaffected", "credits", "references", "description", "rustsec_id", "functions", "informational", "license"},
	"blog":     {"repo", "branch", "style", "path", "url", "feed", "token_env", "author", "build"},
	"seal":     {"oci", "recipients", "identity_env"},
	"image":    {"from", "to"},
	"ghsa":     {"repo", "id", "api", "token_env", "credits"},
	"announce": {"smtp", "user", "password_env", "from", "to", "notice", "signing_key_env", "passphrase_env", "private", "private_pubkey_file"},
}

// suggest names the closest known key, for typos.
func suggest(k toml.Key) string {
	parent := ""
	if len(k) > 1 {
		parent = k[len(k)-2]
	}
	known, ok := knownKeys[parent]
	if !ok {
		return ""
	}
	last := k[len(k)-1]
	best, bestD := "", 3
	for _, cand := range known {
		if d := editDistance(last, cand); d < bestD {
			best, bestD = cand, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "known keys here: " + strings.Join(known, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// Placeholder starts every value `embargo init` could not guess: the
// config is refused until each is replaced, so that a starter file is
// never released as written.
const Placeholder = "TODO:"

// placeholders reports every string still starting with Placeholder and
// removes its key from raw, as checkTypes does a value of the wrong kind:
// the key has this one problem to fix, not also "missing" or "not a
// date-time". It reports whether it removed any.
func (v *validator) placeholders(raw map[string]any, prefix string) bool {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	removed := false
	for _, k := range keys {
		key := prefix + k
		var values []string
		switch x := raw[k].(type) {
		case map[string]any:
			removed = v.placeholders(x, key+".") || removed
		case []map[string]any:
			for i, t := range x {
				removed = v.placeholders(t, fmt.Sprintf("%s[%d].", key, i+1)) || removed
			}
		case string:
			values = []string{x}
		case []any:
			for _, e := range x {
				if s, ok := e.(string); ok {
					values = append(values, s)
				}
			}
		}
		for _, s := range values {
			if strings.HasPrefix(s, Placeholder) {
				v.add(key, "is still a placeholder: "+strings.TrimSpace(strings.TrimPrefix(s, Placeholder)), "replace it with the real value")
				v.skip(key)
				delete(raw, k)
				removed = true
				break
			}
		}
	}
	return removed
}

// envName checks a *_env key. Its value is never quoted back: when it is
// not a variable name it is most likely the secret itself.
func (v *validator) envName(key, name string) {
	switch {
	case name == "":
	case looksLikeToken(name):
		v.add(key, "looks like a token, not the name of the environment variable holding it (value not shown)",
			"put the token in an environment variable, name that variable here, and treat the token as exposed")
	case !envPattern.MatchString(name):
		v.add(key, "is not an environment variable name (value not shown)", "name the variable that holds the token, never the token itself")
	}
}

// tokenPrefixRE matches the token formats of GitHub, GitLab and crates.io,
// which are also valid variable names.
var tokenPrefixRE = regexp.MustCompile(`^(gh[pousr]_|github_pat_|glpat-|cio[A-Za-z0-9]{32}$)`)

// looksLikeToken: a known token format, or a long mix of upper and lower case
// letters and digits, which variable names are not.
func looksLikeToken(s string) bool {
	if tokenPrefixRE.MatchString(s) {
		return true
	}
	var lower, upper, digit bool
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		}
	}
	return len(s) >= 20 && lower && upper && digit
}

func oneOf(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// The TOML decoder marks local (offset-less) date-times with these zones.
func isLocalTime(t time.Time) bool {
	n := t.Location().String()
	return n == "datetime-local" || n == "date-local" || n == "time-local"
}

func isLocalDate(t time.Time) bool { return t.Location().String() == "date-local" }

// indexKeyLines maps every key of a TOML document to its line, naming array
// tables with a 1-based index (release[2].tag). The decoder does not expose
// positions of valid keys, and messages must name the line.
func indexKeyLines(src string) map[string]int {
	out := map[string]int{}
	counts := map[string]int{}
	table := ""
	inMultiline := ""
	depth := 0
	for i, raw := range strings.Split(src, "\n") {
		n := i + 1
		line := strings.TrimSpace(raw)
		if inMultiline != "" {
			if strings.Contains(line, inMultiline) {
				inMultiline = ""
			}
			continue
		}
		if depth > 0 {
			depth += strings.Count(line, "[") - strings.Count(line, "]")
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[[") {
			name := strings.TrimSpace(strings.Trim(cutComment(line), "[] "))
			counts[name]++
			table = fmt.Sprintf("%s[%d]", name, counts[name])
			out[table] = n
			continue
		}
		if strings.HasPrefix(line, "[") {
			table = strings.TrimSpace(strings.Trim(cutComment(line), "[] "))
			out[table] = n
			continue
		}
		eq := strings.Index(line, "=")
		if eq < 0 {
			continue
		}
		key := strings.Trim(strings.TrimSpace(line[:eq]), `"'`)
		full := key
		if table != "" {
			full = table + "." + key
		}
		if _, seen := out[full]; !seen {
			out[full] = n
		}
		val := strings.TrimSpace(line[eq+1:])
		for _, q := range []string{`"""`, `'''`} {
			if strings.HasPrefix(val, q) && !strings.Contains(val[3:], q) {
				inMultiline = q
			}
		}
		if strings.HasPrefix(val, "[") {
			depth = strings.Count(cutComment(val), "[") - strings.Count(cutComment(val), "]")
		}
	}
	return out
}

func cutComment(s string) string {
	if i := strings.Index(s, "#"); i >= 0 {
		return s[:i]
	}
	return s
}
