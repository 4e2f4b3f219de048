// Package stages holds the release, one stage a file. All is the whole
// pipeline, in order; adding a stage is adding a file and a line here.
package stages

import "github.com/async-rs/embargo/pipeline"

// All is the release, in order. Each stage names what it needs (Needs),
// and the engine starts it once that is done: push, promote and publish
// start together after preflight, prepare everything before T0 and make
// their first public write when the gate opens.
func All() []pipeline.Stage {
	return []pipeline.Stage{
		Preflight{}, // check everything that can be checked before T0
		Gate{},      // wait for T0, to the second, on every target's clock
		Push{},      // at T0: one atomic push of the held branches and tags
		Promote{},   // at T0: copy pre-built images to their public names, by digest
		Publish{},   // at T0: cargo publish of every crate, sealed bytes only
		Advisory{},  // after publish: the post and its feed entry on the blog
		GHSA{},      // after publish: the draft GitHub security advisory published
		Verify{},    // last: everything live, within the window
	}
}
