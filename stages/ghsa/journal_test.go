package ghsa

import (
	"testing"

	"github.com/async-rs/embargo/stages/release/releasetest"
)

// The ghsa stage reads every step a journal of the previous version
// recorded of it, as it was recorded.
func TestAJournalOfThePreviousVersionHoldsTheGitHubAdvisory(t *testing.T) {
	t.Parallel()
	j := releasetest.JournalV3(t)
	releasetest.ReadAs(t, j, readKey)
	releasetest.ReadAs(t, j, publishedKey)
	releasetest.ReadAs(t, j, verifiedKey)
}
