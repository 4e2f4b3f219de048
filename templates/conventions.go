package templates

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Conventions are how a blog's own posts write their front matter, as
// read from the newest posts beside the advisory's before T0. The post
// templates follow them through Data.Front, so that the post takes the
// shape its neighbours have: tags as a list or a comma string, the date
// as a day or a timestamp, quoting, published: true. The zero value is
// each template's own style.
//
// They are a release's record (the journal keeps them, the seal freezes
// them), so that the post published at T0 is the post that was checked,
// whatever the site looks like by then.
type Conventions struct {
	// From are the posts they were read from, newest first; empty when
	// the blog has no post beside the advisory's to follow.
	From []string `json:"from,omitempty"`
	// Keys are the front matter keys the posts beside it use.
	Keys []string `json:"keys,omitempty"`
	// Tags is how the newest posts write tags: "list" ([a, b]), "block"
	// (a "- a" line each) or "string" (a, b); TagSeparator joins a
	// string's tags (", " or ","; " " for jekyll, which splits on spaces).
	Tags         string `json:"tags,omitempty"`
	TagSeparator string `json:"tag_separator,omitempty"`
	// KnownTags are the tags the site uses, so that a tag it spells
	// "Security" is written "Security".
	KnownTags []string `json:"known_tags,omitempty"`
	// Date is the Go layout of the newest post's date ("2006-01-02" for a
	// day), "" to keep the template's.
	Date string `json:"date,omitempty"`
	// Zone is the time zone the site dates posts in (an IANA name, "UTC"
	// for a generator that defaults to it), or "" when the site leaves it
	// to the machine that builds it (jekyll without timezone).
	Zone string `json:"zone,omitempty"`
	// Quote is how the newest posts quote a key's string: "double",
	// "single" or "plain"; for tags, the quoting of a list's items.
	Quote map[string]string `json:"quote,omitempty"`
	// Published: the posts write published: true (middleman-blog and
	// jekyll read it; a post without it is published all the same).
	Published bool `json:"published,omitempty"`
	// Layout is the layout the newest posts all name, or "".
	Layout string `json:"layout,omitempty"`
}

// Learnt says whether any post set an example.
func (c Conventions) Learnt() bool { return len(c.From) > 0 }

// Equal says whether c and o render the same post (from whichever posts
// they were read).
func (c Conventions) Equal(o Conventions) bool {
	return c.Learnt() == o.Learnt() && slices.Equal(c.Keys, o.Keys) && c.Tags == o.Tags && c.TagSeparator == o.TagSeparator &&
		slices.Equal(c.KnownTags, o.KnownTags) && c.Date == o.Date && c.Zone == o.Zone && maps.Equal(c.Quote, o.Quote) &&
		c.Published == o.Published && c.Layout == o.Layout
}

// Summary says in a line what the post follows.
func (c Conventions) Summary() string {
	if !c.Learnt() {
		return "no post beside it to follow: the template's own front matter"
	}
	var parts []string
	switch c.Tags {
	case "string":
		parts = append(parts, "tags as a string")
	case "list", "block":
		parts = append(parts, "tags as a list")
	}
	if c.Date == time.DateOnly {
		parts = append(parts, "dated by day")
	} else if c.Date != "" {
		parts = append(parts, "dated "+time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC).Format(c.Date))
	}
	if c.Published {
		parts = append(parts, "published: true")
	}
	if len(parts) == 0 {
		parts = append(parts, "the keys")
	}
	return fmt.Sprintf("%s, as %s", strings.Join(parts, ", "), strings.Join(c.From, ", "))
}

// FrontMatter writes front matter values as the blog's conventions say:
// a template reaches it as .Front.
type FrontMatter struct {
	conv  Conventions
	m     *Model
	style string
}

// toml says whether the style's front matter is TOML (zola's +++).
func (f FrontMatter) toml() bool { return f.style == "zola" }

// Uses says whether the site's posts use key: a template leaves out an
// optional key they do not. With no post to follow, every key is used.
func (f FrontMatter) Uses(key string) bool {
	return !f.conv.Learnt() || slices.Contains(f.conv.Keys, key)
}

// WritesDate says whether to write the date, for a generator that dates
// a post by its file name (middleman-blog, jekyll): when the site's posts
// write one, or when the file name's day begins after T0 where the site
// is, which would keep the post out of the site until then.
func (f FrontMatter) WritesDate() bool {
	zone, known := f.zone()
	return f.Uses("date") || f.dayAfterT0(zone, known)
}

// Published says whether to write published: true.
func (f FrontMatter) Published() bool { return f.conv.Published }

// Layout is the layout the posts name, or def.
func (f FrontMatter) Layout(def string) string {
	if f.conv.Layout != "" {
		return f.conv.Layout
	}
	return def
}

// Str writes s as key's value, quoted as the posts quote it: in double
// quotes by default, bare only where YAML reads it back as the same
// string.
func (f FrontMatter) Str(key, s string) string {
	if f.toml() {
		return quote(s)
	}
	return yamlScalar(s, f.conv.Quote[key], "double")
}

// Name is Str for a name the template writes bare by default (a
// layout's), quoted where the posts quote it or YAML needs it.
func (f FrontMatter) Name(key, s string) string {
	if f.toml() {
		return quote(s)
	}
	return yamlScalar(s, f.conv.Quote[key], "plain")
}

// Tags writes a list of tags as the posts write theirs, each spelled as
// the site spells it. A string of tags is written only where the
// generator splits it back into the same tags: middleman-blog splits on
// commas, jekyll on spaces, hugo not at all (one tag only).
func (f FrontMatter) Tags(tags ...string) string {
	spelled := make([]string, len(tags))
	for i, t := range tags {
		spelled[i] = f.spelling(t)
	}
	item := func(s string) string { return yamlScalar(s, f.conv.Quote["tags"], "plain") }
	if f.toml() {
		return list(spelled)
	}
	if s, ok := f.tagString(spelled); ok {
		return yamlScalar(s, f.conv.Quote["tags"], "plain")
	}
	if f.conv.Tags == "block" {
		var b strings.Builder
		for _, t := range spelled {
			b.WriteString("\n  - " + item(t))
		}
		return b.String()
	}
	items := make([]string, len(spelled))
	for i, t := range spelled {
		items[i] = item(t)
	}
	return "[" + strings.Join(items, ", ") + "]"
}

func (f FrontMatter) tagString(tags []string) (string, bool) {
	if f.conv.Tags != "string" || len(tags) == 0 {
		return "", false
	}
	sep, splits := f.conv.TagSeparator, ","
	switch f.style {
	case "jekyll":
		sep, splits = " ", " \t"
	case "hugo":
		if len(tags) > 1 {
			return "", false
		}
	case "middleman":
		if sep == "" {
			sep = ", "
		}
	default:
		return "", false
	}
	for _, t := range tags {
		if t != strings.TrimSpace(t) || strings.ContainsAny(t, splits) {
			return "", false
		}
	}
	return strings.Join(tags, sep), true
}

// spelling is tag as the site spells it, when it has it in another case
// or with spaces for dashes.
func (f FrontMatter) spelling(tag string) string {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "-")) }
	for _, k := range f.conv.KnownTags {
		if k == tag {
			return k
		}
	}
	for _, k := range f.conv.KnownTags {
		if norm(k) == norm(tag) {
			return k
		}
	}
	return tag
}

// Date layouts a template names.
var dateLayouts = map[string]string{
	"day":     time.DateOnly,
	"rfc3339": time.RFC3339,
	"jekyll":  "2006-01-02 15:04:05 -0700",
}

// Date writes the post's date in the layout the posts use, or the
// template's own (def: day, rfc3339 or jekyll). It never dates the post
// after T0 in the site's time zone: a day the site reads as a midnight
// after T0 (a zone west of UTC) is written as T0 itself, and a time
// without a zone is written in the site's zone, or with its offset when
// the site leaves the zone to the machine that builds it.
func (f FrontMatter) Date(def string) (string, error) {
	layout, ok := dateLayouts[def]
	if !ok {
		return "", fmt.Errorf("Front.Date: %q is none of day, rfc3339, jekyll", def)
	}
	if f.conv.Date != "" {
		layout = f.conv.Date
	}
	zone, known := f.zone()
	if f.toml() && layout != time.DateOnly && layout != time.RFC3339 && layout != "2006-01-02T15:04:05" {
		layout = time.RFC3339 // what TOML reads as a date
	}
	if layout == time.DateOnly {
		if !f.dayAfterT0(zone, known) {
			return f.quoteDate(f.m.Date.Format(time.DateOnly)), nil
		}
		// The day begins after T0 where the site is: date it T0.
		layout = dateLayouts[def]
		if layout == time.DateOnly {
			layout = time.RFC3339
		}
	}
	t := f.m.PostTime().In(zone)
	if !hasZone(layout) && !known {
		layout += " -0700"
	}
	return f.quoteDate(t.Format(layout)), nil
}

// dayAfterT0 says whether the advisory's day begins after T0 in zone;
// in a zone not known, in the zone where days begin last (UTC-12).
func (f FrontMatter) dayAfterT0(zone *time.Location, known bool) bool {
	d := f.m.Date
	midnight := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, zone)
	if !known {
		midnight = time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, time.UTC)
	}
	return midnight.After(f.m.Published)
}

func (f FrontMatter) quoteDate(s string) string {
	if f.toml() {
		return s
	}
	switch f.conv.Quote["date"] {
	case "double":
		return quote(s)
	case "single":
		return "'" + s + "'"
	}
	return s
}

// zone is the site's time zone; known is false when the site leaves it
// to the machine that builds it, or names one this machine does not know.
func (f FrontMatter) zone() (*time.Location, bool) {
	switch f.conv.Zone {
	case "", "UTC":
		return time.UTC, f.conv.Zone == "UTC" || !f.conv.Learnt()
	}
	loc, err := time.LoadLocation(f.conv.Zone)
	if err != nil {
		return time.UTC, false
	}
	return loc, true
}

func hasZone(layout string) bool {
	return strings.Contains(layout, "Z07") || strings.Contains(layout, "-07") || strings.Contains(layout, "MST")
}

// yamlScalar writes s as a YAML string in style (double, single or
// plain; "" for def), falling back to double quotes where the style
// would not read back as s.
func yamlScalar(s, style, def string) string {
	if style == "" {
		style = def
	}
	switch style {
	case "plain":
		if plainSafe(s) {
			return s
		}
	case "single":
		if !strings.ContainsAny(s, "\n\r") {
			return "'" + strings.ReplaceAll(s, "'", "''") + "'"
		}
	}
	return quote(s)
}

// plainSafe says whether s written bare is read back as the string s, by
// YAML 1.2 and by Ruby's YAML 1.1 alike (yes, no, on and off are
// booleans there).
func plainSafe(s string) bool {
	if s == "" || strings.ContainsAny(s, "\n\r\t") {
		return false
	}
	switch strings.ToLower(s) {
	case "yes", "no", "on", "off", "y", "n", "true", "false", "null", "~":
		return false
	}
	out, err := yaml.Marshal(s)
	if err != nil {
		return false
	}
	return strings.TrimSuffix(string(out), "\n") == s
}
