package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/async-rs/embargo/sandbox/demo"
	"github.com/async-rs/embargo/sandbox/registry"
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
	cmd.AddCommand(example, a.sandboxServeCommand())
	return cmd
}

func (a *app) sandboxServeCommand() *cobra.Command {
	var opts registry.Options
	var addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the sandbox crates registry (crates.io-compatible) until interrupted",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Dir == "" {
				return flagError{fmt.Errorf("--dir is required")}
			}
			srv, err := registry.Start(addr, opts)
			if err != nil {
				return err
			}
			defer srv.Close()
			fmt.Fprintln(a.stdout, srv.IndexURL())
			<-cmd.Context().Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", "", "where the registry keeps its crates (kept across restarts)")
	f.StringVar(&addr, "addr", "127.0.0.1:0", "address to listen on")
	f.StringVar(&opts.Token, "token", "", "token publishes must present (empty: any)")
	f.DurationVar(&opts.Latency, "latency", 0, "delay added to every request")
	f.DurationVar(&opts.IndexDelay, "index-delay", 0, "how long a new version takes to appear in the index")
	f.DurationVar(&opts.ClockOffset, "clock-offset", 0, "run the registry's clock this far ahead of this machine's (negative: behind), in its Date headers and its log")
	f.BoolVar(&opts.CratesIO, "crates-io", false, "stand in for crates.io (dependencies cargo sends as crates.io's are this registry's)")
	return cmd
}
