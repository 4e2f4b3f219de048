package release

import (
	"context"

	"github.com/async-rs/embargo/stages/clock"
)

// What the tests of the core read of its insides.
var (
	HostRoot      = hostRoot
	BegunPublicly = begunPublicly
	FromBundle    = fromBundle
	AdvisoryInput = advisoryInput
	ReadSealed    = readSealed
	SourcePath    = sourcePath
)

// ClockTargets are the targets a measurement of r's clocks asks.
func ClockTargets(ctx context.Context, r *Run) []clock.Target {
	return (&worldClocks{}).targets(ctx, r)
}
