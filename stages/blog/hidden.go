package blog

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
)

// checkHidden lists what would break the site's build with the post, or
// keep the built site from showing it where blog.url says: each of these
// blocks the release. What the generator reads differently than it looks
// (a draft key it ignores) is only a warning.
func checkHidden(sc siteConfig, style string, post Post, fm *frontMatter, add func(Problem)) {
	block := func(msg, fix string) { add(Problem{File: post.Path, Msg: msg, Fix: fix}) }
	warn := func(msg string) { add(Problem{File: post.Path, Msg: msg, Warning: true}) }

	checkDraft(sc, style, fm, block, warn)
	checkBrokenKeys(style, fm, block)

	date, dated := fm.dateIn(sc.zone)
	if m := fileDateRE.FindStringSubmatch(path.Base(post.Path)); !dated && m != nil && (style == "middleman" || style == "jekyll") {
		// Without a date in its front matter, the post is dated by its
		// file name: that day's midnight where the site is.
		if d, err := time.ParseInLocation(time.DateOnly, m[1], sc.zone); err == nil {
			date, dated = d, true
		}
	}
	if dated && !post.T0.IsZero() && date.After(post.T0) {
		if why := futureHides(sc); why != "" {
			block(fmt.Sprintf("the post is dated %s, after T0 %s: %s", date.Format(time.RFC3339), post.T0.UTC().Format(time.RFC3339), why),
				"date the advisory on or before T0's day (advisory.date)")
		}
	}
	checkFileDate(sc, style, post, date, dated, block, warn)
	if !checkPlace(sc, style, post, block) {
		return // misplaced: where it would be served says nothing more
	}
	checkServed(sc, style, post, fm, date, dated, block)
}

// checkDraft: hugo and zola leave drafts out; middleman-blog and jekyll
// have no draft key (jekyll's drafts are the files in _drafts/), and
// leave out a post with published: false.
func checkDraft(sc siteConfig, style string, fm *frontMatter, block func(msg, fix string), warn func(string)) {
	// Ruby's YAML (middleman, jekyll) also reads yes and on as true.
	if v := strings.ToLower(fm.text["draft"]); v == "true" || v == "yes" || v == "on" {
		switch {
		case style == "hugo" && sc.drafts:
		case style == "hugo" || style == "zola":
			block("the post is a draft (draft: true): "+style+" leaves it out of the site", "remove draft from the post template")
		default:
			warn("the post says draft: true, which " + style + " does not read: it is published all the same")
		}
	}
	if v := strings.ToLower(fm.text["published"]); (v == "false" || v == "no" || v == "off") && (style == "middleman" || style == "jekyll") {
		block("the post is unpublished (published: false): "+style+" leaves it out of the site", "remove published from the post template")
	}
}

// hugoDateKeys are the keys hugo reads as dates: a value that is no date
// fails the build ("the published front matter field is not a parsable
// date").
var hugoDateKeys = []string{"date", "publishdate", "pubdate", "published", "lastmod", "modified", "expirydate", "unpublishdate"}

// checkBrokenKeys finds values the generator fails the build on.
func checkBrokenKeys(style string, fm *frontMatter, block func(msg, fix string)) {
	switch style {
	case "hugo":
		for _, k := range fm.keys {
			if !slices.Contains(hugoDateKeys, strings.ToLower(k)) || fm.shapes[k] == shapeDate {
				continue
			}
			if _, ok := parseTime(fm.text[k]); !ok || fm.shapes[k] == shapeBool {
				block(fmt.Sprintf("the post's %q is %s, but hugo reads %s as a date and fails the build on it", k, fm.shapes[k], k), "remove "+k+" from the post template, or write it as a date")
			}
		}
	case "zola":
		for _, k := range fm.keys {
			if strings.HasPrefix(k, "taxonomies.") && fm.shapes[k] != shapeList {
				block(fmt.Sprintf("the post writes %q as %s: zola reads each taxonomy as a list of strings and fails the build on anything else", k, fm.shapes[k]), `write it as a list, e.g. tags = ["security"]`)
			}
		}
	}
}

// futureHides is why the site leaves out a post dated after its build, or
// "" when it builds it all the same (zola has no such rule).
func futureHides(sc siteConfig) string {
	if sc.future {
		return ""
	}
	switch sc.style {
	case "hugo":
		return "hugo leaves posts dated in the future out of the build (buildFuture is not set)"
	case "jekyll":
		return "jekyll leaves posts dated in the future out of the build (future is not set in " + orDefault(sc.file, "_config.yml") + ")"
	case "middleman":
		return "middleman-blog leaves articles dated in the future out of the build (publish_future_dated is not set)"
	}
	return ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkFileDate: middleman-blog fails the build when the date in an
// article's file name is not its front matter's (in the site's zone);
// jekyll takes the front matter's, and puts the post under it when its
// permalink has the date.
func checkFileDate(sc siteConfig, style string, post Post, date time.Time, dated bool, block func(msg, fix string), warn func(string)) {
	m := fileDateRE.FindStringSubmatch(path.Base(post.Path))
	if m == nil || !dated || date.In(sc.zone).Format(time.DateOnly) == m[1] {
		return
	}
	day := date.In(sc.zone).Format(time.DateOnly)
	fix := "build blog.path from {{.Date}}, the advisory date the front matter carries"
	switch style {
	case "middleman":
		if _, ok := middlemanBlogOf(sc, post.Path); ok {
			block(fmt.Sprintf("the file name says %s but the front matter dates the post %s%s: middleman-blog fails the build when they differ", m[1], day, zoneNote(sc)), fix)
		}
	case "jekyll":
		if jekyllPermalinkDated(sc.permalink) {
			block(fmt.Sprintf("the file name says %s but the front matter dates the post %s%s: jekyll serves it under the front matter's date", m[1], day, zoneNote(sc)), fix)
		} else {
			warn(fmt.Sprintf("the file name says %s but the front matter dates the post %s%s", m[1], day, zoneNote(sc)))
		}
	}
}

func zoneNote(sc siteConfig) string {
	if sc.zoneName == "" || sc.zoneName == "UTC" {
		return ""
	}
	return " in the site's time zone " + sc.zoneName
}

// jekyllPermalinkDated says whether a jekyll permalink puts the date in a
// post's URL (its default, "date", does).
func jekyllPermalinkDated(p string) bool {
	switch p {
	case "", "date", "pretty", "ordinal", "weekdate":
		return true
	case "none":
		return false
	}
	return strings.Contains(p, ":year") || strings.Contains(p, ":month") || strings.Contains(p, ":day") || strings.Contains(p, ":i_")
}

// middlemanBlogOf is the blog of config.rb whose sources the file is an
// article of.
func middlemanBlogOf(sc siteConfig, file string) (middlemanBlog, bool) {
	for _, mb := range sc.blogs {
		if _, ok := mb.article(file); ok {
			return mb, true
		}
	}
	return middlemanBlog{}, false
}

// checkPlace: the post must be where the generator reads posts, or it is
// not one (or not built at all). false: it is not.
func checkPlace(sc siteConfig, style string, post Post, block func(msg, fix string)) bool {
	switch style {
	case "middleman":
		if _, ok := middlemanBlogOf(sc, post.Path); ok {
			return true
		}
		var where []string
		for _, mb := range sc.blogs {
			where = append(where, path.Join("source", mb.prefix, mb.sources)+".<template extension>")
		}
		how := "middleman-blog's default sources"
		if sc.file != "" {
			how = "the blog's prefix and sources in " + sc.file
		}
		block(fmt.Sprintf("the post is not where middleman-blog reads articles (%s, by %s): it would not be an article of the blog", strings.Join(where, " or "), how),
			`set blog.path to match, e.g. "`+exampleMiddlemanPath(sc)+`"`)
		return false
	case "jekyll":
		if !slices.Contains(strings.Split(path.Dir(post.Path), "/"), "_posts") || fileDateRE.FindString(path.Base(post.Path)) == "" {
			block("the post is not a dated file in a _posts folder, which is where jekyll reads posts", `set blog.path under _posts/, e.g. "_posts/{{.Date}}-{{.Slug}}.md"`)
			return false
		}
	case "hugo", "zola":
		dir, why := "content/", ""
		if style == "hugo" && sc.contentDir != "content" {
			dir, why = sc.contentDir+"/", " (contentDir in "+sc.file+")"
		}
		if !strings.HasPrefix(post.Path, dir) {
			block(fmt.Sprintf("the post is outside %s, where %s reads content%s", dir, style, why), fmt.Sprintf("set blog.path under %s", dir))
			return false
		}
	}
	return true
}

func exampleMiddlemanPath(sc siteConfig) string {
	mb := sc.blogs[0]
	p := path.Join("source", mb.prefix, mb.sources) + ".md"
	r := strings.NewReplacer("{year}-{month}-{day}", "{{.Date}}", "{title}", "{{.Slug}}")
	return r.Replace(p)
}

// checkServed: the post must be served where blog.url says, or verify
// looks for it in vain and readers of the announcement find nothing.
func checkServed(sc siteConfig, style string, post Post, fm *frontMatter, date time.Time, dated bool, block func(msg, fix string)) {
	u, err := url.Parse(post.URL)
	if err != nil || post.URL == "" {
		return
	}
	if style == "middleman" {
		if at := middlemanServedAt(sc, post, fm, date, dated); at != "" {
			if !servedMatches(at, u.Path) {
				block(fmt.Sprintf("middleman-blog writes the post to %s (its permalink%s in %s), which blog.url %s does not name", at, indexNote(sc), orDefault(sc.file, "its defaults"), post.URL),
					fmt.Sprintf("set blog.url to the site's address followed by %s", at))
			}
			return
		}
	}
	slug := generatorSlug(style, post.Path, fm)
	if slug == "" {
		return
	}
	if !slices.ContainsFunc(strings.Split(u.Path, "/"), func(seg string) bool {
		return seg == slug || strings.TrimSuffix(seg, ".html") == slug
	}) {
		block(fmt.Sprintf("%s serves this file under the slug %q, which blog.url %s does not contain", style, slug, post.URL),
			"make blog.path and blog.url use the same {{.Slug}}")
	}
}

func indexNote(sc siteConfig) string {
	if sc.directoryIndexes {
		return " and directory_indexes"
	}
	return ""
}

// middlemanServedAt is the path middleman-blog writes the post to, or ""
// when it cannot be told here.
func middlemanServedAt(sc siteConfig, post Post, fm *frontMatter, date time.Time, dated bool) string {
	mb, ok := middlemanBlogOf(sc, post.Path)
	if !ok {
		return ""
	}
	params, _ := mb.article(post.Path)
	vars := map[string]string{}
	slug := params["title"]
	if s := fm.text["slug"]; s != "" {
		slug = s
	}
	if slug == "" {
		return ""
	}
	vars["title"] = slug
	if !dated {
		if params["year"] == "" {
			return ""
		}
		vars["year"], vars["month"], vars["day"] = params["year"], params["month"], params["day"]
	} else {
		d := date.In(sc.zone)
		vars["year"], vars["month"], vars["day"] = d.Format("2006"), d.Format("01"), d.Format("02")
	}
	return mb.servedAt(vars, sc.directoryIndexes)
}

// servedMatches says whether a URL path names the page written at at: the
// same path, or the same at the end (a site served under a path), with a
// directory index written either way.
func servedMatches(at, urlPath string) bool {
	// A server answers a folder with its index.html.
	if d, ok := strings.CutSuffix(at, "/index.html"); ok {
		at = d + "/"
	}
	forms := []string{at}
	if strings.HasSuffix(at, "/") {
		forms = append(forms, at+"index.html", strings.TrimSuffix(at, "/"))
	}
	for _, f := range forms {
		// f begins with a slash: a match at the end is a whole path.
		if strings.HasSuffix(urlPath, f) {
			return true
		}
	}
	return false
}

// generatorSlug is the slug the generator gives the post's file by
// default, or "" when it cannot be told.
func generatorSlug(style, p string, fm *frontMatter) string {
	if s := fm.text["slug"]; s != "" {
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
