// Package stages holds the release, one stage a file. All is the whole
// pipeline, in order; adding a stage is adding a file and a line here.
package stages

import "github.com/async-rs/embargo/pipeline"

// All is the release, in order.
func All() []pipeline.Stage {
	return []pipeline.Stage{
		Preflight{}, // check everything that can be checked before T0
		Gate{},      // wait for T0, to the second
		Push{},      // one atomic push of the held branches and tags
		Promote{},   // copy pre-built images to their public names, by digest
		Publish{},   // cargo publish of every crate, sealed bytes only
		Advisory{},  // the post and its feed entry on the blog
		Verify{},    // everything live, within the window
	}
}
