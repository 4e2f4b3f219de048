package registry

import (
	"fmt"
	"net/http"
	"time"
)

// RateLimit is crates.io's publish rate limit of one account: a burst of
// new versions, then one every Refill; new crates have a bucket of their
// own. crates.io checks it for publishes with a user's API token; a
// Trusted Publishing token is not counted against a user (crates.io's code
// does so, its documentation does not say), and the sandbox does the same.
type RateLimit struct {
	Versions Bucket // new versions of existing crates
	Crates   Bucket // new crates
}

// Bucket holds Burst tokens and gains one every Refill, up to Burst.
type Bucket struct {
	Burst  int
	Refill time.Duration
}

// CratesIORateLimit is crates.io's default: 30 new versions then one a
// minute, 5 new crates then one every 10 minutes.
var CratesIORateLimit = RateLimit{
	Versions: Bucket{Burst: 30, Refill: time.Minute},
	Crates:   Bucket{Burst: 5, Refill: 10 * time.Minute},
}

// bucketState is a Bucket in use: the tokens left at last.
type bucketState struct {
	b      Bucket
	tokens int
	last   time.Time
}

func newBucketState(b Bucket, now time.Time) *bucketState {
	return &bucketState{b: b, tokens: b.Burst, last: now}
}

// take spends a token if there is one; otherwise it says when the next
// one comes.
func (st *bucketState) take(now time.Time) (bool, time.Time) {
	if st == nil || st.b.Burst <= 0 || st.b.Refill <= 0 {
		return true, time.Time{}
	}
	if gained := int(now.Sub(st.last) / st.b.Refill); gained > 0 {
		st.tokens = min(st.b.Burst, st.tokens+gained)
		st.last = st.last.Add(time.Duration(gained) * st.b.Refill)
		if st.tokens == st.b.Burst {
			st.last = now
		}
	}
	if st.tokens > 0 {
		st.tokens--
		return true, time.Time{}
	}
	return false, st.last.Add(st.b.Refill)
}

// rateLimited answers 429 as crates.io does: its message, with the instant
// to try again after, which is what cargo shows, and Retry-After as an HTTP
// date.
func rateLimited(w http.ResponseWriter, until time.Time, newCrate bool) {
	// HTTP dates have whole seconds: round up, never early.
	until = until.UTC().Truncate(time.Second).Add(time.Second)
	w.Header().Set("Retry-After", until.Format(http.TimeFormat))
	what := "new versions"
	if newCrate {
		what = "new crates"
	}
	writeError(w, http.StatusTooManyRequests, "%s", fmt.Sprintf("You have published too many %s in a short period of time. Please try again after %s or email help@crates.io to have your limit increased.",
		what, until.Format(http.TimeFormat)))
}

// SetRateLimit changes the rate limit; the buckets start full.
func (s *Server) SetRateLimit(rl *RateLimit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setRateLimit(rl)
}

func (s *Server) setRateLimit(rl *RateLimit) {
	s.versionBucket, s.crateBucket = nil, nil
	if rl != nil {
		now := s.now()
		s.versionBucket = newBucketState(rl.Versions, now)
		s.crateBucket = newBucketState(rl.Crates, now)
	}
}
