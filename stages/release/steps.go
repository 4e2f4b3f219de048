package release

import (
	"context"

	"github.com/async-rs/embargo/pipeline"
)

// StepFunc is one step of a stage's list, its result type bound: a stage
// whose Run reads as its steps lists them with Step and runs them with
// RunSteps.
type StepFunc func(context.Context) error

// Step runs do as the step k of r, recording a T.
func Step[T pipeline.Result](r *Run, k pipeline.Key[T], do func(context.Context, *T) error) StepFunc {
	return func(ctx context.Context) error {
		_, err := pipeline.Step(r.Run, k, func(res *T) error { return do(ctx, res) })
		return err
	}
}

// RunSteps runs the steps in order, up to the first that fails.
func RunSteps(ctx context.Context, steps ...StepFunc) error {
	for _, s := range steps {
		if err := s(ctx); err != nil {
			return err
		}
	}
	return nil
}
