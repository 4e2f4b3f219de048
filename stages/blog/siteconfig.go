package blog

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
)

// siteConfig is what the generator's own config says about where posts
// are read from, where they are served and which of them are built.
type siteConfig struct {
	style string
	// file is the config file read, or "" when the site has none.
	file string
	// zone is the time zone the generator dates posts in; zoneName its
	// name ("UTC" when the generator defaults to UTC, "" when it leaves
	// it to the machine that builds the site).
	zone     *time.Location
	zoneName string
	// future: posts dated after the build are built all the same
	// (middleman-blog's publish_future_dated, jekyll's future, hugo's
	// buildFuture); drafts likewise (hugo's buildDrafts).
	future, drafts bool
	// blogs are middleman-blog's blogs (activate :blog), each with its
	// prefix, sources and permalink.
	blogs []middlemanBlog
	// directoryIndexes: middleman serves page.html as page/.
	directoryIndexes bool
	// contentDir is hugo's contentDir.
	contentDir string
	// permalink is jekyll's permalink setting.
	permalink string
}

// middlemanBlog is one `activate :blog` of a middleman config.rb.
type middlemanBlog struct {
	prefix, sources, permalink string
}

// middleman-blog's defaults (lib/middleman-blog/extension.rb).
const (
	middlemanSources   = "{year}-{month}-{day}-{title}.html"
	middlemanPermalink = "/{year}/{month}/{day}/{title}.html"
)

// readSiteConfig reads the generator's config from the site. A setting it
// cannot read is left at the generator's default.
func readSiteConfig(site *Site, style string) siteConfig {
	sc := siteConfig{style: style, zone: time.UTC, zoneName: "UTC"}
	switch style {
	case "middleman":
		sc.readMiddleman(site)
	case "jekyll":
		sc.readJekyll(site)
	case "hugo":
		sc.readHugo(site)
	}
	if sc.zoneName != "" && sc.zoneName != "UTC" {
		if loc, err := time.LoadLocation(sc.zoneName); err == nil {
			sc.zone = loc
		}
	}
	return sc
}

var (
	rubyActivateRE   = regexp.MustCompile(`(?m)^\s*activate\s+:(\w+)`)
	rubyZoneRE       = regexp.MustCompile(`(?m)^\s*(?:Time\.zone\s*=|set\s+:time_zone\s*,|config\[:time_zone\]\s*=)\s*["']([^"']+)["']`)
	rubyTrueOptionRE = `(?m)(?:\bblog\.%[1]s\s*=|\b%[1]s:|:%[1]s\s*=>)\s*true\b`
)

// rubyOption reads a string option of a middleman-blog activation, in
// any of the ways config.rb sets one: `blog.prefix = "blog"` in a block,
// `prefix: 'blog'` or `:prefix => "blog"` among the options.
func rubyOption(section, name string) (string, bool) {
	re := regexp.MustCompile(`(?m)(?:\bblog\.` + name + `\s*=|\b` + name + `:|:` + name + `\s*=>)\s*["']([^"']*)["']`)
	if m := re.FindStringSubmatch(section); m != nil {
		return m[1], true
	}
	return "", false
}

func (sc *siteConfig) readMiddleman(site *Site) {
	b, ok, _ := site.Read("config.rb")
	if !ok {
		sc.blogs = []middlemanBlog{{sources: middlemanSources, permalink: middlemanPermalink}}
		return
	}
	sc.file = "config.rb"
	text := string(b)
	if m := rubyZoneRE.FindStringSubmatch(text); m != nil {
		sc.zoneName = m[1]
	}
	acts := rubyActivateRE.FindAllStringSubmatchIndex(text, -1)
	for i, a := range acts {
		name := text[a[2]:a[3]]
		end := len(text)
		if i+1 < len(acts) {
			end = acts[i+1][0]
		}
		// The activation's options and block run up to the next one.
		section := text[a[0]:end]
		switch name {
		case "directory_indexes":
			sc.directoryIndexes = true
		case "blog":
			mb := middlemanBlog{sources: middlemanSources, permalink: middlemanPermalink}
			if v, ok := rubyOption(section, "prefix"); ok {
				mb.prefix = strings.Trim(v, "/")
			}
			if v, ok := rubyOption(section, "sources"); ok {
				mb.sources = v
			}
			if v, ok := rubyOption(section, "permalink"); ok {
				mb.permalink = v
			}
			if regexp.MustCompile(fmt.Sprintf(rubyTrueOptionRE, "publish_future_dated")).MatchString(section) {
				sc.future = true
			}
			sc.blogs = append(sc.blogs, mb)
		}
	}
	if len(sc.blogs) == 0 {
		sc.blogs = []middlemanBlog{{sources: middlemanSources, permalink: middlemanPermalink}}
	}
}

// templateExts are the template extensions middleman strips from a
// source file's name to make its resource path.
var templateExts = []string{".md", ".markdown", ".mkd", ".erb", ".slim", ".haml", ".builder", ".liquid", ".textile", ".rdoc", ".adoc"}

// resourcePath is a file's path as middleman's sitemap names it: under
// source/, without its template extensions.
func resourcePath(file string) (string, bool) {
	p, ok := strings.CutPrefix(file, "source/")
	if !ok {
		return "", false
	}
	for {
		ext := path.Ext(p)
		if ext == "" || !slices.Contains(templateExts, ext) {
			return p, true
		}
		p = strings.TrimSuffix(p, ext)
	}
}

var uriTokenRE = regexp.MustCompile(`\{(\w+)\}|:(\w+)`)

// pattern is a middleman-blog URI template (with {token} or :token) as a
// regular expression whose groups are named by the tokens.
func uriPattern(tmpl string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, m := range uriTokenRE.FindAllStringSubmatchIndex(tmpl, -1) {
		b.WriteString(regexp.QuoteMeta(tmpl[last:m[0]]))
		name := tmpl[m[2]:m[3]] // {name}
		if m[2] < 0 {
			name = tmpl[m[4]:m[5]] // :name
		}
		switch name {
		case "year":
			b.WriteString(`(?P<year>\d{4})`)
		case "month", "day":
			b.WriteString(`(?P<` + name + `>\d{1,2})`)
		default:
			b.WriteString(`(?P<` + name + `>[^/]+?)`)
		}
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(tmpl[last:]) + "$")
	return regexp.MustCompile(b.String())
}

// article matches a file against the blog's sources: ok when
// middleman-blog reads it as an article, with the values of its tokens.
func (mb middlemanBlog) article(file string) (map[string]string, bool) {
	res, ok := resourcePath(file)
	if !ok {
		return nil, false
	}
	re := uriPattern(strings.TrimPrefix(path.Join(mb.prefix, mb.sources), "/"))
	m := re.FindStringSubmatch(res)
	if m == nil {
		return nil, false
	}
	params := map[string]string{}
	for i, n := range re.SubexpNames() {
		if n != "" {
			params[n] = m[i]
		}
	}
	return params, true
}

// servedAt is where middleman writes an article: the blog's permalink,
// under its prefix, with the tokens filled in; "" when the permalink uses
// a token that cannot be told here.
func (mb middlemanBlog) servedAt(vars map[string]string, directoryIndexes bool) string {
	tmpl := path.Join("/", mb.prefix, mb.permalink)
	known := true
	out := uriTokenRE.ReplaceAllStringFunc(tmpl, func(tok string) string {
		name := strings.Trim(tok, "{}:")
		v, ok := vars[name]
		known = known && ok
		return v
	})
	if !known {
		return ""
	}
	if directoryIndexes && strings.HasSuffix(out, ".html") && path.Base(out) != "index.html" {
		out = strings.TrimSuffix(out, ".html") + "/"
	}
	return out
}

func (sc *siteConfig) readJekyll(site *Site) {
	// Jekyll dates a post without a zone in the zone of the machine that
	// builds it, unless _config.yml names one.
	sc.zoneName = ""
	for _, name := range []string{"_config.yml", "_config.yaml", "_config.toml"} {
		b, ok, _ := site.Read(name)
		if !ok {
			continue
		}
		sc.file = name
		var cfg struct {
			Future    bool   `yaml:"future" toml:"future"`
			Timezone  string `yaml:"timezone" toml:"timezone"`
			Permalink string `yaml:"permalink" toml:"permalink"`
		}
		if path.Ext(name) == ".toml" {
			_, _ = toml.Decode(string(b), &cfg)
		} else {
			_ = yaml.Unmarshal(b, &cfg)
		}
		sc.future, sc.zoneName, sc.permalink = cfg.Future, cfg.Timezone, cfg.Permalink
		return
	}
}

// hugoConfigs are where hugo reads its config, in its order.
var hugoConfigs = []string{
	"hugo.toml", "hugo.yaml", "hugo.yml", "hugo.json",
	"config.toml", "config.yaml", "config.yml", "config.json",
	"config/_default/hugo.toml", "config/_default/hugo.yaml", "config/_default/hugo.yml", "config/_default/hugo.json",
	"config/_default/config.toml", "config/_default/config.yaml", "config/_default/config.yml", "config/_default/config.json",
}

func (sc *siteConfig) readHugo(site *Site) {
	sc.contentDir = "content"
	for _, name := range hugoConfigs {
		b, ok, _ := site.Read(name)
		if !ok {
			continue
		}
		var m map[string]any
		var err error
		switch path.Ext(name) {
		case ".toml":
			_, err = toml.Decode(string(b), &m)
		case ".json":
			err = json.Unmarshal(b, &m)
		default:
			err = yaml.Unmarshal(b, &m)
		}
		if err != nil {
			continue
		}
		sc.file = name
		// Hugo's config keys are not case-sensitive.
		for k, v := range m {
			switch strings.ToLower(k) {
			case "contentdir":
				if s, ok := v.(string); ok && s != "" {
					sc.contentDir = strings.Trim(s, "/")
				}
			case "buildfuture":
				sc.future, _ = v.(bool)
			case "builddrafts":
				sc.drafts, _ = v.(bool)
			case "timezone":
				if s, ok := v.(string); ok && s != "" {
					sc.zoneName = s
				}
			}
		}
		return
	}
}
