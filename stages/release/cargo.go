package release

import (
	"path/filepath"
	"strings"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/retry"
)

// CargoFor is the cargo of one line: a CARGO_HOME of its own, so that lines
// publishing in parallel never wait on each other's package-cache lock. It
// holds the registry's token, and hands it to the cargo commands that need
// it (see cargo.Registry.Token).
//
// In a rehearsal to an alternative registry, cargo keeps the registry's
// real index URL, which it writes into the packages (so that they are the
// sealed bytes), and reaches the sandbox through the rehearsal's proxy,
// which answers for the real registry.
func CargoFor(r *Run, line string) *cargo.Cargo {
	reg := r.Targets.Registry
	return &cargo.Cargo{
		Home:     filepath.Join(r.StateDir, "cargo", safeName(line)),
		Registry: cargo.Registry{Name: reg.Name, Index: reg.CargoIndex, Token: reg.Token},
		Proxy:    reg.Proxy, ProxyCA: reg.ProxyCA,
		Verbose: r.Out != nil && r.Out.Verbose,
		Hide:    SecretVariables(r.Config),
		Now:     Clock(r.Gate).Now,
	}
}

// Clock is what a client waits on between tries: the gate's clock, or
// this machine's where there is no gate (plan, the rate limit's count).
func Clock(g *pipeline.Gate) retry.Clock {
	if g == nil || g.Clock == nil {
		return retry.Wall{}
	}
	return g.Clock
}

// safeName is a line's name as a file name.
func safeName(s string) string {
	return strings.Map(func(c rune) rune {
		if c == '/' || c == '\\' || c == ' ' || c == ':' {
			return '_'
		}
		return c
	}, s)
}
