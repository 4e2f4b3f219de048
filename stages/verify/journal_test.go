package verify

import (
	"testing"

	"github.com/async-rs/embargo/stages/release/releasetest"
)

// The verify stage reads every step a journal of the previous version
// recorded of it, as it was recorded.
func TestAJournalOfThePreviousVersionHoldsTheVerification(t *testing.T) {
	t.Parallel()
	j := releasetest.JournalV3(t)
	for _, line := range []string{"1.13", "1.12"} {
		releasetest.ReadAs(t, j, cratesVerifiedKey(line))
	}
	releasetest.ReadAs(t, j, feedVerifiedKey)
	releasetest.ReadAs(t, j, postVerifiedKey)
	releasetest.ReadAs(t, j, ghsaLiveKey)
	releasetest.ReadAs(t, j, timelineKey)
}
