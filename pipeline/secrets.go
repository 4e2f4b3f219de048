package pipeline

import (
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Secrets hands out tokens from the environment variables the config names
// and remembers every value it handed out, so that Scrub can remove them from
// anything printed or stored.
type Secrets struct {
	lookup func(string) (string, bool)
	mu     sync.Mutex
	values []string
}

// NewSecrets reads variables through lookup (os.LookupEnv in the product).
func NewSecrets(lookup func(string) (string, bool)) *Secrets {
	return &Secrets{lookup: lookup}
}

// Get returns the value of the variable name, remembering it for scrubbing.
func (s *Secrets) Get(name string) (string, bool) {
	if s == nil || s.lookup == nil || name == "" {
		return "", false
	}
	v, ok := s.lookup(name)
	if !ok || v == "" {
		return "", false
	}
	s.Remember(v)
	return v, true
}

// Remember adds a secret that came from elsewhere than a variable (a
// token a registry handed out), so that Scrub removes it too.
//
// A secret of several lines (an armored OpenPGP key) is remembered whole
// and line by line: a parser's error or a program's output may quote one
// line of it alone. Lines shorter than secretLine (blank lines, an armor
// checksum) carry too little of the key to matter and would mangle
// ordinary text.
func (s *Secrets) Remember(v string) {
	if s == nil || v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remember(v)
	if strings.Contains(v, "\n") {
		for line := range strings.Lines(v) {
			if line = strings.TrimSpace(line); len(line) >= secretLine {
				s.remember(line)
			}
		}
	}
	// Longest first, so a token containing another is removed whole.
	sort.Slice(s.values, func(i, j int) bool { return len(s.values[i]) > len(s.values[j]) })
}

// secretLine is the length from which a line of a secret of several lines
// is removed on its own.
const secretLine = 16

func (s *Secrets) remember(v string) {
	for _, known := range s.values {
		if known == v {
			return
		}
	}
	s.values = append(s.values, v)
}

// Present says whether the variable is set, remembering its value.
func (s *Secrets) Present(name string) bool {
	_, ok := s.Get(name)
	return ok
}

// URL user info (https://user:secret@host) is removed whatever it holds.
var userinfoRE = regexp.MustCompile(`(://[^/\s:@]*):[^/\s@]*@`)

// A long user name alone in a URL is a token used as user
// (https://ghp_...@github.com/...); short ones (git@) are left.
var tokenUserRE = regexp.MustCompile(`(://)[^/\s:@]{20,}@`)

// Scrub replaces every known secret value, and any password in a URL, with
// "***".
func (s *Secrets) Scrub(text string) string {
	if text == "" {
		return text
	}
	text = userinfoRE.ReplaceAllString(text, "$1:***@")
	text = tokenUserRE.ReplaceAllString(text, "$1***@")
	if s == nil {
		return text
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.values {
		if len(v) >= 4 { // shorter values would mangle ordinary text
			text = strings.ReplaceAll(text, v, "***")
		}
	}
	return text
}
