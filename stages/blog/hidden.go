package blog

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// checkHidden lists what would keep the built site from showing the post.
func checkHidden(site *Site, style string, post Post, fm *frontMatter, add func(Problem)) {
	// Ruby's YAML (middleman, jekyll) also reads yes and on as true.
	if v := strings.ToLower(fm.text["draft"]); v == "true" || v == "yes" || v == "on" {
		add(Problem{File: post.Path, Msg: "the post is a draft (draft: true): the site's build leaves it out", Fix: "remove draft from the post template"})
	}
	if v := strings.ToLower(fm.text["published"]); v == "false" || v == "no" || v == "off" {
		add(Problem{File: post.Path, Msg: "the post is unpublished (published: false): the site's build leaves it out", Fix: "remove published from the post template"})
	}
	date, dated := fm.date()
	if dated && !post.T0.IsZero() && date.After(post.T0) {
		add(Problem{File: post.Path, Msg: fmt.Sprintf("the post is dated %s, after T0 %s: %s", date.Format(time.RFC3339), post.T0.UTC().Format(time.RFC3339), futureHides(style)),
			Fix: "date the advisory on or before T0's day (advisory.date)"})
	}
	base := path.Base(post.Path)
	if m := fileDateRE.FindStringSubmatch(base); m != nil && dated && date.Format(time.DateOnly) != m[1] && (style == "middleman" || style == "jekyll") {
		add(Problem{File: post.Path, Msg: fmt.Sprintf("the file name says %s but the front matter dates the post %s: %s", m[1], date.Format(time.DateOnly), style+" takes the post's date from both and they must agree"),
			Fix: "build blog.path from {{.Date}}, the advisory date the front matter carries"})
	}
	if dir, why := contentDir(site, style); dir != "" && !strings.HasPrefix(post.Path, dir) {
		add(Problem{File: post.Path, Msg: fmt.Sprintf("the post is outside %s, where %s reads posts%s", dir, style, why), Fix: fmt.Sprintf("set blog.path under %s", dir)})
	}
	if style == "jekyll" && !slices.Contains(strings.Split(path.Dir(post.Path), "/"), "_posts") {
		add(Problem{File: post.Path, Msg: "the post is not in a _posts folder, where jekyll reads posts", Fix: `set blog.path under _posts/, e.g. "_posts/{{.Date}}-{{.Slug}}.md"`})
	}
	if slug := generatorSlug(style, post.Path, fm); slug != "" && post.URL != "" {
		if u, err := url.Parse(post.URL); err == nil && !slices.ContainsFunc(strings.Split(u.Path, "/"), func(seg string) bool {
			return seg == slug || strings.TrimSuffix(seg, ".html") == slug
		}) {
			add(Problem{File: post.Path, Msg: fmt.Sprintf("%s serves this file under the slug %q, which blog.url %s does not contain", style, slug, post.URL),
				Fix: "make blog.path and blog.url use the same {{.Slug}}"})
		}
	}
}

func futureHides(style string) string {
	switch style {
	case "hugo":
		return "hugo leaves posts dated in the future out of the build"
	case "jekyll":
		return "jekyll leaves posts dated in the future out of the build"
	case "middleman":
		return "middleman-blog leaves articles dated in the future out of the build"
	}
	return "the post would be dated in the future when the site is built"
}

var (
	middlemanPrefixRE = regexp.MustCompile(`(?m)^\s*blog\.prefix\s*=\s*["']([^"']+)["']`)
	hugoContentDirRE  = regexp.MustCompile(`(?m)^\s*contentDir\s*[=:]\s*["']?([^"'\s]+)`)
)

// contentDir is where the generator reads posts from, with why when the
// site's config says so.
func contentDir(site *Site, style string) (dir, why string) {
	switch style {
	case "middleman":
		if b, ok, _ := site.Read("config.rb"); ok {
			if m := middlemanPrefixRE.FindSubmatch(b); m != nil {
				return "source/" + strings.Trim(string(m[1]), "/") + "/", " (blog.prefix in config.rb)"
			}
		}
		return "source/", ""
	case "hugo":
		for _, c := range []string{"hugo.toml", "config.toml", "hugo.yaml", "config.yaml"} {
			if b, ok, _ := site.Read(c); ok {
				if m := hugoContentDirRE.FindSubmatch(b); m != nil {
					return strings.Trim(string(m[1]), "/") + "/", " (contentDir in " + c + ")"
				}
			}
		}
		return "content/", ""
	case "zola":
		return "content/", ""
	}
	return "", ""
}

// generatorSlug is the slug the generator gives the post's file by
// default, or "" when it cannot be told.
func generatorSlug(style, p string, fm *frontMatter) string {
	if s := fm.text["slug"]; s != "" && (style == "hugo" || style == "zola" || style == "jekyll") {
		return s
	}
	dir, base := path.Split(p)
	if strings.HasPrefix(base, "index.") {
		base = path.Base(strings.TrimSuffix(dir, "/"))
	}
	switch style {
	case "middleman":
		// {year}-{month}-{day}-{title}.html.md: the title is the slug.
		base, _, _ = strings.Cut(base, ".")
		return fileDateRE.ReplaceAllString(base, "")
	case "jekyll", "zola":
		return fileDateRE.ReplaceAllString(strings.TrimSuffix(base, path.Ext(base)), "")
	case "hugo":
		return strings.TrimSuffix(base, path.Ext(base))
	}
	return ""
}
