package stages

import (
	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/templates"
)

// AdvisoryInput is the advisory of a config as the templates take it: the
// release's keys, with each line's fix version read from its tag here, so
// that the templates need to know nothing of the config.
func AdvisoryInput(cfg *config.Config) templates.Input {
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
