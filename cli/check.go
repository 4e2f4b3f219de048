package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

func (a *app) checkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate the config and run preflight; makes nothing public, writes only the state directory",
		Long: `Validate the config and run preflight, as the run will. Nothing is pushed,
uploaded or posted, and the journal records nothing.

It writes only in the state directory (.embargo beside the config, which
carries a .gitignore of its own, so git status never shows it): the vault
holding the held branches and a copy of the public refs, a work tree and a
CARGO_HOME per line where every crate is packaged and verified, the
Cargo.lock pinned for a line that commits none, and a clone of the blog.
That is the slow part of a release, done before T0; the run reuses it.

Ready (exit 0) means a run would release: after T0 that is a release
prepared before T0 or already begun, which a run resumes; any other T0 in
the past is refused by run, and so is not ready, unless --late says, as
for run, that the embargo is over.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			s, err := a.checkedPreflight(cmd.Context(), cfg, "ready", false)
			if err != nil {
				return err
			}
			defer s.close()
			if a.g.json {
				s.run.Out.Emit(pipeline.Event{Kind: pipeline.EventReport, Data: map[string]any{"ready": true}})
			} else {
				if a.clock.Now().Before(cfg.T0()) {
					fmt.Fprintf(a.stdout, "\nready: %s can be released at %s\n", cfg.Embargo.ID, cfg.T0().Format("2006-01-02 15:04:05Z"))
				} else {
					fmt.Fprintf(a.stdout, "\nready: %s: T0 %s has passed; a run releases what is missing now\n", cfg.Embargo.ID, cfg.T0().Format("2006-01-02 15:04:05Z"))
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&a.late, "late", false, "the embargo is over: check as run --late would release, though the fix is already public or T0 passed before any run prepared for it")
	return cmd
}

// checkedPreflight runs preflight as a check, with an in-memory journal
// (nothing is recorded): its findings are listed, or reported as JSON with
// verdict false, and end the command with ExitFailed as "not <verdict>".
// On success the caller owns, and closes, the session. A check (not a
// reseal) starts from the state directory's journal, as a run would: what
// earlier runs did decides what a run does after T0.
func (a *app) checkedPreflight(ctx context.Context, cfg *config.Config, verdict string, resealing bool) (*session, error) {
	command := release.Checking
	if resealing {
		command = release.Resealing
	}
	s, err := a.open(cfg, a.stateDir(cfg), "", command)
	if err != nil {
		return nil, err
	}
	if !resealing {
		j, err := pipeline.OpenJournalInMemory(filepath.Join(s.run.StateDir, "journal.json"), embargoOf(cfg), a.stageNames(), s.secrets.Scrub)
		if err != nil {
			s.close()
			return nil, err
		}
		s.run.Journal = j
	}
	err = a.engine(s.run.Release).Execute(ctx, s.run.Run, pipeline.Selection{Only: release.Preflight})
	var se *pipeline.StageError
	if errors.As(err, &se) && se.Interrupted {
		// Ctrl-C is not a problem with the release: say what was stopped
		// and that nothing went anywhere, not "1 problem".
		what := "nothing was recorded"
		if resealing {
			what = "nothing was sealed"
		}
		if a.g.json {
			s.run.Out.Emit(pipeline.Event{Kind: pipeline.EventReport, Data: map[string]any{verdict: false, "interrupted": true}})
		} else {
			fmt.Fprintf(a.stdout, "\nnot %s: stopped before preflight finished; %s and nothing is public. Run the same command again to finish.\n", verdict, what)
		}
		s.close()
		return nil, &codeError{code: ExitFailed, err: fmt.Errorf("not %s: interrupted", verdict), silent: true}
	}
	a.sayWhatIsSkipped(s.run)
	if findings := pipeline.AsFindings(err); findings != nil {
		if a.g.json {
			s.run.Out.Emit(pipeline.Event{Kind: pipeline.EventReport, Data: map[string]any{verdict: false, "findings": findings}})
		} else {
			// The failed stage listed them as it ended: once is enough.
			fmt.Fprintf(a.stdout, "\nnot %s: %s, listed above\n", verdict, plural(len(findings), "problem"))
		}
		s.close()
		return nil, &codeError{code: ExitFailed, err: fmt.Errorf("not %s: %d problem(s)", verdict, len(findings)), silent: true}
	}
	if err != nil {
		if a.g.json {
			// The report is the last line whatever ended preflight.
			s.run.Out.Emit(pipeline.Event{Kind: pipeline.EventReport, Data: map[string]any{verdict: false, "error": err.Error()}})
		}
		s.close()
		return nil, err
	}
	return s, nil
}

// sayWhatIsSkipped names the stages a run skips, not configured, and warns
// when that leaves the advisory to be posted by hand: a check passes the
// stages it does not run by in silence otherwise.
func (a *app) sayWhatIsSkipped(r *release.Run) {
	var skipped []string
	for _, st := range a.stages {
		if sk, ok := st.(release.Skipper); ok {
			if why := sk.Skip(r.Config); why != "" {
				skipped = append(skipped, st.Name()+" ("+why+")")
			}
		}
	}
	if len(skipped) > 0 {
		r.Out.Emit(pipeline.Event{Kind: pipeline.EventInfo, Msg: "at T0 a run skips " + strings.Join(skipped, ", ")})
	}
	if why := noAdvisoryPosted(r.Config); why != "" {
		r.Out.Emit(pipeline.Event{Kind: pipeline.EventWarn, Msg: why})
	}
}
