package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/async-rs/embargo/sandbox/demo"
)

func (a *app) sandboxCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "The sandbox world: the built-in example and local servers",
	}
	var dir string
	var in time.Duration
	example := &cobra.Command{
		Use:   "demo",
		Short: "Write the built-in example release (a crate workspace with held fixes and a local public remote)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return flagError{fmt.Errorf("--dir is required")}
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			ex, err := demo.Build(abs, demo.Options{T0: a.clock.Now().Add(in).Truncate(time.Second).Add(time.Second)})
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, ex.Config)
			return nil
		},
	}
	example.Flags().StringVar(&dir, "dir", "", "an empty folder to write the example in")
	example.Flags().DurationVar(&in, "in", 5*time.Second, "T0 this far from now")
	cmd.AddCommand(example)
	return cmd
}
