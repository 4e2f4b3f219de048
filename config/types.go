package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// checkTypes compares every known key of the untyped document with the
// kind of its field in Config, before the typed decode: the decoder stops
// at its first mismatch with a message that names neither line nor fix. A
// value of the wrong kind becomes a problem and is removed from raw, so the
// rest of the file is still decoded and checked; it reports whether it
// removed any.
func (v *validator) checkTypes(raw map[string]any) bool {
	n := len(v.problems)
	v.checkTable(reflect.TypeOf(Config{}), raw, "")
	for _, p := range v.problems[n:] {
		v.skip(p.Key)
	}
	return len(v.problems) > n
}

func (v *validator) checkTable(t reflect.Type, raw map[string]any, prefix string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		val, ok := raw[name]
		if !ok {
			continue
		}
		key := prefix + name
		if !v.checkValue(f.Type, val, key) {
			delete(raw, name)
		}
	}
}

// skip marks a key whose problem is reported: its other checks are not.
func (v *validator) skip(key string) {
	if v.typed == nil {
		v.typed = map[string]bool{}
	}
	v.typed[key] = true
}

var timeType = reflect.TypeOf(time.Time{})

// checkValue reports a value of another kind than t and returns false for
// it; tables and arrays of tables are checked key by key.
func (v *validator) checkValue(t reflect.Type, val any, key string) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return v.checkTime(val, key)
	case t.Kind() == reflect.String:
		if _, ok := val.(string); !ok {
			w := v.written(key, val)
			msg := fmt.Sprintf("is %s, not a string", describe(val))
			if w != "" {
				msg = fmt.Sprintf("%s is %s, not a string", w, kindName(val))
			}
			v.add(key, msg, stringFix(key, w))
			return false
		}
	case t.Kind() == reflect.Struct:
		tbl, ok := val.(map[string]any)
		if !ok {
			v.add(key, fmt.Sprintf("is %s, not a table", describe(val)), fmt.Sprintf("write it as a table: [%s] on a line of its own, its keys below", key))
			return false
		}
		v.checkTable(t, tbl, key+".")
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		tables, ok := val.([]map[string]any)
		if !ok {
			v.add(key, fmt.Sprintf("is %s, not an array of tables", describe(val)), fmt.Sprintf("write each entry as a table: [[%s]] on a line of its own, its keys below", key))
			return false
		}
		for i, tbl := range tables {
			v.checkTable(t.Elem(), tbl, fmt.Sprintf("%s[%d].", key, i+1))
		}
	case t.Kind() == reflect.Slice:
		list, ok := val.([]any)
		if !ok {
			v.add(key, fmt.Sprintf("is %s, not a list of strings", describe(val)), fmt.Sprintf(`write it as a list, e.g. %s = ["%v"]`, lastKey(key), val))
			return false
		}
		for i, e := range list {
			if _, ok := e.(string); !ok {
				v.add(key, fmt.Sprintf("entry %d is %s, not a string", i+1, describe(e)), "write every entry in quotes")
				return false
			}
		}
	}
	return true
}

// checkTime: T0 and the advisory's date are TOML date-times and dates,
// written unquoted; a quoted one is accepted only when it is a full
// RFC 3339 time with its offset, which is how the decoder reads a string.
func (v *validator) checkTime(val any, key string) bool {
	example := "at = 2026-12-01T14:00:00Z"
	switch key {
	case "advisory.date":
		example = "date = 2026-11-20"
	case "embargo.distros":
		example = "distros = 2026-11-28T14:00:00Z"
	}
	switch x := val.(type) {
	case time.Time:
		return true
	case string:
		if _, err := time.Parse(time.RFC3339, x); err == nil && key != "advisory.date" {
			return true
		}
		if t, err := time.Parse("2006-01-02T15:04:05", x); err == nil && key != "advisory.date" {
			v.add(key, fmt.Sprintf("%q is quoted and has no UTC offset; a local time is ambiguous across the people and machines of an embargo", x),
				fmt.Sprintf("write it unquoted with an offset, e.g. %s = %sZ", lastKey(key), t.Format("2006-01-02T15:04:05")))
			return false
		}
		v.add(key, fmt.Sprintf("%q is a string, not a %s", x, timeKind(key)), "write it unquoted, e.g. "+example)
	default:
		v.add(key, fmt.Sprintf("is %s, not a %s", describe(val), timeKind(key)), "e.g. "+example)
	}
	return false
}

func timeKind(key string) string {
	if key == "advisory.date" {
		return "date"
	}
	return "date-time with a UTC offset"
}

// describe names a decoded TOML value's kind, with the value when short.
func describe(val any) string {
	switch x := val.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case int64:
		return fmt.Sprintf("the integer %d", x)
	case float64:
		return fmt.Sprintf("the number %v", x)
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case time.Time:
		return "a date-time"
	case []any:
		return "a list"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	}
	return fmt.Sprintf("a %T", val)
}

func kindName(val any) string {
	switch val.(type) {
	case int64, float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return describe(val)
}

// stringFix suggests the value as written, in quotes; a window needs its
// unit too.
func stringFix(key, written string) string {
	if written == "" {
		return "write it in quotes"
	}
	if key == "embargo.window" {
		return fmt.Sprintf(`a duration in quotes with its unit, e.g. window = "%sh"`, written)
	}
	return fmt.Sprintf(`write it in quotes: %s = "%s"`, lastKey(key), written)
}

// written is a number's or a boolean's text as the file has it (1.10, not
// the 1.1 it decodes to), or "" for other values.
func (v *validator) written(key string, val any) string {
	switch val.(type) {
	case int64, float64, bool:
	default:
		return ""
	}
	n, ok := v.lines[key]
	if !ok || n > len(v.src) {
		return fmt.Sprint(val)
	}
	_, text, ok := strings.Cut(cutComment(v.src[n-1]), "=")
	if !ok {
		return fmt.Sprint(val)
	}
	return strings.TrimSpace(text)
}

func lastKey(key string) string {
	if i := strings.LastIndex(key, "."); i >= 0 {
		return key[i+1:]
	}
	return key
}
