package cli

import (
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
			// An in-memory journal: check records nothing.
			s, err := a.open(cfg, a.stateDir(cfg), "", true)
			if err != nil {
				return err
			}
			defer s.close()
			s.run.Check = true
			err = a.engine().Execute(cmd.Context(), s.run, pipeline.Selection{Only: "preflight"})
			if findings := pipeline.AsFindings(err); findings != nil {
				if !a.g.json {
					fmt.Fprintf(a.stdout, "\nnot ready: %d problem(s)\n", len(findings))
					for _, f := range findings {
						fmt.Fprintf(a.stdout, "  - %s\n", f)
					}
				} else {
					s.run.Out.Emit(pipeline.Event{Kind: pipeline.EventReport, Data: map[string]any{"ready": false, "findings": findings}})
				}
				return &codeError{code: ExitFailed, err: fmt.Errorf("not ready: %d problem(s)", len(findings)), silent: true}
			}
			if err != nil {
				return err
			}
			if a.g.json {
				s.run.Out.Emit(pipeline.Event{Kind: pipeline.EventReport, Data: map[string]any{"ready": true}})
			} else {
				fmt.Fprintf(a.stdout, "\nready: %s can be released at %s\n", cfg.Embargo.ID, cfg.T0().Format("2006-01-02 15:04:05Z"))
			}
			return nil
		},
	}
}
