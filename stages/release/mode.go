package release

// Mode is how a run of the release goes: what started it, and the
// operator's words on the command line.
type Mode struct {
	Command Command
	// Force is `--force`: a post on the blog or a published GitHub
	// advisory that differs from the release is replaced, and a mail
	// the server may have taken (its answer never recorded) is sent again.
	Force bool
	// Late is `--late`, the operator's word that the embargo is over: a
	// fix already public, or a T0 in the past that no earlier run
	// prepared for, is released now instead of refused.
	Late bool
}

// Command is what the run is for.
type Command int

const (
	// Releasing is `embargo run`: the release itself.
	Releasing Command = iota
	// Checking is `embargo check`: preflight observes and reports, and
	// changes nothing.
	Checking
	// Resealing is the preflight `embargo seal` runs: a check that makes
	// the new seal, so it is held to no older one.
	Resealing
	// Rehearsing is `embargo rehearse`: the release against a sandbox
	// world, whose T0 is the rehearsal's own start.
	Rehearsing
)

// Check is true under `embargo check` and a seal's preflight: observe and
// report, change nothing.
func (m Mode) Check() bool { return m.Command == Checking || m.Command == Resealing }

// Reseal is true for the preflight of `embargo seal`.
func (m Mode) Reseal() bool { return m.Command == Resealing }

// Rehearsal is true under `embargo rehearse`: T0 is the rehearsal's start,
// not the embargo's, so the calendar, the late-start rule and a seal's T0
// do not apply to it.
func (m Mode) Rehearsal() bool { return m.Command == Rehearsing }
