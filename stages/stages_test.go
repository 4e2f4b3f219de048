package stages

import (
	"testing"

	"github.com/async-rs/embargo/stages/release"
)

// The release's graph: every need names a stage before it in the list (so
// the engine can never wait on a misspelt or later stage), and push,
// promote and publish need only preflight, so the gate opens them all at
// once.
func TestEveryNeedIsAnEarlierStage(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, st := range All(release.Clients{}) {
		for _, need := range st.Needs() {
			if !seen[need] {
				t.Errorf("stage %s needs %q, which is not a stage before it", st.Name(), need)
			}
		}
		seen[st.Name()] = true
	}
	for _, name := range []string{release.Push, release.Promote, release.Publish} {
		for _, st := range All(release.Clients{}) {
			if st.Name() == name {
				if needs := st.Needs(); len(needs) != 1 || needs[0] != release.Preflight {
					t.Errorf("%s needs %v, want only preflight: it must start with the others and wait for the gate itself", name, needs)
				}
			}
		}
	}
}
