package advisory

import (
	"testing"

	"github.com/async-rs/embargo/stages/release/releasetest"
)

// The advisory stage reads every step a journal of the previous version
// recorded of it, as it was recorded.
func TestAJournalOfThePreviousVersionHoldsThePost(t *testing.T) {
	t.Parallel()
	j := releasetest.JournalV3(t)
	releasetest.ReadAs(t, j, blogFetchedKey)
	releasetest.ReadAs(t, j, postCommittedKey)
	releasetest.ReadAs(t, j, postPushedKey)
	releasetest.ReadAs(t, j, postOnBlogKey)
}
