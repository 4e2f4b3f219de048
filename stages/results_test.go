package stages

import (
	"encoding/json"
	"testing"

	"github.com/async-rs/embargo/pipeline"
)

// recorded puts v in j as the result of a done step, as an earlier run
// would have left it.
func recorded(t *testing.T, j *pipeline.Journal, stage, step string, v pipeline.Result) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	st := j.Stage(stage)
	st.Steps = append(st.Steps, &pipeline.StepRecord{Name: step, State: pipeline.StateDone, Result: b, Summary: v.Summary()})
}
