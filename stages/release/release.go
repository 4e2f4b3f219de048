// Package release is the core every stage of the release shares: the
// names of the stages, what a stage hands to the stages after it (its
// results, each with its key), the held tips in the vault, the sealed
// packages and their lockfiles, and the state directory's layout. Each
// stage is a package of its own (stages/preflight, stages/push, ...) that
// imports this core and its clients, never another stage.
package release

// The stages, by name: the journal's, `--from` and `--only`'s. Each stage
// answers to one, and the others name it by it.
const (
	Preflight = "preflight"
	Gate      = "gate"
	Push      = "push"
	Promote   = "promote"
	Publish   = "publish"
	Announce  = "announce"
	Advisory  = "advisory"
	GHSA      = "ghsa"
	Notice    = "notice"
	Verify    = "verify"
)
