package push

import (
	"testing"

	"github.com/async-rs/embargo/stages/release/releasetest"
)

// The push stage reads every step a journal of the previous version
// recorded of it, as it was recorded.
func TestAJournalOfThePreviousVersionHoldsThePush(t *testing.T) {
	t.Parallel()
	j := releasetest.JournalV3(t)
	releasetest.ReadAs(t, j, tagsMadeKey)
	releasetest.ReadAs(t, j, preparedKey)
	releasetest.ReadAs(t, j, recheckedKey)
	releasetest.ReadAs(t, j, RefsPushedKey)
	releasetest.ReadAs(t, j, pushVerifiedKey)
}
