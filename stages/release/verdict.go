package release

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// RegistryTakes is publish's verdict for the stages whose writes cannot
// be taken back (push, promote): they await it once their gate opens.
// Publish settles it go once the registry has accepted an upload (or
// holds one of the release's versions already, or answered in a way that
// shows the token authenticated, such as crates.io's rate limit), and
// no-go when the registry refuses the first upload's credential.
var RegistryTakes = pipeline.Verdict{Name: "the registry takes the publish credential", Stage: Publish}

// AwaitRegistry waits, after the gate has opened, for the registry's
// answer to the first upload (registryTakes); done is what the stage would
// have made public ("pushed", "copied"). A refusal is returned saying
// that nothing was.
func AwaitRegistry(ctx context.Context, r *Run, done string) (time.Duration, error) {
	start := r.Now()
	// On a terminal the wait is seen: it is the stage's part of the live
	// line until the registry answers.
	r.Out.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: r.Stage(), Msg: r.Stage() + ": waiting for the registry to take the first upload"})
	err := r.Await(ctx, RegistryTakes)
	r.Out.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: r.Stage()})
	var refusal *pipeline.Refusal
	if errors.As(err, &refusal) {
		return 0, fmt.Errorf("nothing %s: the registry refused the first upload, and the fix public without a patched crate to upgrade to would be a half release: %w", done, err)
	}
	return r.Now().Sub(start), err
}
