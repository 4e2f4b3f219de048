package stages

import (
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/templates"
)

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
