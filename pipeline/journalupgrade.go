package pipeline

import "encoding/json"

// upgrade reads a journal of an older version. Version 1 kept no
// attempts: the one run each step records becomes its first attempt, and
// its moments the first ones, so a release in flight keeps the times of
// its uploads. Versions 1 and 2 recorded results as maps of strings: they
// are kept as Legacy, for the result types that read them (LegacyResult).
func (j *Snapshot) upgrade() {
	if j.Version >= journalVersion {
		return
	}
	for _, st := range j.Stages {
		for _, s := range st.Steps {
			var legacy map[string]string
			if len(s.Result) > 0 && json.Unmarshal(s.Result, &legacy) == nil {
				s.Legacy, s.Result, s.Summary = legacy, nil, legacy["summary"]
			}
			if len(s.Attempts) > 0 || s.Started == nil {
				continue
			}
			s.Attempts = []*Attempt{{Started: s.Started, Ended: s.Ended, State: s.State, Error: s.Error,
				Summary: s.Summary, Moments: legacyMoments(legacy)}}
			if s.First == nil {
				s.First = legacyMoments(legacy)
			}
		}
	}
	j.Version = journalVersion
}

func legacyMoments(result map[string]string) map[string]string {
	var out map[string]string
	for k, v := range result {
		if IsMoment(k) && v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// journalVersion 2 keeps each step's attempts and first moments; 3 records
// results as their stage's types.
const journalVersion = 3
