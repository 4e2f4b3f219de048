package config

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// docKey is one key as docs/config.md lists it.
type docKey struct {
	typ, def string
}

var (
	docTableRE = regexp.MustCompile("^## `(\\[\\[?[a-z_]+\\]\\]?)`")
	docRowRE   = regexp.MustCompile("^\\| `([a-z_]+)` \\| ([^|]+) \\| ([^|]+) \\| ([^|]+) \\| ([^|]+) \\|$")
)

// readConfigDoc parses the reference's tables: every "## `[table]`"
// section's rows, keyed table.key, and the tables with their brackets.
func readConfigDoc(t *testing.T) (map[string]docKey, map[string]string) {
	t.Helper()
	b, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	keys, tables := map[string]docKey{}, map[string]string{}
	table := ""
	for _, line := range strings.Split(string(b), "\n") {
		if m := docTableRE.FindStringSubmatch(line); m != nil {
			table = strings.Trim(m[1], "[]")
			tables[table] = m[1]
			continue
		}
		if strings.HasPrefix(line, "## ") {
			table = ""
			continue
		}
		m := docRowRE.FindStringSubmatch(line)
		if m == nil || table == "" {
			continue
		}
		k := table + "." + m[1]
		if _, dup := keys[k]; dup {
			t.Errorf("docs/config.md lists %s twice", k)
		}
		keys[k] = docKey{typ: strings.TrimSpace(m[2]), def: strings.TrimSpace(m[3])}
	}
	return keys, tables
}

// acceptedKeys walks Config's toml tags as the decoder does: every key the
// loader accepts, with the type the reference must give it, and every
// table with its brackets ([[...]] for arrays of tables).
func acceptedKeys() (map[string]string, map[string]string) {
	keys, tables := map[string]string{}, map[string]string{}
	ct := reflect.TypeOf(Config{})
	for i := 0; i < ct.NumField(); i++ {
		f := ct.Field(i)
		table := tomlName(f)
		if table == "" {
			continue
		}
		st, brackets := f.Type, "[%s]"
		if st.Kind() == reflect.Pointer {
			st = st.Elem()
		}
		if st.Kind() == reflect.Slice {
			st, brackets = st.Elem(), "[[%s]]"
		}
		tables[table] = strings.Replace(brackets, "%s", table, 1)
		for j := 0; j < st.NumField(); j++ {
			kf := st.Field(j)
			key := tomlName(kf)
			if key == "" {
				continue
			}
			typ := "string"
			switch {
			case kf.Type == timeType && table+"."+key == "advisory.date":
				typ = "date"
			case kf.Type == timeType:
				typ = "date-time"
			case kf.Type.Kind() == reflect.Slice && kf.Type.Elem().Kind() == reflect.String:
				typ = "list of strings"
			case kf.Type.Kind() != reflect.String:
				typ = kf.Type.String() // no row can say this: the reference needs a new type
			}
			keys[table+"."+key] = typ
		}
	}
	return keys, tables
}

func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// docs/config.md is the operator's reference: every key the loader accepts
// is there with its type and a default, and nothing it lists is refused as
// unknown.
func TestConfigReferenceListsEveryAcceptedKey(t *testing.T) {
	doc, docTables := readConfigDoc(t)
	accepted, tables := acceptedKeys()
	if len(doc) == 0 {
		t.Fatal("docs/config.md: no key rows found; the table format changed")
	}
	for _, k := range sortedKeys(accepted) {
		d, ok := doc[k]
		switch {
		case !ok:
			t.Errorf("%s is accepted by the config but not documented in docs/config.md", k)
		case d.typ != accepted[k]:
			t.Errorf("docs/config.md gives %s the type %q; the config decodes it as %q", k, d.typ, accepted[k])
		case d.def == "":
			t.Errorf("docs/config.md gives %s no default (or \"required\")", k)
		}
	}
	for _, k := range sortedKeys(doc) {
		if _, ok := accepted[k]; !ok {
			t.Errorf("docs/config.md documents %s, which the config refuses as unknown", k)
		}
	}
	for name, want := range tables {
		if got := docTables[name]; got != want {
			t.Errorf("docs/config.md: table %s has the heading %q, want %q", name, got, want)
		}
	}
	for name := range docTables {
		if _, ok := tables[name]; !ok {
			t.Errorf("docs/config.md documents the table %s, which the config refuses", name)
		}
	}
}

// The suggestions for a mistyped key come from knownKeys: it must name the
// keys the decoder accepts, no more and no fewer.
func TestKnownKeysAreTheAcceptedKeys(t *testing.T) {
	accepted, tables := acceptedKeys()
	want := map[string][]string{}
	for table := range tables {
		want[""] = append(want[""], table)
	}
	for k := range accepted {
		table, key, _ := strings.Cut(k, ".")
		want[table] = append(want[table], key)
	}
	for table, keys := range want {
		got := append([]string(nil), knownKeys[table]...)
		sort.Strings(got)
		sort.Strings(keys)
		if strings.Join(got, " ") != strings.Join(keys, " ") {
			t.Errorf("knownKeys[%q] = %v, the decoder accepts %v", table, got, keys)
		}
	}
	if len(knownKeys) != len(want) {
		t.Errorf("knownKeys has %d tables, the decoder %d", len(knownKeys), len(want))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
