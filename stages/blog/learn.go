package blog

import (
	"slices"
	"strings"

	"github.com/async-rs/embargo/templates"
)

// quotedKeys are the keys whose quoting the post templates follow.
var quotedKeys = []string{"title", "author", "extra.author", "summary", "description", "layout", "date", "tags"}

// Learn reads how the site's posts beside postPath write their front
// matter, for the post templates to follow: the shape of tags, the date's
// layout, quoting, published: true, the keys they use. Each is taken from
// the newest post that writes it; with no post beside it, the conventions
// are the zero value and the templates keep their own.
func Learn(site *Site, style, postPath string) (templates.Conventions, error) {
	sc := readSiteConfig(site, style)
	conv := templates.Conventions{Zone: sc.zoneName}
	all, err := neighbours(site, postPath)
	if err != nil || len(all) == 0 {
		return conv, err
	}
	top := all[:min(newest, len(all))]
	for _, n := range top {
		conv.From = append(conv.From, n.path)
	}

	tagKey := "tags"
	if style == "zola" {
		tagKey = "taxonomies.tags"
	}
	keys, tags := map[string]bool{}, map[string]bool{}
	for _, n := range all {
		for _, k := range n.fm.keys {
			keys[k] = true
		}
		for _, t := range n.fm.values(tagKey, style) {
			tags[t] = true
		}
		if (style == "middleman" || style == "jekyll") && n.fm.shapes["published"] == shapeBool && n.fm.text["published"] == "true" {
			conv.Published = true
		}
	}
	conv.Keys, conv.KnownTags = sortedKeys(keys), sortedKeys(tags)

	if n, ok := newestWith(top, tagKey); ok {
		switch n.fm.shapes[tagKey] {
		case shapeList:
			conv.Tags = "list"
			if n.fm.block[tagKey] {
				conv.Tags = "block"
			}
		case shapeString:
			conv.Tags = "string"
			switch s := n.fm.text[tagKey]; {
			case strings.Contains(s, ", "):
				conv.TagSeparator = ", "
			case strings.Contains(s, ","):
				conv.TagSeparator = ","
			}
		}
	}
	if n, ok := newestWith(top, "date"); ok {
		conv.Date = n.fm.dateLayout("date")
	}
	for _, k := range quotedKeys {
		for _, n := range top {
			if q := n.fm.quotes[k]; q != "" {
				if conv.Quote == nil {
					conv.Quote = map[string]string{}
				}
				conv.Quote[k] = q
				break
			}
		}
	}
	layouts := map[string]bool{}
	for _, n := range top {
		layouts[n.fm.text["layout"]] = true
	}
	if len(layouts) == 1 && !layouts[""] {
		conv.Layout = sortedKeys(layouts)[0]
	}
	return conv, nil
}

// newestWith is the newest of the posts that writes key.
func newestWith(posts []neighbour, key string) (neighbour, bool) {
	i := slices.IndexFunc(posts, func(n neighbour) bool { return n.fm.has(key) })
	if i < 0 {
		return neighbour{}, false
	}
	return posts[i], true
}
