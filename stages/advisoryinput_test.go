package stages

import (
	"fmt"
	"slices"
	"testing"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/templates"
)

// The config's check refuses what the templates cannot render and accepts
// what they can: the same blog styles, and the same RustSec placeholder,
// which neither the check nor the templates treat as an assigned id.
func TestTheTemplatesKnowTheConfigsStylesAndPlaceholder(t *testing.T) {
	if !slices.Equal(templates.BlogStyles, pipeline.BlogStyles) {
		t.Errorf("templates render styles %q, the config accepts %q", templates.BlogStyles, pipeline.BlogStyles)
	}
	if templates.RustSecPlaceholder != pipeline.RustSecPlaceholderID {
		t.Errorf("templates' RustSec placeholder %q, the config's %q", templates.RustSecPlaceholder, pipeline.RustSecPlaceholderID)
	}
}

// The advisory's problems read as the config's findings, word for word:
// what render prints and the preflight reports.
func TestAdvisoryFindingsKeepEveryProblemsText(t *testing.T) {
	m := &templates.Model{Categories: []string{"rce"}, Fixes: []templates.Fix{{Line: "1.7", Version: "1.7"}}}
	problems := m.Validate()
	findings := AdvisoryFindings(m)
	if len(problems) != 2 || len(findings) != len(problems) {
		t.Fatalf("problems %v, findings %v", problems, findings)
	}
	for i, p := range problems {
		if p.Fix == "" {
			t.Fatalf("problem %v names no fix: the test would not see a fix dropped", p)
		}
		want := p.Subject + ": " + p.Msg + "\n      fix: " + p.Fix
		if got := fmt.Sprint(findings[i]); got != want {
			t.Errorf("finding %d reads %q, want %q", i, got, want)
		}
	}
}
