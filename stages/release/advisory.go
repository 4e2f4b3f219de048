package release

import (
	"context"
	"fmt"
	"html"
	"os"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/templates"
)

// overrideDir is the folder, beside the config, whose templates replace the
// embedded ones of the same name.
const overrideDir = "embargo-templates"

// AdvisoryModel builds the advisory model of a config.
func AdvisoryModel(cfg *config.Config) (*templates.Model, error) {
	return templates.NewModel(advisoryInput(cfg))
}

// blogStyle is the generator whose front matter the post carries.
func blogStyle(cfg *config.Config) string {
	if cfg.Blog != nil {
		return cfg.Blog.Style
	}
	return "middleman"
}

// RenderAdvisory renders every output of the advisory, the post following
// the blog's conventions conv; versions are the package's versions on the
// registry (for the no-fix paragraph), or nil.
func RenderAdvisory(cfg *config.Config, m *templates.Model, conv templates.Conventions, versions []string) (*templates.Outputs, error) {
	override := cfg.Resolve(overrideDir)
	if fi, err := os.Stat(override); err != nil || !fi.IsDir() {
		override = ""
	}
	return templates.Render(m, blogStyle(cfg), conv, override, versions)
}

// PackageVersions lists every version of the advisory's package pkg on
// the registry (read only): what the advisory classifies.
func PackageVersions(ctx context.Context, idx RegistryIndex, pkg string) ([]string, error) {
	entries, err := idx.Versions(ctx, pkg)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Vers)
	}
	return out, nil
}

// AdvisoryOutputs is what the advisory and verify stages publish and check:
// the model and its outputs, rendered from the config and the registry
// (read with openIndex), the post following the blog's conventions as
// preflight recorded them (or the seal froze them; without a record, the
// blog's as openBlog reads it).
func AdvisoryOutputs(ctx context.Context, r *Run, openIndex IndexOpener, openBlog BlogOpener) (*templates.Model, *templates.Outputs, error) {
	m, err := AdvisoryModel(r.Config)
	if err != nil {
		return nil, nil, err
	}
	idx, err := openIndex(r.Targets.Registry, Clock(r.Gate))
	if err != nil {
		return nil, nil, err
	}
	versions, err := PackageVersions(ctx, idx, r.Config.Advisory.Package)
	if err != nil {
		return nil, nil, fmt.Errorf("read the versions of %s: %w", r.Config.Advisory.Package, err)
	}
	conv, err := conventionsToPublish(ctx, r, m, openBlog)
	if err != nil {
		return nil, nil, err
	}
	out, err := RenderAdvisory(r.Config, m, conv, versions)
	return m, out, err
}

// advisoryInput is the advisory of a config as the templates take it: the
// release's keys, with each line's fix version read from its tag here, so
// that the templates need to know nothing of the config.
func advisoryInput(cfg *config.Config) templates.Input {
	a := cfg.Advisory
	in := templates.Input{
		ID:            cfg.Embargo.ID,
		Handler:       cfg.Embargo.Handler,
		Published:     cfg.T0(),
		Title:         a.Title,
		Package:       a.Package,
		Date:          a.Date,
		Severity:      a.Severity,
		CVSS:          a.CVSS,
		Aliases:       a.Aliases,
		Categories:    a.Categories,
		Keywords:      a.Keywords,
		Credits:       a.Credits,
		References:    a.References,
		Description:   cfg.Description,
		Functions:     a.Functions,
		Informational: a.Informational,
		License:       a.License,
		RustSecID:     a.RustSecID,
		Unaffected:    a.Unaffected,
	}
	if cfg.GHSA != nil {
		in.GHSA = cfg.GHSA.ID
	}
	for _, r := range cfg.Releases {
		in.Fixes = append(in.Fixes, templates.Fix{Line: r.Line, Version: config.TagVersion(r.Tag)})
	}
	if b := cfg.Blog; b != nil {
		in.BlogAuthor, in.BlogURL, in.BlogPath = b.Author, b.URL, b.Path
	}
	return in
}

// AdvisoryFindings are the problems of the advisory model as findings of the
// config, worded as Validate words them (the preflight reports the same
// three parts through its own add).
func AdvisoryFindings(m *templates.Model) []pipeline.Finding {
	var out []pipeline.Finding
	for _, p := range m.Validate() {
		out = append(out, pipeline.Finding{Subject: p.Subject, Msg: p.Msg, Fix: p.Fix})
	}
	return out
}

// PostMarkers are the strings a page must contain to be the post: its ID
// or its title, as written or HTML-escaped.
func PostMarkers(m *templates.Model) []string {
	set := []string{m.ID, m.Title, html.EscapeString(m.Title)}
	var out []string
	for _, s := range set {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
