package pipeline

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"
)

// The journal's records: a stage, its steps and their attempts, as the
// journal writes them and a Snapshot copies them.

// Stage and step states, as `status --json` prints them.
const (
	StatePending = "pending"
	StateRunning = "running"
	StateDone    = "done"
	StateSkipped = "skipped"
	StateFailed  = "failed"
	// StateInterrupted is a stage or step cut short by the operator
	// (Ctrl-C, SIGTERM): nothing failed, and a re-run from it resumes.
	StateInterrupted = "interrupted"
)

// Snapshot is the journal as it is written to disk, and as a reader sees
// it at one instant: a copy, which the steps still running never change.
type Snapshot struct {
	Version int            `json:"version"`
	ID      string         `json:"id"`
	T0      time.Time      `json:"t0"`
	Window  string         `json:"window"`
	Stages  []*StageRecord `json:"stages"`
	// Clocks are the measurements of the public targets' clocks, oldest
	// first.
	Clocks []ClockCheck `json:"clocks,omitempty"`
}

// Stage returns the record of a stage, or nil.
func (s *Snapshot) Stage(name string) *StageRecord {
	for _, st := range s.Stages {
		if st.Name == name {
			return st
		}
	}
	return nil
}

type StageRecord struct {
	Name    string        `json:"name"`
	State   string        `json:"state"`
	Started *time.Time    `json:"started,omitempty"`
	Ended   *time.Time    `json:"ended,omitempty"`
	Error   string        `json:"error,omitempty"`
	Note    string        `json:"note,omitempty"`
	Steps   []*StepRecord `json:"steps,omitempty"`
}

// StepRecord is a step: its state, times, result and error are those of
// its latest attempt; Attempts and First keep what earlier ones did.
type StepRecord struct {
	Name    string     `json:"name"`
	State   string     `json:"state"`
	Started *time.Time `json:"started,omitempty"`
	Ended   *time.Time `json:"ended,omitempty"`
	// Result is the latest attempt's result, as the stage's type wrote it
	// (read it back with Load); Summary is its one line.
	Result  json.RawMessage `json:"result,omitempty"`
	Summary string          `json:"summary,omitempty"`
	Error   string          `json:"error,omitempty"`
	// Legacy is the result of a step recorded by a journal of version 1
	// or 2, a map of strings, kept for the result types that read it.
	Legacy map[string]string `json:"legacy_result,omitempty"`
	// First holds the first value each moment of the step had (the
	// Moments of its results: pushed_at, uploaded_at, visible_at), from
	// the earliest attempt that recorded it. A re-run that finds the crate
	// already on the registry records no uploaded_at, and would not
	// replace the one here if it did: this is when things became public.
	First map[string]string `json:"first,omitempty"`
	// Public names the moments of First that were writes to a public
	// target, as the results said (Moment.Public); the others were
	// observations of one.
	Public []string `json:"public,omitempty"`
	// Attempts is every run of the step, oldest first: the first and the
	// latest maxAttempts-1 are kept, Dropped counts those left out.
	Attempts []*Attempt `json:"attempts,omitempty"`
	Dropped  int        `json:"attempts_dropped,omitempty"`
}

// Attempt is one run of a step: when, how it ended, what it observed.
type Attempt struct {
	Started *time.Time `json:"started"`
	Ended   *time.Time `json:"ended,omitempty"`
	State   string     `json:"state"`
	Error   string     `json:"error,omitempty"`
	Summary string     `json:"summary,omitempty"`
	// Moments are the moments this attempt's result recorded.
	Moments map[string]string `json:"moments,omitempty"`
}

// maxAttempts bounds the history of a step: a verify repeated every few
// minutes for hours must not grow the journal without end.
const maxAttempts = 20

// FirstAt is the first value moment key had in any attempt of the step.
func (s *StepRecord) FirstAt(key string) string {
	if v := s.First[key]; v != "" {
		return v
	}
	for i := len(s.Attempts) - 1; i >= 0; i-- {
		if v := s.Attempts[i].Moments[key]; v != "" {
			return v
		}
	}
	return ""
}

// FirstMoment is a moment of a step, as first recorded.
type FirstMoment struct {
	Name   string
	At     time.Time
	Public bool
}

// FirstMoments are the step's first moments, earliest first (the push,
// an upload before the version shows in the index); a value that is not
// a time is left out.
func (s *StepRecord) FirstMoments() []FirstMoment {
	names := map[string]bool{}
	for k := range s.First {
		names[k] = true
	}
	for _, a := range s.Attempts {
		for k := range a.Moments {
			names[k] = true
		}
	}
	var out []FirstMoment
	for k := range names {
		t, err := time.Parse(time.RFC3339Nano, s.FirstAt(k))
		if err != nil {
			continue
		}
		out = append(out, FirstMoment{Name: k, At: t, Public: slices.Contains(s.Public, k)})
	}
	slices.SortFunc(out, func(a, b FirstMoment) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// begin starts an attempt, in the journal's lock. An attempt still
// running from before was cut off by a crash or a kill: this one is what
// followed.
func (s *StepRecord) begin(now time.Time) *Attempt {
	for _, a := range s.Attempts {
		if a.State == StateRunning {
			a.State, a.Error = StateFailed, "cut off: the run ended before the step did (killed or crashed)"
		}
	}
	a := &Attempt{Started: &now, State: StateRunning}
	s.Attempts = append(s.Attempts, a)
	if len(s.Attempts) > maxAttempts {
		// Keep the first (it made the step's first public move, most
		// often) and the latest ones.
		s.Attempts = append(s.Attempts[:1], s.Attempts[2:]...)
		s.Dropped++
	}
	s.State, s.Started, s.Ended, s.Error = StateRunning, &now, nil, ""
	return a
}

// end records the outcome of attempt a, in the journal's lock: its result
// and the moments the result declared.
func (s *StepRecord) end(a *Attempt, at time.Time, state string, result json.RawMessage, summary string, moments []Moment, err error) {
	s.Ended, s.Result, s.Summary, s.State, s.Error, s.Legacy = &at, result, summary, state, "", nil
	if err != nil {
		s.Error = err.Error()
	}
	a.Ended, a.State, a.Error, a.Summary, a.Moments = &at, state, s.Error, summary, momentTimes(moments)
	for _, m := range moments {
		if m.Public && a.Moments[m.Name] != "" && !slices.Contains(s.Public, m.Name) {
			s.Public = append(s.Public, m.Name)
		}
	}
	for k, v := range a.Moments {
		if s.First[k] == "" {
			if s.First == nil {
				s.First = map[string]string{}
			}
			s.First[k] = v
		}
	}
}

// clone is a deep copy of a stage's record.
func (s *StageRecord) clone() *StageRecord {
	c := *s
	c.Steps = make([]*StepRecord, len(s.Steps))
	for i, st := range s.Steps {
		sc := st.clone()
		c.Steps[i] = &sc
	}
	return &c
}

// clone is a deep copy of a step's record.
func (st *StepRecord) clone() StepRecord {
	c := *st
	c.Result, c.First = slices.Clone(st.Result), maps.Clone(st.First)
	c.Legacy = maps.Clone(st.Legacy)
	c.Attempts = make([]*Attempt, len(st.Attempts))
	for k, a := range st.Attempts {
		ac := *a
		ac.Moments = maps.Clone(a.Moments)
		c.Attempts[k] = &ac
	}
	return c
}
