package stages

import (
	"testing"

	"github.com/async-rs/embargo/pipeline"
)

// The release's graph: every need names a stage before it in the list (so
// the engine can never wait on a misspelt or later stage), and push,
// promote and publish need only preflight, so the gate opens them all at
// once.
func TestEveryNeedIsAnEarlierStage(t *testing.T) {
	seen := map[string]bool{}
	for _, st := range All() {
		n, ok := st.(pipeline.Needer)
		if !ok {
			t.Errorf("stage %s does not say what it needs", st.Name())
			continue
		}
		for _, need := range n.Needs() {
			if !seen[need] {
				t.Errorf("stage %s needs %q, which is not a stage before it", st.Name(), need)
			}
		}
		seen[st.Name()] = true
	}
	for _, name := range []string{"push", "promote", "publish"} {
		for _, st := range All() {
			if st.Name() == name {
				if needs := st.(pipeline.Needer).Needs(); len(needs) != 1 || needs[0] != "preflight" {
					t.Errorf("%s needs %v, want only preflight: it must start with the others and wait for the gate itself", name, needs)
				}
			}
		}
	}
}
