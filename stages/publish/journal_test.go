package publish

import (
	"testing"

	"github.com/async-rs/embargo/stages/release/releasetest"
)

// The publish stage reads every step a journal of the previous version
// recorded of it, as it was recorded.
func TestAJournalOfThePreviousVersionHoldsThePublish(t *testing.T) {
	t.Parallel()
	j := releasetest.JournalV3(t)
	releasetest.ReadAs(t, j, cargoKey)
	for _, line := range []string{"1.13", "1.12"} {
		releasetest.ReadAs(t, j, lineReadyKey(line))
	}
}
