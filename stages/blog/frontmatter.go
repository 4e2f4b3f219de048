package blog

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
)

// Value shapes, as a site's posts write a front matter value.
const (
	shapeString = "a string"
	shapeList   = "a list"
	shapeDate   = "a date"
	shapeBool   = "a boolean"
	shapeNumber = "a number"
	shapeTable  = "a table"
	shapeNull   = "empty"
)

// frontMatter is a post's front matter, flattened: nested tables become
// dotted keys (zola's taxonomies.tags, extra.author).
type frontMatter struct {
	format string   // "yaml" or "toml"
	keys   []string // in file order
	shapes map[string]string
	text   map[string]string   // scalar values as written
	lists  map[string][]string // lists of scalars
	times  map[string]time.Time
	// quotes are how a YAML string is quoted (double, single, plain), and
	// for a list how its first item is; block marks a list written a
	// "- item" line each.
	quotes map[string]string
	block  map[string]bool
	// tomlLayouts are the layouts TOML dates are written in.
	tomlLayouts map[string]string
}

func newFrontMatter(format string) *frontMatter {
	return &frontMatter{format: format, shapes: map[string]string{}, text: map[string]string{}, lists: map[string][]string{}, times: map[string]time.Time{},
		quotes: map[string]string{}, block: map[string]bool{}, tomlLayouts: map[string]string{}}
}

func (f *frontMatter) has(key string) bool { _, ok := f.shapes[key]; return ok }

// date is the post's date, when it has one that reads as a time.
func (f *frontMatter) date() (time.Time, bool) {
	t, ok := f.times["date"]
	return t, ok
}

// values are a key's values as style's generator reads them: a list's
// entries, or a string's parts (middleman-blog splits "a, b" on commas,
// jekyll "a b" on spaces; hugo and zola take a string whole).
func (f *frontMatter) values(key, style string) []string {
	if l, ok := f.lists[key]; ok {
		return l
	}
	s, ok := f.text[key]
	if !ok {
		return nil
	}
	switch style {
	case "middleman":
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	case "jekyll":
		return strings.Fields(s)
	}
	return []string{s}
}

var errNoFrontMatter = errors.New("no front matter")

// parseFrontMatter reads the front matter at the start of a post: YAML
// between --- lines, or TOML between +++ lines.
func parseFrontMatter(content []byte) (*frontMatter, error) {
	content = bytes.TrimPrefix(content, []byte("\ufeff"))
	var fence, format string
	switch {
	case bytes.HasPrefix(content, []byte("---\n")), bytes.HasPrefix(content, []byte("---\r\n")):
		fence, format = "---", "yaml"
	case bytes.HasPrefix(content, []byte("+++\n")), bytes.HasPrefix(content, []byte("+++\r\n")):
		fence, format = "+++", "toml"
	default:
		return nil, errNoFrontMatter
	}
	lines := strings.Split(strings.ReplaceAll(string(content), "\r\n", "\n"), "\n")
	end := -1
	for i := 1; i < len(lines); i++ {
		if strings.TrimRight(lines[i], " \t") == fence {
			end = i
			break
		}
	}
	if end < 0 {
		return nil, fmt.Errorf("the front matter's closing %s is missing", fence)
	}
	body := strings.Join(lines[1:end], "\n")
	f := newFrontMatter(format)
	if format == "yaml" {
		return f, f.readYAML(body)
	}
	return f, f.readTOML(body)
}

func (f *frontMatter) readYAML(body string) error {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(body), &doc); err != nil {
		return fmt.Errorf("front matter is not YAML: %v", err)
	}
	if len(doc.Content) == 0 {
		return nil // empty front matter
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return errors.New("front matter is not a YAML mapping")
	}
	f.walkYAML(root, "")
	return nil
}

func (f *frontMatter) walkYAML(m *yaml.Node, prefix string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, val := prefix+m.Content[i].Value, m.Content[i+1]
		if val.Kind == yaml.AliasNode && val.Alias != nil {
			val = val.Alias
		}
		f.keys = append(f.keys, key)
		switch val.Kind {
		case yaml.MappingNode:
			f.shapes[key] = shapeTable
			f.walkYAML(val, key+".")
		case yaml.SequenceNode:
			f.shapes[key] = shapeList
			f.block[key] = val.Style&yaml.FlowStyle == 0
			var items []string
			for _, e := range val.Content {
				if e.Kind == yaml.ScalarNode {
					if len(items) == 0 {
						f.quotes[key] = quoting(e)
					}
					items = append(items, e.Value)
				}
			}
			f.lists[key] = items
		default:
			f.text[key] = val.Value
			f.quotes[key] = quoting(val)
			switch val.ShortTag() {
			case "!!timestamp":
				f.shapes[key] = shapeDate
				if t, ok := parseTime(val.Value); ok {
					f.times[key] = t
				}
			case "!!bool":
				f.shapes[key] = shapeBool
			case "!!int", "!!float":
				f.shapes[key] = shapeNumber
			case "!!null":
				f.shapes[key] = shapeNull
			default:
				f.shapes[key] = shapeString
				// Jekyll's "2026-12-01 14:00:00 +0000" is no YAML
				// timestamp, but it is the post's date all the same.
				if t, ok := parseTime(val.Value); ok {
					f.times[key] = t
				}
			}
		}
	}
}

// quoting is how a YAML scalar is written: double, single or plain.
func quoting(n *yaml.Node) string {
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		return "double"
	case n.Style&yaml.SingleQuotedStyle != 0:
		return "single"
	}
	return "plain"
}

func (f *frontMatter) readTOML(body string) error {
	var m map[string]any
	md, err := toml.Decode(body, &m)
	if err != nil {
		return fmt.Errorf("front matter is not TOML: %v", err)
	}
	for _, k := range md.Keys() {
		key := strings.Join(k, ".")
		var v any = m
		for _, part := range k {
			tbl, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = tbl[part]
		}
		f.keys = append(f.keys, key)
		switch x := v.(type) {
		case map[string]any:
			f.shapes[key] = shapeTable
		case []map[string]any:
			f.shapes[key] = shapeList
		case []any:
			f.shapes[key] = shapeList
			for _, e := range x {
				f.lists[key] = append(f.lists[key], fmt.Sprint(e))
			}
		case time.Time:
			f.shapes[key], f.times[key], f.text[key] = shapeDate, x, x.Format(time.RFC3339)
			switch x.Location().String() { // how BurntSushi/toml marks local dates and times
			case "date-local":
				f.tomlLayouts[key] = time.DateOnly
			case "datetime-local":
				f.tomlLayouts[key] = "2006-01-02T15:04:05"
			default:
				f.tomlLayouts[key] = time.RFC3339
			}
		case bool:
			f.shapes[key], f.text[key] = shapeBool, fmt.Sprint(x)
		case int64, float64:
			f.shapes[key], f.text[key] = shapeNumber, fmt.Sprint(x)
		case string:
			f.shapes[key], f.text[key] = shapeString, x
			if t, ok := parseTime(x); ok {
				f.times[key] = t
			}
		}
	}
	return nil
}

// dateIn is the post's date, one written without a zone read in loc,
// the zone the site dates posts in.
func (f *frontMatter) dateIn(loc *time.Location) (time.Time, bool) {
	t, ok := f.times["date"]
	if !ok {
		return t, false
	}
	if l := f.dateLayout("date"); l != "" && !strings.Contains(l, "Z07") && !strings.Contains(l, "-07") {
		if lt, err := time.ParseInLocation(l, strings.TrimSpace(f.text["date"]), loc); err == nil {
			return lt, true
		}
	}
	return t, true
}

// dateLayout is the layout key's date is written in, or "".
func (f *frontMatter) dateLayout(key string) string {
	if l, ok := f.tomlLayouts[key]; ok {
		return l
	}
	s := strings.TrimSpace(f.text[key])
	for _, l := range timeLayouts {
		if _, err := time.Parse(l, s); err == nil {
			return l
		}
	}
	return ""
}

// timeLayouts are the ways generators accept a post's date.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 -07:00",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	time.DateOnly,
}

// parseTime reads a date as the generators do; one without a zone is UTC.
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// fileDateRE is the date a post's file name starts with (middleman,
// jekyll, zola): 2026-12-01-slug.md.
var fileDateRE = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})[-_]`)

// sortedKeys lists a set's keys in order, for messages.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
