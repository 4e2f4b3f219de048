// Package cli is embargo's command line: cobra commands over the pipeline.
package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/retry"
)

// Exit codes, the contract of the command line.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
	ExitLocked = 3
)

// globals are the flags every command takes.
type globals struct {
	config  string
	state   string
	json    bool
	quiet   bool
	verbose bool
}

// app carries what commands share; tests construct it with their own
// environment and clock.
type app struct {
	g      globals
	stdout io.Writer
	stderr io.Writer
	getenv func(string) (string, bool)
	clock  pipeline.Clock
	// clients are the stages' outside world, stages the release's stages
	// given them.
	clients release.Clients
	stages  []release.Stage
	force   bool
	late    bool
	// pulled is the bundle `run --bundle` pulled, restored once the run
	// holds the state directory's lock.
	pulled *bundleRun
}

// Main runs the command line and returns the exit code.
func Main(args []string) int {
	a := newApp(os.Stdout, os.Stderr, os.LookupEnv, pipeline.RealClock{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return a.execute(ctx, args)
}

// newApp is the command line writing to stdout and stderr, reading the
// environment with getenv and the time from clock, its stages given the
// real clients.
func newApp(stdout, stderr io.Writer, getenv func(string) (string, bool), clock pipeline.Clock) *app {
	c := release.RealClients()
	return &app{stdout: stdout, stderr: stderr, getenv: getenv, clock: clock, clients: c, stages: stages.All(c)}
}

func (a *app) execute(ctx context.Context, args []string) int {
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if isUnknownCommand(err) {
		err = flagError{fmt.Errorf("%s\nsee embargo --help", strings.TrimSpace(err.Error()))}
	}
	code := exitCode(err)
	var ce *codeError
	if !errors.As(err, &ce) || !ce.silent {
		msg := err.Error()
		if ne := (*nextError)(nil); errors.As(err, &ne) {
			msg = ne.brief()
		}
		secrets := pipeline.NewSecrets(a.getenv)
		fmt.Fprintln(a.stderr, "embargo: "+secrets.Scrub(msg))
	}
	return code
}

// codeError carries an exit code; silent when the message was already shown.
type codeError struct {
	code   int
	err    error
	silent bool
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ce *codeError
	var le *pipeline.LockedError
	var ue *pipeline.UsageError
	switch {
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, &le):
		return ExitLocked
	case config.IsError(err), errors.As(err, &ue):
		return ExitUsage
	case isFlagError(err):
		return ExitUsage
	}
	return ExitFailed
}

type flagError struct{ error }

// isUnknownCommand recognises cobra's error for a command it does not
// know, which it returns as a plain error: bad usage, exit 2.
func isUnknownCommand(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ")
}

func isFlagError(err error) bool {
	var fe flagError
	return errors.As(err, &fe)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "embargo",
		Short: "Release a coordinated security fix on time: push, publish, advise, verify",
		Long: `embargo carries out the release half of a coordinated security disclosure
for a Rust project: the held patched branches and tags are pushed at the
embargo instant T0, never a second before, every crate is published, and
the advisory goes out within the disclosure window.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       Version,
	}
	// --version prints what `embargo version` prints.
	root.SetVersionTemplate(versionLine() + "\n")
	root.Flags().Bool("version", false, "print the version, as embargo version does")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return flagError{fmt.Errorf("%v (see %s --help)", err, c.CommandPath())}
	})
	pf := root.PersistentFlags()
	pf.StringVarP(&a.g.config, "config", "c", "embargo.toml", "the release config")
	pf.StringVar(&a.g.state, "state", "", "state directory (default .embargo beside the config)")
	pf.BoolVar(&a.g.json, "json", false, "print JSON on stdout for scripts: what, each command's help says (events as JSON Lines, or one object)")
	pf.BoolVarP(&a.g.quiet, "quiet", "q", false, "print only warnings and errors")
	pf.BoolVarP(&a.g.verbose, "verbose", "v", false, "print more: what, each command's help says")
	root.AddCommand(a.initCommand(), a.checkCommand(), a.planCommand(), a.runCommand(), a.rehearseCommand(), a.sealCommand(), a.renderCommand(), a.notifyCommand(), a.statusCommand(), a.versionCommand(), a.sandboxCommand())
	// The completion command exists from here on, so that it is checked
	// below like the others; its scripts go where it is made to write.
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch {
		case c.HasSubCommands() && !c.Runnable():
			groupOnly(c)
		case c.Args == nil:
			c.Args = noArgs
		}
	}
	// --json works where a command has something a script reads (events,
	// a report, a plan); elsewhere it is refused rather than ignored.
	root.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		if a.g.json && c.Annotations[jsonOutput] == "" && c.Name() != cobra.ShellCompRequestCmd && c.Name() != cobra.ShellCompNoDescRequestCmd {
			return flagError{fmt.Errorf("%s has no --json output", c.CommandPath())}
		}
		return nil
	}
	for _, c := range root.Commands() {
		out, ok := outputs[c.Name()]
		if !ok {
			continue
		}
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Long = cmp.Or(c.Long, c.Short)
		if out.json != "" {
			c.Annotations[jsonOutput] = out.form
			c.Long += "\n\n--json: " + out.json
		}
		if out.verbose != "" {
			c.Long += "\n-v: " + out.verbose
		}
	}
	return root
}

// jsonOutput is the annotation of a command that prints JSON with --json:
// its form, jsonLines or jsonObject.
const jsonOutput = "json"

// The two forms of --json: events as they happen, one object a line, the
// last one the report; or one object, printed once.
const (
	jsonLines  = "lines"
	jsonObject = "object"
)

// output is what --json prints and what -v adds, for one command.
type output struct {
	form, json string
	verbose    string
}

// outputs are the commands' --json and -v, which their help says; --json
// is refused by the commands not listed with one.
var outputs = map[string]output{
	"check": {form: jsonLines, json: "JSON Lines on stdout: preflight's events as they happen; the last line is the report, {\"ready\": true} or {\"ready\": false, \"findings\": [...]}",
		verbose: "also each step as it starts, and a failed cargo's whole output and command line, not only its error lines"},
	"run": {form: jsonLines, json: "JSON Lines on stdout: every event as it happens; the last line is the final report, {\"report\": ...} with the stages as status --json gives them",
		verbose: "also each step as it starts, and a failed cargo's whole output and command line, not only its error lines"},
	"rehearse": {form: jsonLines, json: "JSON Lines on stdout: every event as it happens; the last line is the final report, as for run (what became of the sandbox world goes to stderr)",
		verbose: "also each step as it starts, and a failed cargo's whole output and command line, not only its error lines"},
	"seal": {form: jsonLines, json: "JSON Lines on stdout: preflight's and the seal's events as they happen; the last line is the report, {\"sealed\": true, \"seal\": PATH} (with --push, \"bundle\": REF@sha256:...)",
		verbose: "also each step as it starts, and a failed cargo's whole output and command line, not only its error lines"},
	"plan":    {form: jsonObject, json: "one JSON object on stdout: the plan (its calendar, the stages with when each runs or why it is skipped, the lines, the versions, the publish forecast, the clocks, late_start)"},
	"status":  {form: jsonObject, json: "one JSON object on stdout: every stage in order with its state, times and steps (see the README)", verbose: "every step, also those without a summary, and every attempt of a step run more than once"},
	"render":  {form: jsonObject, json: "one JSON object on stdout listing each file written (kind, path, bytes, sha256)"},
	"version": {form: jsonObject, json: "one JSON object on stdout: version, commit, go and platform"},
}

// groupOnly makes a command that only groups others (sandbox, completion)
// refuse anything but one of them as bad usage, exit 2, where cobra would
// print its help and exit 0 (embargo completion tcsh); alone, it prints its
// help.
func groupOnly(c *cobra.Command) {
	what := "has no command"
	if c.Name() == "completion" {
		what = "knows no shell"
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		var names []string
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		return flagError{fmt.Errorf("%s %s %q: only %s (see %s --help)", cmd.CommandPath(), what, args[0], orList(names), cmd.CommandPath())}
	}
	c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return flagError{fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}

// loadConfig reads the config; its errors exit 2.
func (a *app) loadConfig() (*config.Config, error) {
	cfg, err := config.Load(a.g.config)
	return cfg, a.configMissing(err)
}

// configMissing adds, to the error of a config that is not there, how to
// get one: most likely this is the first command run in the clone.
func (a *app) configMissing(err error) error {
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 1 {
		return err
	}
	if _, statErr := os.Stat(a.g.config); !errors.Is(statErr, fs.ErrNotExist) {
		return err
	}
	p := &ce.Problems[0]
	p.Msg = "there is no such file"
	p.Fix = "write a starter config with `embargo init` in the clone holding the held branches, or name yours with -c FILE"
	return err
}

func (a *app) stateDir(cfg *config.Config) string {
	if a.g.state != "" {
		abs, err := filepath.Abs(a.g.state)
		if err == nil {
			return abs
		}
		return a.g.state
	}
	return filepath.Join(cfg.Dir, ".embargo")
}

// engine runs the release's stages for rel; with a nil rel it only names
// and selects them.
func (a *app) engine(rel *release.Release) *pipeline.Engine { return release.Engine(a.stages, rel) }

// stageNames are the release's stages, in order: the journal's.
func (a *app) stageNames() []string { return release.Names(a.stages) }

// embargoOf is the release a journal of cfg records.
func embargoOf(cfg *config.Config) pipeline.Embargo {
	return pipeline.Embargo{ID: cfg.Embargo.ID, T0: cfg.T0(), Window: cfg.Window}
}

// newRun prepares the run shared by check, run and rehearse: the release
// as command sets it up, its targets the config's.
func (a *app) newRun(cfg *config.Config, command release.Command, journal *pipeline.Journal, secrets *pipeline.Secrets, out *pipeline.Reporter) *release.Run {
	r := &release.Run{
		Run: &pipeline.Run{
			Gate:    &pipeline.Gate{T0: cfg.T0(), Window: cfg.Window, Clock: a.clock},
			Journal: journal,
			Out:     out,
			Secrets: secrets,
		},
		Release: &release.Release{
			Config:   cfg,
			StateDir: a.stateDir(cfg),
			Targets:  release.Real(cfg, secrets),
			Mode:     release.Mode{Command: command, Force: a.force, Late: a.late},
		},
	}
	// T0 is the world's: the gate measures the public targets' clocks.
	r.Gate.Probe = release.ClockProbe(r)
	return r
}

// registryIndex reads cfg's registry, without a token: plan and render
// read only what anyone may.
func (a *app) registryIndex(cfg *config.Config) (release.RegistryIndex, error) {
	return a.clients.Index(release.Real(cfg, nil).Registry, retry.Wall{})
}

// packageVersions are the versions of the advisory's package on cfg's
// registry.
func (a *app) packageVersions(ctx context.Context, cfg *config.Config) ([]string, error) {
	idx, err := a.registryIndex(cfg)
	if err != nil {
		return nil, err
	}
	return release.PackageVersions(ctx, idx, cfg.Advisory.Package)
}

// looking is a run of cfg that only looks: at the journal j, reading no
// token, writing nothing (plan, render, status).
func (a *app) looking(cfg *config.Config, j *pipeline.Journal, gate *pipeline.Gate) *release.Run {
	return &release.Run{
		Run:     &pipeline.Run{Gate: gate, Journal: j},
		Release: &release.Release{Config: cfg, StateDir: a.stateDir(cfg), Targets: release.Real(cfg, nil)},
	}
}

func (a *app) reporter(secrets *pipeline.Secrets) *pipeline.Reporter {
	r := pipeline.NewReporter(a.stdout, a.g.json, a.clock, secrets.Scrub)
	r.Quiet, r.Verbose = a.g.quiet, a.g.verbose
	r.Color = r.TTY && pipeline.WantColor(a.getenv)
	r.Order = a.stageNames()
	if r.TTY {
		r.Width = terminalWidth(a.stdout)
	}
	return r
}

// primeSecrets reads every token variable the config names, so that their
// values are scrubbed from all output even if a stage never asks for them.
func primeSecrets(cfg *config.Config, s *pipeline.Secrets) {
	for _, name := range []string{cfg.Source.TokenEnv, cfg.Registry.TokenEnv} {
		s.Get(name)
	}
	if cfg.Blog != nil {
		s.Get(cfg.Blog.TokenEnv)
	}
	if cfg.Seal != nil {
		s.Get(cfg.Seal.IdentityEnv)
	}
}
