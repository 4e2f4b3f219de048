package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/async-rs/embargo/internal/durable"
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

// cutShort names the steps of a stage's latest run that were interrupted.
func (j *Journal) cutShort(rec *StageRecord) []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return rec.CutShort()
}

// CutShort names the steps the operator interrupted in the stage's
// latest run (a step interrupted in an earlier run and not run again
// since is not).
func (s *StageRecord) CutShort() []string {
	var out []string
	for _, st := range s.Steps {
		if st.State == StateInterrupted && st.Started != nil && s.Started != nil && !st.Started.Before(*s.Started) {
			out = append(out, st.Name)
		}
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
