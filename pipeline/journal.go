package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/async-rs/embargo/internal/durable"
)

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

// Journal is the record of a release: every stage and step with its state,
// times, result and error. It is for audit and speed; every stage observes
// the world again, so a missing journal costs time, never correctness.
// Steps running side by side write it, so its state is read through a
// Snapshot, a copy made under its lock, or through the methods below.
type Journal struct {
	path  string
	mu    sync.Mutex
	data  Snapshot // guarded by mu
	scrub func(string) string
	// Writes are committed in groups: steps that start together (every
	// line's first upload and the push, at T0) share one synced write
	// instead of queueing for one each. changes counts the updates
	// applied, written how many are on disk; one writer at a time.
	changes, written int
	writing          bool
	wrote            *sync.Cond
	failed           int // the updates up to here were in a write that failed
	failure          error
}

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

// StageNames are the journal's stages, in pipeline order.
func (j *Journal) StageNames() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	names := make([]string, len(j.data.Stages))
	for i, s := range j.data.Stages {
		names[i] = s.Name
	}
	return names
}

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

// Embargo is the release a journal records: its identifier, T0 and
// window. A journal of another one is refused rather than mixed in.
type Embargo struct {
	ID     string
	T0     time.Time
	Window time.Duration
}

// OpenJournal loads the journal of e at path, or starts an empty one. A
// journal of another release (different id or T0) is refused rather than
// mixed in.
func OpenJournal(path string, e Embargo, stages []string, scrub func(string) string) (*Journal, error) {
	j := &Journal{path: path, scrub: scrub}
	var b []byte
	err := os.ErrNotExist
	if path != "" {
		b, err = os.ReadFile(path)
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		j.data = Snapshot{Version: journalVersion, ID: e.ID, T0: e.T0.UTC(), Window: e.Window.String()}
	case err != nil:
		return nil, fmt.Errorf("read journal: %w", err)
	default:
		if err := json.Unmarshal(b, &j.data); err != nil {
			return nil, fmt.Errorf("journal %s is corrupt (%v); move it aside and re-run: every stage re-checks the world", path, err)
		}
		if d := j.data; d.ID != e.ID || !d.T0.Equal(e.T0) {
			return nil, fmt.Errorf("journal %s is for %s at %s, not %s at %s; use another --state directory or move it aside",
				path, d.ID, d.T0.Format(time.RFC3339), e.ID, e.T0.UTC().Format(time.RFC3339))
		}
		j.data.Window = e.Window.String()
		j.data.upgrade()
	}
	for _, name := range stages {
		if j.data.Stage(name) == nil {
			j.data.Stages = append(j.data.Stages, &StageRecord{Name: name, State: StatePending})
		}
	}
	j.order(stages)
	return j, nil
}

// OpenJournalInMemory loads the journal at path as OpenJournal does, and
// records what follows in memory only: `check` sees what earlier runs did
// in this state directory (a preflight before T0, a push at T0), as a run
// would, and changes nothing.
func OpenJournalInMemory(path string, e Embargo, stages []string, scrub func(string) string) (*Journal, error) {
	j, err := OpenJournal(path, e, stages, scrub)
	if err != nil {
		return nil, err
	}
	j.path = ""
	return j, nil
}

// order puts the stages in pipeline order (a journal written by an older
// version may lack some or hold them in another order).
func (j *Journal) order(stages []string) {
	byName := map[string]*StageRecord{}
	for _, s := range j.data.Stages {
		byName[s.Name] = s
	}
	ordered := make([]*StageRecord, 0, len(j.data.Stages))
	for _, n := range stages {
		ordered = append(ordered, byName[n])
		delete(byName, n)
	}
	for _, s := range j.data.Stages {
		if _, left := byName[s.Name]; left {
			ordered = append(ordered, s)
		}
	}
	j.data.Stages = ordered
}

// ReadJournal loads a journal for display only.
func ReadJournal(path string) (*Journal, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	j := &Journal{path: path}
	if err := json.Unmarshal(b, &j.data); err != nil {
		return nil, fmt.Errorf("journal %s is corrupt: %v", path, err)
	}
	j.data.upgrade()
	return j, nil
}

// Snapshot is a copy of the journal as it is now.
func (j *Journal) Snapshot() *Snapshot {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := j.data
	c.Stages = make([]*StageRecord, len(j.data.Stages))
	for i, s := range j.data.Stages {
		c.Stages[i] = s.clone()
	}
	c.Clocks = slices.Clone(j.data.Clocks)
	for i := range c.Clocks {
		c.Clocks[i].Offsets = slices.Clone(c.Clocks[i].Offsets)
	}
	return &c
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

// StageState is a stage's state and end, read under the journal's lock.
func (j *Journal) StageState(stage string) (state string, ended *time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if s := j.data.Stage(stage); s != nil {
		if s.Ended != nil {
			end := *s.Ended
			ended = &end
		}
		return s.State, ended
	}
	return "", nil
}

// Steps returns copies of the records of a stage's steps, read under the
// journal's lock (the steps running beside the reader write them).
func (j *Journal) Steps(stage string) []StepRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.data.Stage(stage)
	if s == nil {
		return nil
	}
	out := make([]StepRecord, len(s.Steps))
	for i, st := range s.Steps {
		out[i] = st.clone()
	}
	return out
}

// AddClocks records a measurement of the targets' clocks.
func (j *Journal) AddClocks(c ClockCheck) error {
	return j.update(func() { j.data.Clocks = append(j.data.Clocks, c) })
}

// update applies fn under the lock and returns once a write holding the
// change is on disk. An update that finds a write under way waits for it,
// then writes its own change and any that arrived meanwhile in one go.
func (j *Journal) update(fn func()) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	fn()
	j.changes++
	mine := j.changes
	if j.wrote == nil {
		j.wrote = sync.NewCond(&j.mu)
	}
	for j.written < mine {
		if j.failed >= mine {
			return j.failure
		}
		if j.writing {
			j.wrote.Wait()
			continue
		}
		upTo := j.changes
		data, err := j.encodeLocked()
		if err == nil && j.path != "" {
			j.writing = true
			j.mu.Unlock()
			err = durable.WriteFile(j.path, data, 0o600)
			j.mu.Lock()
			j.writing = false
		}
		if err != nil {
			j.failed, j.failure = upTo, err
		} else {
			j.written = upTo
		}
		j.wrote.Broadcast()
	}
	return nil
}

// encodeLocked is the journal as written to disk, secrets scrubbed.
func (j *Journal) encodeLocked() ([]byte, error) {
	if j.path == "" {
		return nil, nil // in memory only: `check` changes nothing
	}
	if j.scrub != nil {
		j.scrubLocked()
	}
	b, err := json.MarshalIndent(j.data, "", "  ")
	return append(b, '\n'), err
}

// scrubLocked removes any secret value from every string a stage recorded.
func (j *Journal) scrubLocked() {
	for _, s := range j.data.Stages {
		s.Error, s.Note = j.scrub(s.Error), j.scrub(s.Note)
		for _, st := range s.Steps {
			st.Error = j.scrub(st.Error)
			st.Summary = j.scrub(st.Summary)
			for k, v := range st.Legacy {
				st.Legacy[k] = j.scrub(v)
			}
			for k, v := range st.First {
				st.First[k] = j.scrub(v)
			}
			for _, a := range st.Attempts {
				a.Error, a.Summary = j.scrub(a.Error), j.scrub(a.Summary)
				for k, v := range a.Moments {
					a.Moments[k] = j.scrub(v)
				}
			}
		}
	}
}

// stage is the record of a stage the engine runs, which it changes only
// through update.
func (j *Journal) stage(name string) *StageRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.data.Stage(name)
}
