package pipeline

import (
	"cmp"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is embargo.toml, decoded and validated. Field names follow the file.
type Config struct {
	Embargo  EmbargoSection  `toml:"embargo"`
	Source   SourceSection   `toml:"source"`
	Releases []Release       `toml:"release"`
	Registry RegistrySection `toml:"registry"`
	Advisory AdvisorySection `toml:"advisory"`
	Blog     *BlogSection    `toml:"blog"`
	Seal     *SealSection    `toml:"seal"`
	Images   []Image         `toml:"image"`
	GHSA     *GHSASection    `toml:"ghsa"`

	// Path is the config file as given; Dir the folder relative paths start from.
	Path string `toml:"-"`
	Dir  string `toml:"-"`
	// Window is embargo.window parsed; Description the advisory text.
	Window      time.Duration `toml:"-"`
	Description string        `toml:"-"`
}

type EmbargoSection struct {
	ID      string    `toml:"id"`
	At      time.Time `toml:"at"`
	Window  string    `toml:"window"`
	Handler string    `toml:"handler"`
	// Distros is when linux-distros was notified, or zero.
	Distros time.Time `toml:"distros"`
}

type SourceSection struct {
	Repo     string `toml:"repo"`
	Public   string `toml:"public"`
	TokenEnv string `toml:"token_env"`
}

// Release is one maintained release line.
type Release struct {
	Line         string   `toml:"line"`
	Branch       string   `toml:"branch"`
	PublicBranch string   `toml:"public_branch"`
	Tag          string   `toml:"tag"`
	Crates       []string `toml:"crates"`
}

type RegistrySection struct {
	Name     string `toml:"name"`
	Index    string `toml:"index"`
	TokenEnv string `toml:"token_env"`
	// TrustedPublishing replaces TokenEnv: the CI job's OIDC token is
	// exchanged for a short-lived publish token (crates.io Trusted
	// Publishing). IDTokenEnv names the variable holding that OIDC token
	// where the CI provides it as one (GitLab's id_tokens); empty means
	// GitHub Actions' request endpoint.
	TrustedPublishing bool   `toml:"trusted_publishing"`
	IDTokenEnv        string `toml:"id_token_env"`
}

type AdvisorySection struct {
	Title       string    `toml:"title"`
	Package     string    `toml:"package"`
	Date        time.Time `toml:"date"`
	Severity    string    `toml:"severity"`
	CVSS        string    `toml:"cvss"`
	Aliases     []string  `toml:"aliases"`
	Categories  []string  `toml:"categories"`
	Keywords    []string  `toml:"keywords"`
	Unaffected  []string  `toml:"unaffected"`
	Credits     []string  `toml:"credits"`
	References  []string  `toml:"references"`
	Description string    `toml:"description"`
	RustSecID   string    `toml:"rustsec_id"`
	// Functions are the affected functions, as RustSec paths.
	Functions     []string `toml:"functions"`
	Informational string   `toml:"informational"`
	License       string   `toml:"license"`
}

type BlogSection struct {
	Repo     string `toml:"repo"`
	Branch   string `toml:"branch"`
	Style    string `toml:"style"`
	Path     string `toml:"path"`
	URL      string `toml:"url"`
	Feed     string `toml:"feed"`
	TokenEnv string `toml:"token_env"`
	// Author is the post's author; empty: the handler's name.
	Author string `toml:"author"`
	// Build is the site's own build command, run on a scratch clone
	// before T0; empty: the site build is not checked.
	Build string `toml:"build"`
}

type SealSection struct {
	OCI         string   `toml:"oci"`
	Recipients  []string `toml:"recipients"`
	IdentityEnv string   `toml:"identity_env"`
}

type Image struct {
	From string `toml:"from"`
	To   string `toml:"to"`
}

// GHSASection is the draft GitHub repository security advisory published
// at T0.
type GHSASection struct {
	Repo     string   `toml:"repo"`
	ID       string   `toml:"id"`
	API      string   `toml:"api"`
	TokenEnv string   `toml:"token_env"`
	Credits  []string `toml:"credits"`
}

// DefaultGHSAAPI is GitHub's REST API; GitHub Enterprise Server serves it
// at https://HOST/api/v3.
const DefaultGHSAAPI = "https://api.github.com"

// Defaults for keys a config may leave out.
const (
	DefaultWindow        = 6 * time.Hour
	DefaultRegistryName  = "crates-io"
	DefaultRegistryIndex = "sparse+https://index.crates.io/"
	DefaultRegistryToken = "CARGO_REGISTRY_TOKEN"
)

// BlogStyles are the static-site generators whose front matter embargo writes.
var BlogStyles = []string{"middleman", "hugo", "jekyll", "zola"}

// Problem is one thing wrong with the config, located in the file.
type Problem struct {
	File string
	Line int    // 0 when the key is absent from the file
	Key  string // dotted, with the release index: release[2].tag
	Msg  string
	Fix  string
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	s := fmt.Sprintf("%s: %s: %s", loc, p.Key, p.Msg)
	if p.Fix != "" {
		s += " (" + p.Fix + ")"
	}
	return s
}

// ConfigError lists every problem found in a config; the CLI maps it to exit 2.
type ConfigError struct {
	Problems []Problem
}

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return "invalid config: " + lines[0]
	}
	return fmt.Sprintf("invalid config, %d problems:\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// IsConfigError reports whether err is (or wraps) a ConfigError.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}

var (
	idPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	envPattern     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	refNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`)
)

// LoadConfig reads, decodes and validates path. Every problem is reported at
// once in a *ConfigError; nothing outside the file and the description it
// names is read.
func LoadConfig(path string) (*Config, error) { return loadConfig(path, false) }

// LoadConfigAwaitingDescription is LoadConfig for a runner releasing from a
// sealed bundle, which carries the description: a description file that
// does not exist yet is not a problem (Description is then empty).
func LoadConfigAwaitingDescription(path string) (*Config, error) { return loadConfig(path, true) }

func loadConfig(path string, descriptionMayBeMissing bool) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{Problems: []Problem{{File: path, Key: "(file)", Msg: unwrapPathError(err)}}}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	cfg := &Config{Path: path, Dir: filepath.Dir(abs)}
	lines := indexKeyLines(string(src))
	v := &validator{file: path, lines: lines, src: strings.Split(string(src), "\n"), descriptionMayBeMissing: descriptionMayBeMissing}

	// The untyped decode is the parser alone: a syntax error stops there.
	// It also keeps what the typed one loses: time.Time decodes through
	// its TextUnmarshaler, which forgets whether a datetime had an offset.
	if _, err := toml.Decode(string(src), &v.raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			v.problems = append(v.problems, Problem{File: path, Line: pe.Position.Line, Key: cmp.Or(pe.LastKey, "(syntax)"), Msg: pe.Message})
		} else {
			v.problems = append(v.problems, Problem{File: path, Key: "(syntax)", Msg: err.Error()})
		}
		return nil, &ConfigError{Problems: v.problems}
	}
	// Values of the wrong kind are reported and left out, so that the
	// typed decode reads the rest and every other mistake is found too.
	text := string(src)
	removed := v.placeholders(v.raw, "")
	if v.checkTypes(v.raw) || removed {
		var b strings.Builder
		if err := toml.NewEncoder(&b).Encode(v.raw); err != nil {
			return nil, &ConfigError{Problems: v.problems}
		}
		text = b.String()
	}
	md, err := toml.Decode(text, cfg)
	if err != nil {
		// Not expected once the kinds are checked; still located.
		var pe toml.ParseError
		key := "(file)"
		if errors.As(err, &pe) && pe.LastKey != "" {
			key = pe.LastKey
		}
		v.add(key, err.Error(), "")
		return nil, &ConfigError{Problems: v.problems}
	}
	reported := map[string]bool{}
	occurrence := map[string]int{}
	for _, k := range md.Undecoded() {
		if len(k) > 1 && reported[k[:len(k)-1].String()] {
			reported[k.String()] = true
			continue // inside an unknown table, already reported
		}
		reported[k.String()] = true
		name := v.keyName(k, occurrence[k.String()])
		occurrence[k.String()]++
		v.add(name, "unknown key", suggest(k))
	}
	cfg.validate(v, md)
	if len(v.problems) > 0 {
		return nil, &ConfigError{Problems: v.problems}
	}
	return cfg, nil
}

func unwrapPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

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
	// descriptionMayBeMissing: see LoadConfigAwaitingDescription.
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
	"":         {"embargo", "source", "release", "registry", "advisory", "blog", "seal", "image", "ghsa"},
	"embargo":  {"id", "at", "window", "handler", "distros"},
	"source":   {"repo", "public", "token_env"},
	"release":  {"line", "branch", "public_branch", "tag", "crates"},
	"registry": {"name", "index", "token_env", "trusted_publishing", "id_token_env"},
	"advisory": {"title", "package", "date", "severity", "cvss", "aliases", "categories", "keywords", "unaffected", "credits", "references", "description", "rustsec_id", "functions", "informational", "license"},
	"blog":     {"repo", "branch", "style", "path", "url", "feed", "token_env", "author", "build"},
	"seal":     {"oci", "recipients", "identity_env"},
	"image":    {"from", "to"},
	"ghsa":     {"repo", "id", "api", "token_env", "credits"},
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

func (c *Config) validate(v *validator, md toml.MetaData) {
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

	if c.Source.Repo == "" {
		c.Source.Repo = "."
	}
	if c.Source.Public == "" {
		v.add("source.public", "missing: the public repository the fix is pushed to", `e.g. public = "https://github.com/org/repo.git"`)
	}
	v.envName("source.token_env", c.Source.TokenEnv)

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

	if c.Registry.Name == "" {
		c.Registry.Name = DefaultRegistryName
	}
	if c.Registry.Index == "" {
		c.Registry.Index = DefaultRegistryIndex
	} else if !strings.HasPrefix(c.Registry.Index, "sparse+") {
		v.add("registry.index", fmt.Sprintf("%q is not a sparse index", c.Registry.Index), `prefix it with "sparse+", e.g. "sparse+https://index.crates.io/"`)
	}
	c.validateRegistryAuth(v, md)

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
	if a.CVSS != "" && !strings.HasPrefix(a.CVSS, "CVSS:3.") && !strings.HasPrefix(a.CVSS, "CVSS:4.") {
		v.add("advisory.cvss", fmt.Sprintf("%q is not a CVSS vector", a.CVSS), `e.g. cvss = "CVSS:3.1/AV:N/AC:L/..."`)
	}
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
		} else {
			c.Description = string(b)
		}
	}

	if b := c.Blog; b != nil {
		if b.Repo == "" {
			v.add("blog.repo", "missing: the blog's git repository", "")
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
		}
		v.envName("blog.token_env", b.TokenEnv)
	}
	if s := c.Seal; s != nil {
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
	for i, im := range c.Images {
		k := func(key string) string { return fmt.Sprintf("image[%d].%s", i+1, key) }
		if !strings.Contains(im.From, "@sha256:") {
			v.add(k("from"), fmt.Sprintf("%q is not pinned by digest", im.From), "images are promoted by digest: registry/repo@sha256:...")
		}
		if im.To == "" {
			v.add(k("to"), "missing", "")
		}
	}
	if g := c.GHSA; g != nil {
		c.validateGHSA(v, g)
	}
	c.validatePublication(v, md)
	// File order reads best; problems of absent keys (line 0) come last.
	sort.SliceStable(v.problems, func(i, j int) bool {
		li, lj := v.problems[i].Line, v.problems[j].Line
		return li > 0 && (lj == 0 || li < lj)
	})
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

// Resolve makes a path from the config relative to the config's folder.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.Contains(p, "://") {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// ResolveRemote turns a remote that is a local path into an absolute one;
// URLs pass unchanged.
func (c *Config) ResolveRemote(r string) string {
	if strings.Contains(r, "://") || strings.HasPrefix(r, "git@") {
		return r
	}
	return c.Resolve(r)
}

// T0 is the embargo instant, in UTC.
func (c *Config) T0() time.Time { return c.Embargo.At.UTC() }

// Deadline is when the advisory must be live.
func (c *Config) Deadline() time.Time { return c.T0().Add(c.Window) }

var tagVersionRE = regexp.MustCompile(`(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$`)

// TagVersion is the semver a tag names ("v1.13.1" → "1.13.1"), or "".
func TagVersion(tag string) string {
	m := tagVersionRE.FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return m[1]
}

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
