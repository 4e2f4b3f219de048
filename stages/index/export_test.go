package index

import "github.com/async-rs/embargo/stages/retry"

// SetHoldClock makes the Views that c serves from now on time their holds'
// bounds on clock.
func SetHoldClock(c *Client, clock retry.Clock) { c.holdClock = clock }

// OnJoin makes c call f whenever a first read of rel waits for one under
// way instead of asking the registry.
func OnJoin(c *Client, f func(rel string)) {
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	c.joining = f
}
