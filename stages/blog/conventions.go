package blog

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"go.yaml.in/yaml/v3"
)

// Site is the blog repository at one commit, as its generator reads it.
type Site struct {
	Paths []string // every file, slash-separated, sorted
	Read  func(name string) ([]byte, bool, error)
}

// Site lists the files of commit, read lazily.
func (c *Clone) Site(commit plumbing.Hash) (*Site, error) {
	cm, err := c.repo.CommitObject(commit)
	if err != nil {
		return nil, fmt.Errorf("blog commit %s: %w", short(commit), err)
	}
	tree, err := cm.Tree()
	if err != nil {
		return nil, err
	}
	var paths []string
	err = tree.Files().ForEach(func(f *object.File) error {
		paths = append(paths, f.Name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the blog at %s: %w", short(commit), err)
	}
	sort.Strings(paths)
	return &Site{Paths: paths, Read: func(name string) ([]byte, bool, error) { return c.File(commit, name) }}, nil
}

// Post is the rendered advisory post, as it will be written.
type Post struct {
	Path    string // in the blog repository
	Content []byte
	URL     string    // where blog.url says it is served
	T0      time.Time // when the site is built with it
}

// Problem is one way the post departs from the site's conventions, named
// by the file that says so (the post, or the author registry).
type Problem struct {
	File, Msg, Fix string
	// Warning: the post still builds and shows where blog.url says; it
	// only looks unlike its neighbours. A problem that is no warning
	// breaks the site's build, or hides or misplaces the post.
	Warning bool
}

// Checked is what the check read from the site.
type Checked struct {
	AuthorsFile string   // the author registry, or ""
	Authors     []string // its keys
	Neighbours  []string // the newest posts beside the post, newest first
}

// newest is how many of the newest posts set the example.
const newest = 3

// authorFiles are where each generator's sites keep their authors.
var authorFiles = map[string][]string{
	"middleman": {"data/authors.yaml", "data/authors.yml", "data/authors.json"},
	"jekyll":    {"_data/authors.yml", "_data/authors.yaml", "_data/authors.json"},
	"hugo":      {"data/authors.yaml", "data/authors.yml", "data/authors.json", "data/authors.toml"},
}

// Check reads the site and lists how the post departs from what it
// expects: what breaks the site's build with the post (an author its
// layout cannot look up, a value the generator fails on), what hides or
// misplaces it (a draft, a date after T0, a path the generator does not
// read, a URL it does not serve) and, as warnings, front matter unlike
// the newest posts'.
func Check(site *Site, style string, post Post) (*Checked, []Problem, error) {
	fm, err := parseFrontMatter(post.Content)
	if err != nil {
		return nil, []Problem{{File: post.Path, Msg: fmt.Sprintf("the rendered post's front matter cannot be read: %v", err), Fix: "check the post template override"}}, nil
	}
	checked := &Checked{}
	var probs []Problem
	add := func(p Problem) { probs = append(probs, p) }

	if err := checkAuthor(site, style, fm, checked, add); err != nil {
		return nil, nil, err
	}
	if err := checkNeighbours(site, style, post, fm, checked, add); err != nil {
		return nil, nil, err
	}
	checkHidden(readSiteConfig(site, style), style, post, fm, add)
	return checked, probs, nil
}

// author is the post's author as the front matter names it.
func author(fm *frontMatter) (key, name string) {
	for _, k := range []string{"author", "extra.author"} {
		if s, ok := fm.text[k]; ok {
			return k, s
		}
	}
	for _, k := range []string{"authors", "extra.authors"} {
		if l := fm.lists[k]; len(l) > 0 {
			return k, l[0]
		}
	}
	return "", ""
}

func checkAuthor(site *Site, style string, fm *frontMatter, conv *Checked, add func(Problem)) error {
	_, name := author(fm)
	if name == "" {
		return nil
	}
	for _, p := range registryFiles(site, style) {
		b, ok, err := site.Read(p)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		keys, err := registryKeys(p, b)
		if err != nil {
			// The generator's own reader may read what this one cannot.
			add(Problem{File: p, Msg: fmt.Sprintf("the author registry cannot be read here (%v): the post's author %q is not checked against it", err, name), Warning: true})
			return nil
		}
		conv.AuthorsFile, conv.Authors = p, keys
		if slices.Contains(keys, name) {
			return nil
		}
		fix := fmt.Sprintf("set blog.author to one of %s, or add %q to %s", quoteAll(keys), name, p)
		users, err := registryUsers(site, p)
		if err != nil {
			return err
		}
		switch {
		case len(users) == 0:
			add(Problem{File: p, Msg: fmt.Sprintf("the post's author %q is not in the site's author registry, though no layout in the repository looks authors up in it: the post builds, credited to an author the site does not list", name), Fix: fix, Warning: true})
		case style == "jekyll":
			// Liquid renders what a lookup does not find as nothing.
			add(Problem{File: p, Msg: fmt.Sprintf("the post's author %q is not in the site's author registry, which %s look authors up in: jekyll builds the post without the author's details", name, strings.Join(users, ", ")), Fix: fix, Warning: true})
		default:
			add(Problem{File: p, Msg: fmt.Sprintf("the post's author %q is not in the site's author registry, which %s look authors up in: the site's build fails on an author it lacks", name, strings.Join(users, ", ")), Fix: fix})
		}
		return nil
	}
	return nil
}

// layoutExts are the extensions of the files a site's pages are made
// with (layouts, partials, shortcodes), not its posts.
var layoutExts = []string{".erb", ".slim", ".haml", ".html", ".htm", ".liquid", ".tera", ".gotmpl", ".tmpl", ".ace", ".amber"}

// registryUsers are the layouts that look authors up in the registry
// file (data/authors.yaml is data.authors in middleman and jekyll,
// .Site.Data.authors in hugo).
func registryUsers(site *Site, registry string) ([]string, error) {
	name := strings.TrimSuffix(path.Base(registry), path.Ext(registry))
	re := regexp.MustCompile(`(?i)\bdata\.` + regexp.QuoteMeta(name) + `\b`)
	var out []string
	for _, p := range site.Paths {
		if !slices.Contains(layoutExts, path.Ext(p)) {
			continue
		}
		b, ok, err := site.Read(p)
		if err != nil {
			return nil, err
		}
		if ok && re.Match(b) {
			out = append(out, p)
		}
	}
	return out, nil
}

// registryFiles are the style's author registry files present in the site;
// for hugo also one file per author under data/authors/.
func registryFiles(site *Site, style string) []string {
	var out []string
	for _, p := range authorFiles[style] {
		if slices.Contains(site.Paths, p) {
			out = append(out, p)
		}
	}
	return out
}

// registryKeys are the top-level keys of an author registry: a mapping of
// author to details (YAML, JSON or TOML), or a list of names.
func registryKeys(name string, b []byte) ([]string, error) {
	switch path.Ext(name) {
	case ".json":
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err == nil {
			return sortedKeysOf(m), nil
		}
		var l []string
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("neither an object of authors nor a list of names")
		}
		return l, nil
	case ".toml":
		var m map[string]any
		if _, err := toml.Decode(string(b), &m); err != nil {
			return nil, err
		}
		return sortedKeysOf(m), nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	var keys []string
	switch root := doc.Content[0]; root.Kind {
	case yaml.MappingNode:
		for i := 0; i < len(root.Content); i += 2 {
			keys = append(keys, root.Content[i].Value)
		}
	case yaml.SequenceNode:
		for _, e := range root.Content {
			if e.Kind == yaml.ScalarNode {
				keys = append(keys, e.Value)
			}
		}
	default:
		return nil, fmt.Errorf("neither a mapping of authors nor a list of names")
	}
	return keys, nil
}

func sortedKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func quoteAll(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// neighbour is a post beside the advisory's.
type neighbour struct {
	path string
	fm   *frontMatter
	when time.Time
}

// neighbours are the posts in the post's folder (for a page bundle,
// .../slug/index.md, the bundles beside it), newest first.
func neighbours(site *Site, post string) ([]neighbour, error) {
	dir, base := path.Split(post)
	bundle := base == "index.md" || base == "index.markdown"
	if bundle {
		dir, _ = path.Split(strings.TrimSuffix(dir, "/"))
	}
	var out []neighbour
	for _, p := range site.Paths {
		d, b := path.Split(p)
		if p == post || strings.HasPrefix(b, "_index.") {
			continue
		}
		if bundle {
			pd, _ := path.Split(strings.TrimSuffix(d, "/"))
			if pd != dir || b != base {
				continue
			}
		} else if d != dir || !isPostFile(b) {
			continue
		}
		content, ok, err := site.Read(p)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		fm, err := parseFrontMatter(content)
		if err != nil {
			continue // not a post
		}
		n := neighbour{path: p, fm: fm}
		if t, ok := fm.date(); ok {
			n.when = t
		} else if m := fileDateRE.FindStringSubmatch(b); m != nil {
			n.when, _ = time.Parse(time.DateOnly, m[1])
		}
		if n.when.IsZero() {
			continue // an undated page (an index, an about page), not a post
		}
		out = append(out, n)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].when.After(out[j].when) })
	return out, nil
}

func isPostFile(name string) bool {
	for _, ext := range []string{".md", ".markdown", ".html", ".erb", ".adoc"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// checkNeighbours compares the post's front matter with the newest posts'
// beside it: every key they all carry, in the shape they write it, and tags
// spelled as the site spells them.
//
// None of this breaks the build or hides the post, so each is a warning:
// the default templates follow the conventions (Learn), and what remains
// is an override's choice. Only a front matter jekyll cannot read (it
// reads YAML alone) blocks.
func checkNeighbours(site *Site, style string, post Post, fm *frontMatter, conv *Checked, add func(Problem)) error {
	all, err := neighbours(site, post.Path)
	if err != nil || len(all) == 0 {
		return err
	}
	top := all[:min(newest, len(all))]
	var names []string
	for _, n := range top {
		names = append(names, n.path)
	}
	conv.Neighbours = names
	which := "the newest post " + names[0]
	if len(top) > 1 {
		which = fmt.Sprintf("the %d newest posts (%s)", len(top), strings.Join(names, ", "))
	}
	override := "change the post template: a file of the same name in embargo-templates/ replaces the embedded one"

	if top[0].fm.format != fm.format {
		msg := fmt.Sprintf("the post's front matter is %s, %s writes %s", strings.ToUpper(fm.format), which, strings.ToUpper(top[0].fm.format))
		if style == "jekyll" && fm.format != "yaml" {
			add(Problem{File: post.Path, Msg: msg + ": jekyll reads only YAML front matter, and would copy the file as it is instead of making it a post", Fix: override})
		} else {
			add(Problem{File: post.Path, Msg: msg, Fix: override, Warning: true})
		}
	}
	for _, k := range top[0].fm.keys {
		shapes := map[string]bool{}
		inAll := true
		for _, n := range top {
			if !n.fm.has(k) {
				inAll = false
				break
			}
			shapes[n.fm.shapes[k]] = true
		}
		if !inAll {
			continue
		}
		if i := strings.LastIndex(k, "."); i > 0 && !fm.has(k[:i]) {
			continue // the table itself is missing, and reported
		}
		if !fm.has(k) {
			add(Problem{File: post.Path, Msg: fmt.Sprintf("the post has no %q, which %s all carry", k, which), Fix: override, Warning: true})
			continue
		}
		if mine := fm.shapes[k]; !shapes[mine] && !(shapes[shapeTable] && mine == shapeTable) {
			add(Problem{File: post.Path, Msg: fmt.Sprintf("the post writes %q as %s, %s write it as %s", k, mine, which, strings.Join(sortedKeys(shapes), " or ")), Fix: override, Warning: true})
		}
	}
	for _, k := range fm.keys {
		used := false
		for _, n := range all {
			used = used || n.fm.has(k)
		}
		if !used && !strings.Contains(k, ".") {
			add(Problem{File: post.Path, Msg: fmt.Sprintf("the post sets %q, which none of the site's posts beside it use", k), Warning: true})
		}
	}
	for _, k := range []string{"tags", "taxonomies.tags", "categories"} {
		spelled := map[string]bool{}
		for _, n := range all {
			for _, t := range n.fm.values(k, style) {
				spelled[t] = true
			}
		}
		for _, t := range fm.values(k, style) {
			if spelled[t] {
				continue
			}
			for _, s := range sortedKeys(spelled) {
				if strings.EqualFold(strings.ReplaceAll(s, " ", "-"), strings.ReplaceAll(t, " ", "-")) {
					add(Problem{File: post.Path, Msg: fmt.Sprintf("the post's %s entry %q is written %q on the site: it would make a tag page of its own", k, t, s), Fix: override, Warning: true})
					break
				}
			}
		}
	}
	return nil
}
