// Package bench measures time to public: from the embargo instant T0 until
// every version of every crate of every maintained line shows in the
// registry index. It releases a generated world twice, each time into a
// fresh sandbox (a smart-HTTP git server and a crates.io-compatible registry
// with latency and an index visibility delay): once with `embargo run` (the
// built binary, the real cargo), once the way a person would script it
// (git push, then `cargo publish` with verification, crate after crate,
// line after line). bench_test.go runs both and writes RESULTS.md.
package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/async-rs/embargo/sandbox/demo"
	"github.com/async-rs/embargo/sandbox/gitserver"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/sandbox/world"
)

// Knobs size the world and shape the registry.
type Knobs struct {
	Lines  int // maintained release lines, published in parallel
	Crates int // crates per line, each depending on the one before
	// Latency is added by the registry to every request; IndexDelay is how
	// long after an accepted upload the index starts to show the version.
	Latency    time.Duration
	IndexDelay time.Duration
	// Tree, when set, is the size of a generated dependency tree of other
	// projects' crates on the registry that the first crate depends on (a
	// few directly, the rest through them); the workspace then commits no
	// Cargo.lock, so preflight pins one. Refs adds that many refs
	// (branches, tags, pull-request heads) to the public repository.
	Tree int
	Refs int
	// Registry, when set, is the alternative registry the crates go to
	// (its name), which each dependency between them names; otherwise the
	// registry stands in for crates.io.
	Registry string
}

// RealTreeKnobs are shaped like async-std's release: one crate, about 90
// packages in its dependency tree, no committed lockfile, a public
// repository with some 750 refs; 50 ms a request, versions visible 1 s
// after upload.
func RealTreeKnobs() Knobs {
	return Knobs{Lines: 1, Crates: 1, Latency: 50 * time.Millisecond, IndexDelay: time.Second, Tree: 90, Refs: 750}
}

// DefaultKnobs are the benchmark's: 3 lines of 3 crates, 50 ms a request,
// versions visible 1 s after upload.
func DefaultKnobs() Knobs {
	return Knobs{Lines: 3, Crates: 3, Latency: 50 * time.Millisecond, IndexDelay: time.Second}
}

// KnobsFromEnv applies EMBARGO_BENCH_LINES and EMBARGO_BENCH_CRATES.
func KnobsFromEnv(k Knobs) (Knobs, error) {
	for _, v := range []struct {
		name string
		dst  *int
	}{{"EMBARGO_BENCH_LINES", &k.Lines}, {"EMBARGO_BENCH_CRATES", &k.Crates}} {
		s := os.Getenv(v.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 20 {
			return k, fmt.Errorf("%s=%q: want a whole number from 1 to 20", v.name, s)
		}
		*v.dst = n
	}
	return k, nil
}

// Tokens of the sandbox servers, and the variables embargo reads them from.
const (
	gitTokenEnv      = "EMBARGO_BENCH_GIT_TOKEN"
	gitToken         = "bench-git-3f1c9a"
	registryTokenEnv = "EMBARGO_BENCH_REGISTRY_TOKEN"
	registryToken    = "bench-registry-7e20d4"
)

// Setup is a world just before T0: held branches in a private clone, the
// public repository behind a token-protected smart-HTTP server, an empty
// sandbox registry standing in for crates.io.
type Setup struct {
	Knobs    Knobs
	Dir      string
	World    *world.World
	Git      *gitserver.Server
	Registry *registry.Server
	// PublicURL is the public repository's smart-HTTP URL.
	PublicURL string
}

// Spec is the world of the knobs: crate i depends on crate i-1; line 0 is
// the newest (its public branch is main), each a fix release x.y.1 of x.y.0.
func Spec(dir string, k Knobs) world.Spec {
	crates := make([]string, k.Crates)
	for i := range crates {
		crates[i] = fmt.Sprintf("ttp-%02d", i)
	}
	lines := make([]world.Line, k.Lines)
	for i := range lines {
		minor := 10 + k.Lines - 1 - i
		l := world.Line{
			Line:          fmt.Sprintf("1.%d", minor),
			PublicBranch:  fmt.Sprintf("release-1.%d", minor),
			PublicVersion: fmt.Sprintf("1.%d.0", minor),
			FixVersion:    fmt.Sprintf("1.%d.1", minor),
			HeldBranch:    fmt.Sprintf("embargo/1.%d", minor),
			Tag:           fmt.Sprintf("v1.%d.1", minor),
		}
		if i == 0 {
			l.PublicBranch = "main"
		}
		lines[i] = l
	}
	spec := world.Spec{Dir: dir, Crates: crates, Lines: lines, Author: "Jane Doe <jane@example.org>", Registry: k.Registry}
	if k.Tree > 0 {
		direct, _ := dependencyTree(k.Tree)
		spec.Dependencies = map[string]string{}
		for _, name := range direct {
			spec.Dependencies[name] = "1"
		}
		spec.NoLockfile = true
	}
	return spec
}

// NewSetup builds a fresh world under dir and starts its servers.
func NewSetup(dir string, k Knobs) (*Setup, error) {
	w, err := world.Build(Spec(dir, k))
	if err != nil {
		return nil, err
	}
	git, err := gitserver.Start(dir, gitserver.Options{Token: gitToken})
	if err != nil {
		return nil, err
	}
	reg, err := registry.Start("", registry.Options{
		Dir: filepath.Join(dir, "registry"), Token: registryToken,
		Latency: k.Latency, IndexDelay: k.IndexDelay, CratesIO: k.Registry == "",
	})
	if err != nil {
		git.Close()
		return nil, err
	}
	if err := populate(w, reg, k); err != nil {
		reg.Close()
		git.Close()
		return nil, err
	}
	return &Setup{Knobs: k, Dir: dir, World: w, Git: git, Registry: reg, PublicURL: git.RepoURL("public.git")}, nil
}

// populate seeds the registry with the knobs' dependency tree and adds
// their refs to the public repository.
func populate(w *world.World, reg *registry.Server, k Knobs) error {
	if k.Tree > 0 {
		_, pkgs := dependencyTree(k.Tree)
		if err := seedTree(reg, pkgs); err != nil {
			return fmt.Errorf("seeding the dependency tree: %w", err)
		}
	}
	if k.Refs > 0 {
		if err := addRefs(w.Public, k.Refs); err != nil {
			return fmt.Errorf("adding refs to the public repository: %w", err)
		}
	}
	return nil
}

// Close stops the servers.
func (s *Setup) Close() {
	s.Registry.Close()
	s.Git.Close()
}

// Version is one crate version the release publishes.
type Version struct {
	Line, Name, Version string
	Pos                 int // place in the dependency chain, 0 for the crate depending on none
}

// NV is name@version.
func (v Version) NV() string { return v.Name + "@" + v.Version }

// Versions lists every version of the release, line by line in dependency
// order.
func (s *Setup) Versions() []Version {
	var out []Version
	for _, l := range s.World.Lines {
		for i, c := range s.World.Crates {
			out = append(out, Version{Line: l.Line, Name: c, Version: l.FixVersion, Pos: i})
		}
	}
	return out
}

// Config writes the embargo.toml (and its advisory text) releasing the world
// at t0, and returns its path.
func (s *Setup) Config(t0 time.Time) (string, error) {
	b, err := demo.Config(s.World, demo.Options{
		T0: t0, TokenEnv: gitTokenEnv, Public: s.PublicURL,
		RegistryIndex: s.Registry.IndexURL(), RegistryTokenEnv: registryTokenEnv, RegistryName: s.Knobs.Registry,
	})
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "advisory.md"), []byte(advisoryText), 0o644); err != nil {
		return "", err
	}
	path := filepath.Join(s.Dir, "embargo.toml")
	return path, os.WriteFile(path, b, 0o644)
}

const advisoryText = `A window past the end of the buffer was read when start + len overflowed.
Upgrade to the fixed release of your line.
`

// gitAuthHeader is the HTTP header the real git sends to the sandbox server.
func gitAuthHeader() string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("bench:"+gitToken))
}

// write is one write to a public target the servers saw arrive.
type write struct {
	at   time.Time
	what string
}

// writes lists the receive-pack POSTs and the publish PUTs the servers saw.
func (s *Setup) writes() []write {
	var out []write
	for _, r := range s.Git.Pushes() {
		out = append(out, write{r.Time, "git push (receive-pack POST)"})
	}
	for _, r := range s.Registry.Requests() {
		if r.Method == "PUT" {
			out = append(out, write{r.Time, "upload of " + r.Crate + "@" + r.Version + " (PUT)"})
		}
	}
	return out
}

// firstWrite is the earliest write to a public target at or after since
// (earlyWrites reports the ones before).
func (s *Setup) firstWrite(since time.Time) (time.Time, string) {
	var first write
	for _, w := range s.writes() {
		if !w.at.Before(since) && (first.at.IsZero() || w.at.Before(first.at)) {
			first = w
		}
	}
	return first.at, first.what
}

// pushWrite is when the first receive-pack POST at or after since arrived.
func (s *Setup) pushWrite(since time.Time) time.Time {
	var first time.Time
	for _, r := range s.Git.Pushes() {
		if !r.Time.Before(since) && (first.IsZero() || r.Time.Before(first)) {
			first = r.Time
		}
	}
	return first
}

// earlyWrites lists every write to a public target that arrived before t0.
func (s *Setup) earlyWrites(t0 time.Time) []string {
	var out []string
	for _, w := range s.writes() {
		if w.at.Before(t0) {
			out = append(out, fmt.Sprintf("%s %s before T0", w.what, t0.Sub(w.at)))
		}
	}
	return out
}

// puts indexes the registry's accepted uploads by name@version.
func (s *Setup) puts() map[string]registry.Request {
	out := map[string]registry.Request{}
	for _, r := range s.Registry.Requests() {
		if r.Method == "PUT" && r.Status == 200 && r.Crate != "" {
			out[r.Crate+"@"+r.Version] = r
		}
	}
	return out
}

// sleepUntil waits for t or the context.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
