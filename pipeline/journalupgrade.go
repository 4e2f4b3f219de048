package pipeline

import (
	"encoding/json"
	"slices"
	"strings"
)

// upgrade reads a journal of an older version. Version 1 kept no
// attempts: the one run each step records becomes its first attempt, and
// its moments the first ones, so a release in flight keeps the times of
// its uploads. Versions 1 and 2 recorded results as maps of strings: they
// are kept as Legacy, for the result types that read them (LegacyResult).
// Versions up to 3 did not say which moments were public writes: they
// were those named in legacyWrites.
func (j *Snapshot) upgrade() {
	if j.Version >= journalVersion {
		return
	}
	for _, st := range j.Stages {
		for _, s := range st.Steps {
			if j.Version < 3 {
				s.upgradeResult()
			}
			s.markLegacyWrites()
		}
	}
	j.Version = journalVersion
}

// upgradeResult reads a step of version 1 or 2.
func (s *StepRecord) upgradeResult() {
	var legacy map[string]string
	if len(s.Result) > 0 && json.Unmarshal(s.Result, &legacy) == nil {
		s.Legacy, s.Result, s.Summary = legacy, nil, legacy["summary"]
	}
	if len(s.Attempts) > 0 || s.Started == nil {
		return
	}
	s.Attempts = []*Attempt{{Started: s.Started, Ended: s.Ended, State: s.State, Error: s.Error,
		Summary: s.Summary, Moments: legacyMoments(legacy)}}
	if s.First == nil {
		s.First = legacyMoments(legacy)
	}
}

// legacyMoments are the moments of a result recorded as a map of strings:
// its keys ending in _at, as versions 1 and 2 named them.
func legacyMoments(result map[string]string) map[string]string {
	var out map[string]string
	for k, v := range result {
		if strings.HasSuffix(k, "_at") && v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// legacyWrites are the moments journals up to version 3 counted as public
// writes: the push, an image copy, an upload, the GitHub advisory's
// publication; the others were observations.
var legacyWrites = []string{"pushed_at", "copied_at", "uploaded_at", "published_at"}

// markLegacyWrites names, in a step of a journal up to version 3, which of
// its moments were public writes.
func (s *StepRecord) markLegacyWrites() {
	for _, k := range legacyWrites {
		if s.FirstAt(k) != "" && !slices.Contains(s.Public, k) {
			s.Public = append(s.Public, k)
		}
	}
}

// journalVersion 2 keeps each step's attempts and first moments; 3 records
// results as their stage's types; 4 names the moments that were public
// writes.
const journalVersion = 4
