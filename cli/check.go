package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/async-rs/embargo/pipeline"
)

func (a *app) checkCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Validate the config and run preflight; changes nothing",
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
				fmt.Fprintf(a.stdout, "\nready: %s can be released at %s\n", cfg.Embargo.ID, cfg.T0().Format("2006-01-02 15:04:05Z"))
			}
			return nil
		},
	}
}

// checkedPreflight runs preflight as a check, with an in-memory journal
// (nothing is recorded): its findings are listed, or reported as JSON with
// verdict false, and end the command with ExitFailed as "not <verdict>".
// On success the caller owns, and closes, the session.
func (a *app) checkedPreflight(ctx context.Context, cfg *pipeline.Config, verdict string, resealing bool) (*session, error) {
	s, err := a.open(cfg, a.stateDir(cfg), "", true)
	if err != nil {
		return nil, err
	}
	s.run.Check, s.run.Resealing = true, resealing
	err = a.engine().Execute(ctx, s.run, pipeline.Selection{Only: "preflight"})
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
		s.close()
		return nil, err
	}
	return s, nil
}
