package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Result is what a step leaves in the journal for status, for the stages
// after it and for a re-run: a value of the stage's own type, stored as
// JSON.
type Result interface {
	// Summary says in one line what the step did, for the output and
	// status.
	Summary() string
}

// Said is the result of a step that hands nothing on: what it did, in a
// line.
type Said string

func (s Said) Summary() string { return string(s) }

// Key names a step's result in the journal: the stage that records it, the
// step, and, as its type parameter, the type of the result. Each is
// declared once, beside its result type; the stages that record a result
// and those that read it back name it by its key, so that a step's name is
// never spelled twice and a result is never read as another type.
type Key[T Result] struct {
	Stage, Step string
}

// Moment is when something happened in the world, as a step's result
// records it: a write to a public target (a push, an upload) or the sight
// of one (a version in the index, the post live). The journal keeps the
// first time each moment had, however often the step runs again: when
// things became public.
type Moment struct {
	// Name is the moment's name in the journal ("uploaded_at").
	Name string
	At   time.Time
	// Public is true for a write to a public target, false for an
	// observation of one.
	Public bool
}

// Dated is a result that records moments. The engine asks each result for
// them; a result that is not Dated records none.
type Dated interface {
	Moments() []Moment
}

// Step runs fn as the step k of r's current stage, recording its state,
// times, result and error in the journal, written before and after. fn
// fills in a fresh T; its value is recorded even when fn fails (what it
// saw before it failed), and returned. Each run of a step is an attempt,
// kept in its history.
func Step[T Result](r *Run, k Key[T], fn func(res *T) error) (T, error) {
	if k.Stage != r.Stage() {
		panic(fmt.Sprintf("step %q of stage %s recorded by stage %s", k.Step, k.Stage, r.Stage()))
	}
	name := k.Step
	var res T
	now := r.Now().UTC()
	var rec *StepRecord
	var attempt *Attempt
	if err := r.Journal.update(func() {
		for _, s := range r.stage.Steps {
			if s.Name == name {
				rec = s
			}
		}
		if rec == nil {
			rec = &StepRecord{Name: name}
			r.stage.Steps = append(r.stage.Steps, rec)
		}
		attempt = rec.begin(now)
	}); err != nil {
		return res, fmt.Errorf("write journal: %w", err)
	}
	r.Out.Debugf(r.Stage(), "step %s", name)
	point := r.Stage() + "." + strings.ReplaceAll(name, " ", "_")
	Checkpoint(point + ".started")
	err := recovered(func() error { return fn(&res) })
	Checkpoint(point + ".ran")
	var summary string
	var raw json.RawMessage
	var moments []Moment
	jerr := recovered(func() (err error) {
		summary = res.Summary()
		if d, ok := any(res).(Dated); ok {
			moments = d.Moments()
		}
		raw, err = json.Marshal(res)
		return err
	})
	if jerr != nil && err == nil {
		err = fmt.Errorf("record the result of %s: %w", name, jerr)
	}
	end := r.Now().UTC()
	state := StateDone
	switch {
	case err != nil && r.Interrupted():
		state = StateInterrupted
	case err != nil:
		state = StateFailed
	}
	if jerr := r.Journal.update(func() {
		rec.end(attempt, end, state, r.Journal.scrubResult(raw), r.Journal.scrubText(summary), moments, err)
	}); jerr != nil && err == nil {
		err = fmt.Errorf("write journal: %w", jerr)
	}
	if err == nil {
		r.Out.Emit(Event{Kind: EventDone, Stage: r.Stage(), Step: name, Msg: summary})
	}
	return res, err
}

// LegacyResult is a result type that can read what a journal written
// before results were typed (version 1 and 2) recorded for its step, a map
// of strings: a release prepared by an older embargo is released by this
// one with what its preflight recorded.
type LegacyResult interface {
	ReadLegacy(result map[string]string)
}

// Load is the result the journal records under k; ok is false when the
// journal has none (callers cope with a missing journal by observing the
// world). A result of an older journal is read through T's ReadLegacy, if
// T has one.
func Load[T Result](j *Journal, k Key[T]) (res T, ok bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	rec := j.step(k.Stage, k.Step)
	switch {
	case rec == nil:
		return res, false
	case len(rec.Result) > 0:
		return res, json.Unmarshal(rec.Result, &res) == nil
	case rec.Legacy != nil:
		if l, is := any(&res).(LegacyResult); is {
			l.ReadLegacy(rec.Legacy)
			return res, true
		}
	}
	return res, false
}

// step is the record of a step, or nil, in the journal's lock.
func (j *Journal) step(stage, step string) *StepRecord {
	if s := j.data.Stage(stage); s != nil {
		for _, st := range s.Steps {
			if st.Name == step {
				return st
			}
		}
	}
	return nil
}

// momentTimes are the moments of a result that happened, by name, as the
// journal keeps them: the time as JSON writes it.
func momentTimes(ms []Moment) map[string]string {
	var out map[string]string
	for _, m := range ms {
		if m.At.IsZero() {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[m.Name] = m.At.Format(time.RFC3339Nano)
	}
	return out
}

// scrubResult removes any secret value from every string of a result.
func (j *Journal) scrubResult(raw json.RawMessage) json.RawMessage {
	if j.scrub == nil || len(raw) == 0 {
		return raw
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return raw
	}
	b, err := json.Marshal(scrubValue(v, j.scrub))
	if err != nil {
		return raw
	}
	return b
}

func scrubValue(v any, scrub func(string) string) any {
	switch v := v.(type) {
	case string:
		return scrub(v)
	case []any:
		for i := range v {
			v[i] = scrubValue(v[i], scrub)
		}
	case map[string]any:
		for k := range v {
			v[k] = scrubValue(v[k], scrub)
		}
	}
	return v
}

func (j *Journal) scrubText(s string) string {
	if j.scrub == nil {
		return s
	}
	return j.scrub(s)
}
