package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// What RustSec's advisory-db linter accepts, checked here so that the
// RustSec file embargo renders is ready for a pull request as written.
var (
	// RustSecInformational are the informational kinds advisory-db knows.
	RustSecInformational = []string{"notice", "unmaintained", "unsound"}
	// RustSecLicenses are the licences advisory-db accepts for an advisory's
	// text: CC0 for its own, CC-BY-4.0 for one imported from GitHub.
	RustSecLicenses = []string{"CC0-1.0", "CC-BY-4.0"}

	rustSecIDPattern = regexp.MustCompile(`^RUSTSEC-(\d{4})-(\d{4})$`)
	identPattern     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// RustSecPlaceholderID is the id RustSec asks new advisories to carry until
// it assigns one.
const RustSecPlaceholderID = "RUSTSEC-0000-0000"

// validatePublication checks the keys of where the advisory is published
// and when the distributions heard of it: embargo.distros, the RustSec
// keys of [advisory], blog.author and blog.build.
func (c *Config) validatePublication(v *validator, md toml.MetaData) {
	if md.IsDefined("embargo", "distros") && isLocalTime(v.rawTime("embargo", "distros")) {
		v.add("embargo.distros", "has no UTC offset; a local time is ambiguous across the people and machines of an embargo",
			fmt.Sprintf("write it with an offset, e.g. distros = %sZ", v.rawTime("embargo", "distros").Format("2006-01-02T15:04:05")))
	}

	a := c.Advisory
	if id := a.RustSecID; id != "" && id != RustSecPlaceholderID {
		m := rustSecIDPattern.FindStringSubmatch(id)
		if m == nil {
			v.add("advisory.rustsec_id", fmt.Sprintf("%q is not a RustSec id", id), `RustSec ids read RUSTSEC-YYYY-NNNN, e.g. rustsec_id = "RUSTSEC-2026-0042"; leave the key out until RustSec assigns one`)
		} else if year, _ := strconv.Atoi(m[1]); year != c.AdvisoryYear() {
			v.add("advisory.rustsec_id", fmt.Sprintf("%s is of %d but the advisory is dated %d", id, year, c.AdvisoryYear()),
				"RustSec's linter wants the id's year to be the advisory date's: check advisory.date (default: T0's date) and the id RustSec assigned")
		}
	}
	if a.Informational != "" && !oneOf(a.Informational, RustSecInformational...) {
		v.add("advisory.informational", fmt.Sprintf("%q is not a RustSec informational kind", a.Informational), "one of "+strings.Join(RustSecInformational, ", ")+", or leave it out for a vulnerability")
	}
	if a.License != "" && !oneOf(a.License, RustSecLicenses...) {
		v.add("advisory.license", fmt.Sprintf("%q is not a licence RustSec accepts", a.License), "one of "+strings.Join(RustSecLicenses, ", ")+" (RustSec's default is CC0-1.0)")
	}
	crate := strings.ReplaceAll(a.Package, "-", "_")
	seen := map[string]bool{}
	for i, f := range a.Functions {
		segs := strings.Split(f, "::")
		valid := len(segs) >= 2
		for _, s := range segs {
			valid = valid && identPattern.MatchString(s)
		}
		switch {
		case !valid:
			v.add("advisory.functions", fmt.Sprintf("entry %d %q is not a Rust path", i+1, f), fmt.Sprintf(`write the path as code names it, e.g. "%s::task::spawn"`, crate))
		case a.Package != "" && segs[0] != crate:
			v.add("advisory.functions", fmt.Sprintf("entry %d %q does not start with the crate's name %s", i+1, f, crate),
				fmt.Sprintf("RustSec paths start with the crate name, dashes as underscores: %s::%s", crate, strings.Join(segs[1:], "::")))
		case seen[f]:
			v.add("advisory.functions", fmt.Sprintf("%q is listed twice", f), "")
		}
		seen[f] = true
	}

	if b := c.Blog; b != nil {
		if md.IsDefined("blog", "author") && strings.TrimSpace(b.Author) == "" {
			v.add("blog.author", "is empty", `name the post's author as the site knows it, e.g. author = "The async-std developers", or leave the key out for the handler's name`)
		}
		if md.IsDefined("blog", "build") && strings.TrimSpace(b.Build) == "" {
			v.add("blog.build", "is empty", `the site's build command, e.g. build = "hugo --quiet"; leave the key out not to check the build`)
		}
	}
}

// AdvisoryYear is the year of the advisory's date: advisory.date, or T0's
// UTC date.
func (c *Config) AdvisoryYear() int {
	if !c.Advisory.Date.IsZero() {
		return c.Advisory.Date.Year()
	}
	return c.T0().Year()
}
