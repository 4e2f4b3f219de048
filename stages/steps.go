package stages

import (
	"context"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

// namedStep is one step of a stage's list, its result type bound: a stage
// whose Run reads as its steps lists them with step and runs them with
// runSteps.
type namedStep func(context.Context) error

// step runs do as the step k of r recording a T.
func step[T pipeline.Result](r *release.Run, k pipeline.Key[T], do func(context.Context, *T) error) namedStep {
	return func(ctx context.Context) error {
		_, err := pipeline.Step(r.Run, k, func(res *T) error { return do(ctx, res) })
		return err
	}
}

// runSteps runs the steps in order, up to the first that fails.
func runSteps(ctx context.Context, steps ...namedStep) error {
	for _, s := range steps {
		if err := s(ctx); err != nil {
			return err
		}
	}
	return nil
}
