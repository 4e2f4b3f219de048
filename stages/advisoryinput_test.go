package stages

import (
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
