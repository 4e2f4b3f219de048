package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/internal/durable"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

func (a *app) runCommand() *cobra.Command {
	var sel pipeline.Selection
	var bundle string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the release: preflight, wait for T0, push, publish, advise, verify",
		Long: `Run the release. Started before T0 it checks everything, prints what it
holds and a countdown, and makes everything public at T0. Every stage first
looks at the world and does only what is missing, so re-running any stage,
on any machine, is safe.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			// Bad flags are refused before anything is pulled or written.
			if _, err := a.engine(nil).Select(sel); err != nil {
				return err
			}
			if bundle != "" {
				// First: the description the config names may be in it.
				var err error
				if a.pulled, err = a.pullBundle(ctx, bundle); err != nil {
					return err
				}
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			return a.runIn(ctx, cfg, a.stateDir(cfg), sel, nil)
		},
	}
	cmd.Flags().StringVar(&sel.From, "from", "", "start at this stage (the ones before are not re-run)")
	cmd.Flags().StringVar(&sel.Only, "only", "", "run just this stage")
	cmd.Flags().BoolVar(&a.force, "force", false, "replace a blog post whose content differs from the rendered advisory; send again a mail whose outcome is unknown")
	cmd.Flags().BoolVar(&a.late, "late", false, "the embargo is over: release now what is still missing, though the fix is already public or T0 passed before any run prepared for it")
	for _, name := range []string{"from", "only"} {
		cmd.RegisterFlagCompletionFunc(name, a.completeStage)
	}
	cmd.Flags().StringVar(&bundle, "bundle", "", "release from a sealed bundle: the `REPOSITORY@sha256:...` that embargo seal --push printed")
	return cmd
}

// session is an open state directory: lock held, journal loaded.
type session struct {
	run     *release.Run
	lock    *pipeline.Lock
	secrets *pipeline.Secrets
	// unfollow stops redrawing the live line at each resize.
	unfollow func()
}

func (s *session) close() {
	s.unfollow()
	s.lock.Release()
}

// open takes the lock and loads the journal of cfg's state directory, for
// a run of command. Only a run that is not a rehearsal reads the tokens.
func (a *app) open(cfg *config.Config, state, journalName string, command release.Command) (*session, error) {
	readTokens := command != release.Rehearsing
	if err := makeStateDir(cfg, state); err != nil {
		return nil, err
	}
	secrets := pipeline.NewSecrets(a.getenv)
	if readTokens {
		primeSecrets(cfg, secrets)
	} else {
		secrets = pipeline.NewSecrets(nil)
	}
	out := a.reporter(secrets)
	lock, err := pipeline.AcquireLock(filepath.Join(state, "lock"), a.clock.Now(), func(msg string) {
		out.Emit(pipeline.Event{Kind: pipeline.EventWarn, Msg: msg})
	})
	if err != nil {
		return nil, err
	}
	jpath := ""
	if journalName != "" {
		jpath = filepath.Join(state, journalName)
	}
	journal, err := pipeline.OpenJournal(jpath, embargoOf(cfg), a.stageNames(), secrets.Scrub)
	if err != nil {
		lock.Release()
		return nil, err
	}
	run := a.newRun(cfg, command, journal, secrets, out)
	run.StateDir = state
	return &session{run: run, lock: lock, secrets: secrets, unfollow: followResizes(out)}, nil
}

// makeStateDir creates the state directory with a .gitignore of its own
// that ignores all of it: it sits beside the config, usually in a clone,
// and holds the vault, work trees, cargo homes and packages (tens of MB),
// which never belong in a commit nor in git status. A .gitignore already
// there is left alone, and none is written into a directory that holds
// the config or a repository's .git (a --state naming a folder of the
// operator's own).
func makeStateDir(cfg *config.Config, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	if abs, err := filepath.Abs(dir); err != nil || abs == cfg.Dir {
		return nil
	}
	for _, name := range []string{".git", ".gitignore"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return nil
		}
	}
	ignore := []byte("# embargo's state directory: nothing in it belongs in a repository.\n*\n")
	if err := durable.WriteFile(filepath.Join(dir, ".gitignore"), ignore, 0o644); err != nil {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	return nil
}

// runIn executes the selected stages under the lock, with the state in
// state, and prints the final report; with a sandbox, the run is a
// rehearsal whose targets are the sandbox's, and no real token is ever
// read.
func (a *app) runIn(ctx context.Context, cfg *config.Config, state string, sel pipeline.Selection, sandbox *release.Sandbox) error {
	command := release.Releasing
	if sandbox != nil {
		command = release.Rehearsing
	}
	s, err := a.open(cfg, state, "journal.json", command)
	if err != nil {
		return err
	}
	defer s.close()
	if sandbox != nil {
		s.run.Targets = sandbox.Targets(cfg)
	}
	mirror, err := a.openBundle(ctx, s)
	if err != nil {
		return err
	}
	eng := a.engine(s.run.Release)
	if mirror != nil {
		// The journal goes beside the bundle as each stage starts: the
		// previous stage's outcome is then there.
		eng.BeforeStage = mirror.StageBoundary
	}
	err = eng.Execute(ctx, s.run.Run, sel)
	mirror.Flush()
	var se *pipeline.StageError
	if errors.As(err, &se) {
		ne := &nextError{err: err, se: se, next: resumeAdvice(cfg, se, sandbox != nil)}
		if se.Interrupted {
			ne.public = publicSoFar(cfg, s.run.Journal.Snapshot().Stages, se.Stopped, sandbox != nil)
		}
		err = ne
	}
	a.finalReport(s.run, err)
	if se != nil {
		return &codeError{code: ExitFailed, err: err, silent: a.g.json}
	}
	return err
}

// nextError is a failed run with the command that resumes it.
type nextError struct {
	err  error
	se   *pipeline.StageError
	next string
	// public says, for a run the operator stopped, what is public so far.
	public string
}

func (e *nextError) Error() string {
	if e.public != "" {
		return e.err.Error() + "\n" + e.public + "\nnext: " + e.next
	}
	return e.err.Error() + "\nnext: " + e.next
}
func (e *nextError) Unwrap() error { return e.err }

// brief is the last word of a failed run: its failure was printed as the
// stage ended, so once is enough. A stop by the operator is said whole:
// when and what it cut short (a stage that never started, which nothing
// printed, too), what is public so far, and the command that resumes.
func (e *nextError) brief() string {
	if e.se.Interrupted {
		return e.Error()
	}
	return fmt.Sprintf("stage %s failed (its error is above)\nnext: %s", e.se.Stage, e.next)
}

// publicSoFar says what the journal records public, stage by stage, for a
// run the operator stopped: what made it public, or, before T0, that
// nothing is (the gate never opened). A rehearsal's is its sandbox's.
func publicSoFar(cfg *config.Config, stages []*pipeline.StageRecord, stop *pipeline.Interruption, rehearsal bool) string {
	var t table
	for _, s := range stages {
		if row := summarize(cfg, s); row.public != "" {
			t.row(cell{text: "  " + s.Name}, cell{text: row.public})
		}
	}
	where := ""
	if rehearsal {
		where = " in the sandbox"
	}
	if len(t.rows) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "public so far%s:\n", where)
		t.write(&b)
		return strings.TrimSuffix(b.String(), "\n")
	}
	if stop != nil && stop.At.Before(stop.T0) {
		return "nothing is public" + where + ": the run was stopped before T0"
	}
	for _, s := range stages {
		if s.Name == release.Gate && s.State != pipeline.StateDone && s.State != pipeline.StateSkipped {
			// Every stage that writes waits for the gate first.
			return "nothing is public" + where + ": the gate had not opened"
		}
	}
	return "nothing is recorded public" + where + " (a write cut short may have landed: the re-run looks at every target before it writes)"
}

// resumeAdvice says how to go on after se: the re-run from the stage it
// names, with the config flag when the config is not the default one.
func resumeAdvice(cfg *config.Config, se *pipeline.StageError, rehearsal bool) string {
	withConfig := ""
	if cfg.Path != "" && cfg.Path != "embargo.toml" {
		withConfig = " -c " + cfg.Path
	}
	if rehearsal {
		// A rehearsal has no --from: it builds a new world each time.
		if se.Interrupted {
			return "`embargo rehearse" + withConfig + "` rehearses again, in a new sandbox world"
		}
		return "fix the cause above, then `embargo rehearse" + withConfig + "` again"
	}
	cmd := "embargo run" + withConfig + " --from " + se.From
	switch {
	case se.Force && se.Only:
		// Forced alone: --force given to the stages after it would
		// replace what they made (a post, a hand-edited GHSA).
		cmd = "embargo run" + withConfig + " --only " + se.From + " --force`, then `" + cmd
	case se.Force:
		cmd += " --force"
	}
	if se.Interrupted {
		return fmt.Sprintf("`%s` resumes where the run was stopped (safe to re-run: every step re-checks the world first)", cmd)
	}
	fix := "fix the cause above"
	if se.Fix != "" {
		fix = se.Fix
	}
	return fmt.Sprintf("%s, then `%s` (safe to re-run: every step re-checks the world first)", fix, cmd)
}

// finalReport prints the outcome: the last JSON line, or the status table.
func (a *app) finalReport(r *release.Run, err error) {
	rep := buildStatus(r.Config, r.Journal, a.clock.Now())
	rep.OK = err == nil
	if err != nil {
		rep.Error = r.Secrets.Scrub(err.Error())
	}
	if a.g.json {
		r.Out.Emit(pipeline.Event{Kind: pipeline.EventReport, Data: map[string]any{"report": rep}})
		return
	}
	r.Out.ClearLive()
	if !a.g.quiet {
		fmt.Fprintln(a.stdout)
		printSummary(a.stdout, rep, r.Config, r.Out.Color)
	}
}

// completeStage offers the stage names, in pipeline order, with what each
// does, for --from and --only.
func (a *app) completeStage(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, st := range a.stages {
		if strings.HasPrefix(st.Name(), toComplete) {
			out = append(out, cobra.CompletionWithDesc(st.Name(), st.Summary()))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
