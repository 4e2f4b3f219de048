package bench

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/async-rs/embargo/stages/cargo"
)

// NaiveResult is one measured sequential release, as a person would script
// it.
type NaiveResult struct {
	T0         time.Time
	FirstWrite time.Time
	FirstWhat  string
	Seen       map[string]Seen
	Exit       time.Time // the script ended
}

// TimeToPublic is T0 until the bench's polling saw the last version.
func (r *NaiveResult) TimeToPublic(versions []Version) time.Duration {
	var last time.Time
	for _, v := range versions {
		s, ok := r.Seen[v.NV()]
		if !ok {
			return 0
		}
		last = later(last, s.At)
	}
	return last.Sub(r.T0)
}

// RunNaive releases the setup's world the way a person would script it:
// before T0 a clean clone of every held branch; at T0, for each line in
// turn, `git push` of the held branch and its tag to the public remote,
// then `cargo publish -p CRATE` (verification included, cargo's default)
// for each crate in dependency order. cargo runs with a private CARGO_HOME
// and crates-io replaced by the sandbox, as embargo runs it.
func RunNaive(ctx context.Context, s *Setup, logf func(string, ...any)) (*NaiveResult, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	home := filepath.Join(s.Dir, "naive-cargo-home")
	checkouts := map[string]string{}
	for _, l := range s.World.Lines {
		dir := filepath.Join(s.Dir, "naive", strings.ReplaceAll(l.Line, ".", "_"))
		if _, err := run(ctx, "", nil, "git", "clone", "--quiet", "--branch", l.HeldBranch, s.World.Source, dir); err != nil {
			return nil, err
		}
		checkouts[l.Line] = dir
	}
	versions := s.Versions()
	res := &NaiveResult{T0: time.Now().Add(200 * time.Millisecond)}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := watch(wctx, s, versions, res.T0)
	if err := sleepUntil(ctx, res.T0); err != nil {
		return nil, err
	}
	for _, l := range s.World.Lines {
		start := time.Now()
		dir := checkouts[l.Line]
		if _, err := run(ctx, dir, nil, "git", "-c", "http.extraHeader="+gitAuthHeader(), "push", "--quiet", s.PublicURL,
			"refs/heads/"+l.HeldBranch+":refs/heads/"+l.PublicBranch, "refs/tags/"+l.Tag); err != nil {
			return nil, err
		}
		for _, c := range s.World.Crates {
			if _, err := run(ctx, dir, naiveCargoEnv(s, home, dir), "cargo", naiveCargoArgs(c)...); err != nil {
				return nil, err
			}
		}
		logf("naive: line %s released in %s", l.Line, time.Since(start).Round(time.Millisecond))
	}
	res.Exit = time.Now()
	res.Seen = w.wait(time.Now().Add(30 * time.Second))
	res.FirstWrite, res.FirstWhat = s.firstWrite(res.T0)
	var missing []string
	for _, v := range versions {
		if _, ok := res.Seen[v.NV()]; !ok {
			missing = append(missing, v.NV())
		}
	}
	if len(missing) > 0 {
		return res, fmt.Errorf("naive release: never showed in the index: %s", strings.Join(missing, ", "))
	}
	return res, nil
}

// naiveCargoArgs publish one crate with verification, the registry
// redirected as embargo's cargo runner does it (stages/cargo).
func naiveCargoArgs(crate string) []string {
	return []string{"--config", `source.crates-io.replace-with="embargo-target"`,
		"publish", "--locked", "-p", crate, "--registry", "embargo-target"}
}

// naiveCargoEnv is the environment of the naive release's cargo: the
// machine's, without its registry settings (as embargo runs cargo), and the
// sandbox registry.
func naiveCargoEnv(s *Setup, home, dir string) []string {
	return append(cargo.CleanEnv(),
		"CARGO_HOME="+home,
		"CARGO_TERM_COLOR=never",
		"CARGO_TERM_PROGRESS_WHEN=never",
		"CARGO_TARGET_DIR="+filepath.Join(dir, "target"),
		"CARGO_REGISTRIES_EMBARGO_TARGET_INDEX="+s.Registry.IndexURL(),
		"CARGO_REGISTRIES_EMBARGO_TARGET_TOKEN="+registryToken,
	)
}

func run(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v\n%s", name, strings.Join(redactArgs(args), " "), err, tail(string(out), 30))
	}
	return string(out), nil
}

// redactArgs keeps the sandbox's credentials out of error messages.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.Contains(a, "Authorization") {
			a = "http.extraHeader=***"
		}
		out[i] = a
	}
	return out
}
