package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages"
)

func (a *app) renderCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write the advisory in every format (post, RustSec, OSV, mail) for review",
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return flagError{fmt.Errorf("-o DIR is required")}
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			m, err := stages.AdvisoryModel(cfg)
			if err != nil {
				return err
			}
			for _, f := range m.Validate() {
				fmt.Fprintf(a.stderr, "warning: %s\n", f)
			}
			// The registry's versions feed the "no fix for series X"
			// paragraph; reading them is optional for a review.
			r := &pipeline.Run{Config: cfg}
			versions, err := stages.PackageVersions(cmd.Context(), r)
			if err != nil {
				fmt.Fprintf(a.stderr, "warning: rendered without the registry's versions of %s: %v\n", cfg.Advisory.Package, err)
			}
			out, err := stages.RenderAdvisory(cfg, m, versions)
			if err != nil {
				return err
			}
			if err := out.WriteDir(dir); err != nil {
				return err
			}
			for _, f := range out.Files() {
				fmt.Fprintln(a.stdout, filepath.Join(dir, f.Path))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "output", "o", "", "folder to write the outputs in")
	return cmd
}
