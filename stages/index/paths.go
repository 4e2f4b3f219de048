package index

import (
	"fmt"
	"strings"
)

// Path is the location of a crate's index file below the index root, by the
// crates.io rules on the lowercased name: "1/a", "2/ab", "3/a/abc",
// "ab/cd/abcd".
func Path(name string) string {
	n := strings.ToLower(name)
	switch len(n) {
	case 0:
		return ""
	case 1:
		return "1/" + n
	case 2:
		return "2/" + n
	case 3:
		return "3/" + n[:1] + "/" + n
	default:
		return n[:2] + "/" + n[2:4] + "/" + n
	}
}

// checkName keeps a crate name from turning into another index path.
func checkName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("index: invalid crate name %q", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("index: invalid crate name %q", name)
		}
	}
	return nil
}

// CrateURL is where a registry serves a .crate, by cargo's rules for the
// dl key of config.json: the markers are replaced, and a dl without any
// means <dl>/<name>/<version>/download.
func CrateURL(dl, name, version, cksum string) string {
	markers := []string{"{crate}", "{version}", "{prefix}", "{lowerprefix}", "{sha256-checksum}"}
	has := false
	for _, m := range markers {
		if strings.Contains(dl, m) {
			has = true
		}
	}
	if !has {
		return strings.TrimSuffix(dl, "/") + "/" + name + "/" + version + "/download"
	}
	prefix := cratePrefix(name)
	return strings.NewReplacer(
		"{crate}", name,
		"{version}", version,
		"{prefix}", prefix,
		"{lowerprefix}", strings.ToLower(prefix),
		"{sha256-checksum}", cksum,
	).Replace(dl)
}

// cratePrefix is the index folder of a crate, in the name's own case:
// "1", "2", "3/a", "ab/cd".
func cratePrefix(name string) string {
	switch len(name) {
	case 0:
		return ""
	case 1:
		return "1"
	case 2:
		return "2"
	case 3:
		return "3/" + name[:1]
	}
	return name[:2] + "/" + name[2:4]
}
