package templates

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/async-rs/embargo/semrange"
)

//go:embed *.tmpl
var embedded embed.FS

// Template file names. A project overrides one by putting a file of the
// same name in its override folder.
const (
	TemplateAdvisory = "advisory.md.tmpl" // the post body, shared by every style
	TemplateRustSec  = "rustsec.md.tmpl"
	TemplateMail     = "mail.txt.tmpl"
)

// BlogStyles are the static-site generators a post is rendered for, each
// with its post-<style>.md.tmpl. The config's check knows the same list; a
// test of stages keeps the two equal.
var BlogStyles = []string{"middleman", "hugo", "jekyll", "zola"}

// PostTemplate is the template of a blog style's post.
func PostTemplate(style string) string { return "post-" + style + ".md.tmpl" }

// File is one rendered output, at its path relative to the output folder.
type File struct {
	Path    string
	Content []byte
}

// Outputs are the advisory in every format.
type Outputs struct {
	Post    File // the blog post, at Model.PostPath
	RustSec File // crates/<package>/<RustSecID>.md
	OSV     File // <ID>.osv.json
	Mail    File // <ID>.txt
}

// Files lists the outputs in a fixed order.
func (o *Outputs) Files() []File { return []File{o.Post, o.RustSec, o.OSV, o.Mail} }

// Data is what the templates see: the model (fields and methods) and what
// depends on the style and the registry's versions.
type Data struct {
	*Model
	Style string
	// Front writes front matter values as the blog's own posts do.
	Front FrontMatter
	Lines []LineData   // one per maintained line, newest first
	NoFix []NoFixGroup // unmaintained vulnerable series; empty without registry versions
}

// LineData is one maintained release line and its patched range.
type LineData struct {
	Line, Version, Patched string
}

// Render renders every output. style is the blog's (one of BlogStyles),
// conv its posts' conventions, which the post follows (the zero value: the
// template's own); overrideDir, when not "", may hold templates that
// replace the embedded ones of the same name; versions, the package's
// versions on the registry, name the unmaintained series the advisory
// tells to upgrade (nil: none named).
func Render(m *Model, style string, conv Conventions, overrideDir string, versions []string) (*Outputs, error) {
	if !slices.Contains(BlogStyles, style) {
		return nil, fmt.Errorf("blog style %q is not one of %s", style, strings.Join(BlogStyles, ", "))
	}
	set, err := loadTemplates(overrideDir)
	if err != nil {
		return nil, err
	}
	d := &Data{Model: m, Style: style, Front: FrontMatter{conv: conv, m: m, style: style}, NoFix: m.noFixGroups(versions)}
	patched := m.patched()
	for i, f := range m.fixes() {
		d.Lines = append(d.Lines, LineData{Line: f.line, Version: semrange.Plain(f.v), Patched: patched[i].String()})
	}

	exec := func(name string) ([]byte, error) {
		var b bytes.Buffer
		if err := set.ExecuteTemplate(&b, name, d); err != nil {
			return nil, fmt.Errorf("render %s: %w", name, err)
		}
		return tidy(b.Bytes()), nil
	}
	o := &Outputs{}
	if o.Post.Content, err = exec(PostTemplate(style)); err != nil {
		return nil, err
	}
	o.Post.Content = tidyFrontMatter(o.Post.Content)
	o.Post.Path = m.PostPath
	if o.RustSec.Content, err = exec(TemplateRustSec); err != nil {
		return nil, err
	}
	o.RustSec.Path = path.Join("crates", m.Package, m.RustSecID+".md")
	if o.OSV.Content, err = OSV(m); err != nil {
		return nil, err
	}
	o.OSV.Path = m.ID + ".osv.json"
	mail, err := exec(TemplateMail)
	if err != nil {
		return nil, err
	}
	o.Mail = File{Path: m.ID + ".txt", Content: wrapMail(mail, mailWidth)}
	return o, nil
}

// loadTemplates parses the embedded templates, each replaced by the file of
// the same name in overrideDir when there is one, into one set so that they
// can include each other by name.
func loadTemplates(overrideDir string) (*template.Template, error) {
	names, err := fs.Glob(embedded, "*.tmpl")
	if err != nil {
		return nil, err
	}
	set := template.New("").Funcs(funcs).Option("missingkey=error")
	for _, name := range names {
		src, err := embedded.ReadFile(name)
		if err != nil {
			return nil, err
		}
		from := "embedded template " + name
		if overrideDir != "" {
			p := filepath.Join(overrideDir, name)
			b, err := os.ReadFile(p)
			switch {
			case err == nil:
				src, from = b, "template override "+p
			case !errors.Is(err, fs.ErrNotExist):
				return nil, fmt.Errorf("template override: %w", err)
			}
		}
		if _, err := set.New(name).Parse(string(src)); err != nil {
			return nil, fmt.Errorf("%s: %w", from, err)
		}
	}
	return set, nil
}

var funcs = template.FuncMap{
	"quote":   quote,
	"list":    list,
	"trim":    strings.TrimSpace,
	"join":    strings.Join,
	"joinAnd": joinAnd,
	"date":    func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
	"rfc3339": func(t time.Time) string {
		return t.UTC().Format(time.RFC3339)
	},
	"jekyllTime": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 -0700") },
	"utc":        func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
}

// quote writes s as a double-quoted string that TOML and YAML both read
// back as s.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// list writes an inline array of quoted strings, valid in TOML and YAML.
func list(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// tidyFrontMatter removes the blanks that end lines of a post's front
// matter ("tags: " before a list written a line an item). The body is
// left as it is: two blanks end a line in Markdown.
func tidyFrontMatter(b []byte) []byte {
	lines := bytes.SplitAfter(b, []byte("\n"))
	if len(lines) == 0 {
		return b
	}
	fence := bytes.TrimSpace(lines[0])
	if !bytes.Equal(fence, []byte("---")) && !bytes.Equal(fence, []byte("+++")) {
		return b
	}
	var out bytes.Buffer
	out.Write(lines[0])
	i := 1
	for ; i < len(lines); i++ {
		line := bytes.TrimRight(lines[i], " \t\n")
		out.Write(line)
		if bytes.HasSuffix(lines[i], []byte("\n")) {
			out.WriteByte('\n')
		}
		if bytes.Equal(line, fence) {
			i++
			break
		}
	}
	for ; i < len(lines); i++ {
		out.Write(lines[i])
	}
	return out.Bytes()
}

// tidy ends the text with exactly one newline.
func tidy(b []byte) []byte {
	return append(bytes.TrimRight(b, " \t\n"), '\n')
}

// WriteDir writes every output under dir, creating folders as needed. Paths
// come from the config, so one that would leave dir is refused.
func (o *Outputs) WriteDir(dir string) error {
	for _, f := range o.Files() {
		rel := filepath.FromSlash(f.Path)
		if f.Path == "" || filepath.IsAbs(rel) || !filepath.IsLocal(rel) {
			return fmt.Errorf("output path %q is not inside the output folder", f.Path)
		}
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Content, 0o644); err != nil {
			return err
		}
	}
	return nil
}
