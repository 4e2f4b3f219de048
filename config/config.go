// Package config reads embargo.toml: it decodes the file, validates every
// key, and reports each problem at once with the file, line and key it is
// at (exit 2 on the command line). What it returns is the release as the
// file says it; where the release writes (a rehearsal's sandbox or the
// real targets) is decided above it.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is embargo.toml, decoded and validated. Field names follow the file.
type Config struct {
	Embargo  EmbargoSection   `toml:"embargo"`
	Source   SourceSection    `toml:"source"`
	Releases []Release        `toml:"release"`
	Registry RegistrySection  `toml:"registry"`
	Advisory AdvisorySection  `toml:"advisory"`
	Blog     *BlogSection     `toml:"blog"`
	Seal     *SealSection     `toml:"seal"`
	Images   []Image          `toml:"image"`
	GHSA     *GHSASection     `toml:"ghsa"`
	Announce *AnnounceSection `toml:"announce"`

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

// AnnounceSection is the mail of the release: the signed announcement and
// the notice at T0, and the recipients of the private pre-notice that
// `embargo notify` sends before it.
type AnnounceSection struct {
	SMTP          string   `toml:"smtp"`
	User          string   `toml:"user"`
	PasswordEnv   string   `toml:"password_env"`
	From          string   `toml:"from"`
	To            []string `toml:"to"`
	Notice        []string `toml:"notice"`
	SigningKeyEnv string   `toml:"signing_key_env"`
	PassphraseEnv string   `toml:"passphrase_env"`
	Private       []string `toml:"private"`
	// PrivatePubkeyFile is the private list's armored OpenPGP public key,
	// relative to the config: `embargo notify` encrypts the pre-notice
	// to it. Optional.
	PrivatePubkeyFile string `toml:"private_pubkey_file"`
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

// Error lists every problem found in a config; the CLI maps it to exit 2.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return "invalid config: " + lines[0]
	}
	return fmt.Sprintf("invalid config, %d problems:\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// IsError reports whether err is (or wraps) an *Error.
func IsError(err error) bool {
	var ce *Error
	return errors.As(err, &ce)
}

var (
	idPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	envPattern     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	refNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`)
)

// Load reads, decodes and validates path. Every problem is reported at
// once in a *Error; nothing outside the file and the description it
// names is read.
func Load(path string) (*Config, error) { return loadConfig(path, false) }

// LoadAwaitingDescription is Load for a runner releasing from a
// sealed bundle, which carries the description: a description file that
// does not exist yet is not a problem (Description is then empty).
func LoadAwaitingDescription(path string) (*Config, error) { return loadConfig(path, true) }

func loadConfig(path string, descriptionMayBeMissing bool) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Problems: []Problem{{File: path, Key: "(file)", Msg: unwrapPathError(err)}}}
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
		return nil, &Error{Problems: v.problems}
	}
	// Values of the wrong kind are reported and left out, so that the
	// typed decode reads the rest and every other mistake is found too.
	text := string(src)
	removed := v.placeholders(v.raw, "")
	if v.checkTypes(v.raw) || removed {
		var b strings.Builder
		if err := toml.NewEncoder(&b).Encode(v.raw); err != nil {
			return nil, &Error{Problems: v.problems}
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
		return nil, &Error{Problems: v.problems}
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
		return nil, &Error{Problems: v.problems}
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

// Resolve makes a path from the config relative to the config's folder.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.Contains(p, "://") {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// ResolveRemote turns a remote that is a local path into an absolute one;
// URLs and scp-like remotes (user@host:path) pass unchanged.
func (c *Config) ResolveRemote(r string) string {
	if strings.Contains(r, "://") || isSCPLike(r) {
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
