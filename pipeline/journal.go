package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
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
type Journal struct {
	Version int            `json:"version"`
	ID      string         `json:"id"`
	T0      time.Time      `json:"t0"`
	Window  string         `json:"window"`
	Stages  []*StageRecord `json:"stages"`
	// Clocks are the measurements of the public targets' clocks, oldest
	// first.
	Clocks []ClockCheck `json:"clocks,omitempty"`

	path  string
	mu    sync.Mutex
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
	// First holds the first value each moment of the step had (a result
	// field ending in _at: pushed_at, uploaded_at, visible_at), from the
	// earliest attempt that recorded it. A re-run that finds the crate
	// already on the registry records no uploaded_at, and would not
	// replace the one here if it did: this is when things became public.
	First map[string]string `json:"first,omitempty"`
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
	// Moments are the moments this attempt recorded (its _at results).
	Moments map[string]string `json:"moments,omitempty"`
}

// maxAttempts bounds the history of a step: a verify repeated every few
// minutes for hours must not grow the journal without end.
const maxAttempts = 20

// IsMoment is true for a result key that records when something happened
// in the world (it ends in _at); its first value is kept in First.
func IsMoment(key string) bool { return strings.HasSuffix(key, "_at") }

// Moments are the moments the stages record, in the order a release
// reaches them: the push, the image copies, the uploads, each version seen
// in the index, the GitHub advisory's publication.
var Moments = []string{"pushed_at", "copied_at", "uploaded_at", "visible_at", "published_at"}

// PublicWrite is whether a moment is a write to a public target; the
// others (visible_at, verify's live_at) are observations of one.
func PublicWrite(moment string) bool {
	switch moment {
	case "pushed_at", "copied_at", "uploaded_at", "published_at":
		return true
	}
	return false
}

// StageNames are the journal's stages, in pipeline order.
func (j *Journal) StageNames() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	names := make([]string, len(j.Stages))
	for i, s := range j.Stages {
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

// end records the outcome of attempt a, in the journal's lock.
func (s *StepRecord) end(a *Attempt, at time.Time, state string, result json.RawMessage, summary string, err error) {
	s.Ended, s.Result, s.Summary, s.State, s.Error, s.Legacy = &at, result, summary, state, "", nil
	if err != nil {
		s.Error = err.Error()
	}
	a.Ended, a.State, a.Error, a.Summary, a.Moments = &at, state, s.Error, summary, moments(result)
	for k, v := range a.Moments {
		if s.First[k] == "" {
			if s.First == nil {
				s.First = map[string]string{}
			}
			s.First[k] = v
		}
	}
}

// OpenJournal loads the journal at path, or starts an empty one. A journal
// of another release (different id or T0) is refused rather than mixed in.
func OpenJournal(path string, cfg *Config, stages []string, scrub func(string) string) (*Journal, error) {
	j := &Journal{path: path, scrub: scrub}
	var b []byte
	err := os.ErrNotExist
	if path != "" {
		b, err = os.ReadFile(path)
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		j.Version, j.ID, j.T0, j.Window = journalVersion, cfg.Embargo.ID, cfg.T0(), cfg.Window.String()
	case err != nil:
		return nil, fmt.Errorf("read journal: %w", err)
	default:
		if err := json.Unmarshal(b, j); err != nil {
			return nil, fmt.Errorf("journal %s is corrupt (%v); move it aside and re-run: every stage re-checks the world", path, err)
		}
		if j.ID != cfg.Embargo.ID || !j.T0.Equal(cfg.T0()) {
			return nil, fmt.Errorf("journal %s is for %s at %s, not %s at %s; use another --state directory or move it aside",
				path, j.ID, j.T0.Format(time.RFC3339), cfg.Embargo.ID, cfg.T0().Format(time.RFC3339))
		}
		j.Window = cfg.Window.String()
		j.upgrade()
	}
	for _, name := range stages {
		if j.Stage(name) == nil {
			j.Stages = append(j.Stages, &StageRecord{Name: name, State: StatePending})
		}
	}
	j.order(stages)
	return j, nil
}

// OpenJournalInMemory loads the journal at path as OpenJournal does, and
// records what follows in memory only: `check` sees what earlier runs did
// in this state directory (a preflight before T0, a push at T0), as a run
// would, and changes nothing.
func OpenJournalInMemory(path string, cfg *Config, stages []string, scrub func(string) string) (*Journal, error) {
	j, err := OpenJournal(path, cfg, stages, scrub)
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
	for _, s := range j.Stages {
		byName[s.Name] = s
	}
	ordered := make([]*StageRecord, 0, len(j.Stages))
	for _, n := range stages {
		ordered = append(ordered, byName[n])
		delete(byName, n)
	}
	for _, s := range j.Stages {
		if _, left := byName[s.Name]; left {
			ordered = append(ordered, s)
		}
	}
	j.Stages = ordered
}

// ReadJournal loads a journal for display only.
func ReadJournal(path string) (*Journal, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	j := &Journal{path: path}
	if err := json.Unmarshal(b, j); err != nil {
		return nil, fmt.Errorf("journal %s is corrupt: %v", path, err)
	}
	j.upgrade()
	return j, nil
}

// Stage returns the record of a stage, or nil.
func (j *Journal) Stage(name string) *StageRecord {
	for _, s := range j.Stages {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// StageState is a stage's state and end, read under the journal's lock.
func (j *Journal) StageState(stage string) (state string, ended *time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if s := j.Stage(stage); s != nil {
		return s.State, s.Ended
	}
	return "", nil
}

// Steps returns copies of the records of a stage's steps, read under the
// journal's lock (the steps running beside the reader write them).
func (j *Journal) Steps(stage string) []StepRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.Stage(stage)
	if s == nil {
		return nil
	}
	out := make([]StepRecord, len(s.Steps))
	for i, st := range s.Steps {
		out[i] = *st
		out[i].Result, out[i].First = slices.Clone(st.Result), maps.Clone(st.First)
		out[i].Legacy = maps.Clone(st.Legacy)
		out[i].Attempts = make([]*Attempt, len(st.Attempts))
		for k, a := range st.Attempts {
			c := *a
			c.Moments = maps.Clone(a.Moments)
			out[i].Attempts[k] = &c
		}
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
	return j.update(func() { j.Clocks = append(j.Clocks, c) })
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
			err = WriteFileAtomic(j.path, data, 0o600)
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
	b, err := json.MarshalIndent(j, "", "  ")
	return append(b, '\n'), err
}

// scrubLocked removes any secret value from every string a stage recorded.
func (j *Journal) scrubLocked() {
	for _, s := range j.Stages {
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

// WriteFileAtomic writes data to path through a synced temporary file and a
// rename, then syncs the folder so the rename itself survives a crash.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
