package preflight

import (
	"testing"

	"github.com/async-rs/embargo/stages/release/releasetest"
)

// Preflight reads every step of its own a journal of the previous version
// recorded, as it was recorded.
func TestAJournalOfThePreviousVersionHoldsPreflight(t *testing.T) {
	t.Parallel()
	j := releasetest.JournalV3(t)
	releasetest.ReadAs(t, j, blogCheckedKey)
	releasetest.ReadAs(t, j, ghsaCheckedKey)
	releasetest.ReadAs(t, j, credentialsKey)
	releasetest.ReadAs(t, j, clocksKey)
}
