package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

	path   string
	mu     sync.Mutex
	scrub  func(string) string
	onSave func(*Journal) // after every write; the bundle mirror hooks in here
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

type StepRecord struct {
	Name    string            `json:"name"`
	State   string            `json:"state"`
	Started *time.Time        `json:"started,omitempty"`
	Ended   *time.Time        `json:"ended,omitempty"`
	Result  map[string]string `json:"result,omitempty"`
	Error   string            `json:"error,omitempty"`
}

const journalVersion = 1

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
	}
	for _, name := range stages {
		if j.Stage(name) == nil {
			j.Stages = append(j.Stages, &StageRecord{Name: name, State: StatePending})
		}
	}
	j.order(stages)
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

// Result is a recorded step result, or "" (callers must cope with a missing
// journal by observing the world).
func (j *Journal) Result(stage, step, key string) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.Stage(stage)
	if s == nil {
		return ""
	}
	for _, st := range s.Steps {
		if st.Name == step {
			return st.Result[key]
		}
	}
	return ""
}

// AddClocks records a measurement of the targets' clocks.
func (j *Journal) AddClocks(c ClockCheck) error {
	return j.update(func() { j.Clocks = append(j.Clocks, c) })
}

// update applies fn under the lock and writes the journal atomically.
func (j *Journal) update(fn func()) error {
	j.mu.Lock()
	fn()
	err := j.saveLocked()
	j.mu.Unlock()
	if err == nil && j.onSave != nil {
		j.onSave(j)
	}
	return err
}

// saveLocked writes to a temporary file, syncs it and renames it over the
// journal, so a crash leaves either the old or the new journal, never half.
func (j *Journal) saveLocked() error {
	if j.path == "" {
		return nil // in memory only: `check` changes nothing
	}
	if j.scrub != nil {
		j.scrubLocked()
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(j.path, append(b, '\n'), 0o600)
}

// scrubLocked removes any secret value from every string a stage recorded.
func (j *Journal) scrubLocked() {
	for _, s := range j.Stages {
		s.Error, s.Note = j.scrub(s.Error), j.scrub(s.Note)
		for _, st := range s.Steps {
			st.Error = j.scrub(st.Error)
			for k, v := range st.Result {
				st.Result[k] = j.scrub(v)
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
