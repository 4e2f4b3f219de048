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
	var ghsa bool
	example := &cobra.Command{
		Use:   "demo",
		Short: "Write the built-in example release (a crate workspace with held fixes, a local public remote, its own registry and blog)",
		Long: `Write the built-in example release into an empty folder: a crate workspace
with two maintained lines and their held fixes, a local public remote, a blog
repository, and the embargo.toml that releases them. Its registry and its
blog's site are servers on this machine's loopback, at ports chosen now, that
` + "`embargo sandbox serve --dir DIR`" + ` starts: the example never reaches crates.io or
any other host. Prints the config's path.`,
		Args: noArgs,
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
			if entries, _ := os.ReadDir(abs); len(entries) > 0 {
				return flagError{fmt.Errorf("--dir %s is not empty: the example is written into an empty folder", dir)}
			}
			t0 := a.clock.Now().Add(in).Truncate(time.Second).Add(time.Second)
			opts := demo.Options{T0: t0, Announce: true}
			if ghsa {
				opts.GHSA = &demo.GHSA{}
			}
			ex, err := demo.Build(abs, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, ex.Config)
			if !a.g.quiet {
				fmt.Fprintf(a.stderr, `the example's T0 is %s. To release it on this machine, serve its registry,
its blog and its mail server, then run it (its registry takes any token; its
announcement is signed with the sandbox key in %s):
  embargo sandbox serve --dir %s &
  %s=any %s="$(cat %s)" embargo run -c %s
or, with it served, rehearse it (T0 now): embargo rehearse -c %s
`, t0.UTC().Format(time.RFC3339), demo.SigningKeyFile, abs, demo.TokenEnv, demo.SigningKeyEnv, filepath.Join(abs, demo.SigningKeyFile), ex.Config, ex.Config)
			}
			return nil
		},
	}
	example.Flags().StringVar(&dir, "dir", "", "an empty folder to write the example in")
	example.Flags().DurationVar(&in, "in", time.Minute, "T0 this far from now")
	example.Flags().BoolVar(&ghsa, "ghsa", false, "give the example a draft GitHub security advisory ([ghsa]) in a GitHub API of its own that serve starts")
	cmd.AddCommand(example, a.sandboxServeCommand())
	return cmd
}

func (a *app) sandboxServeCommand() *cobra.Command {
	var opts registry.Options
	var addr string
	var trusted, rateLimit bool
	var lifetime time.Duration
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the sandbox crates registry (crates.io-compatible) until interrupted; for an example, its registry and blog",
		Long: `Run a crates.io-compatible registry on this machine until interrupted,
keeping its crates in --dir; prints its index URL.

When --dir holds the built-in example (` + "`embargo sandbox demo --dir DIR`" + `), serve
what its embargo.toml names, at the addresses it was written with: its
registry (crates kept in DIR/registry) and its blog's site, which serves each
post pushed to DIR/blog.git at its blog.url.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Dir == "" {
				return flagError{fmt.Errorf("--dir is required")}
			}
			if opts.Flavor != registry.Plain && opts.Token == "" {
				return flagError{fmt.Errorf("--flavor %s needs --token: the registry refuses every other credential", opts.Flavor)}
			}
			if trusted {
				opts.TrustedPublishing = &registry.TrustedPublishing{Lifetime: lifetime}
			}
			if rateLimit {
				opts.RateLimit = &registry.CratesIORateLimit
			}
			if demo.IsExample(opts.Dir) {
				return a.serveExample(cmd, opts)
			}
			srv, err := registry.Start(addr, opts)
			if err != nil {
				return err
			}
			defer srv.Close()
			fmt.Fprintln(a.stdout, srv.IndexURL())
			if trusted {
				// What a GitHub Actions job with id-token: write has.
				fmt.Fprintf(a.stdout, "ACTIONS_ID_TOKEN_REQUEST_URL=%s\nACTIONS_ID_TOKEN_REQUEST_TOKEN=%s\n", srv.OIDCURL(), srv.OIDCRequestToken())
			}
			<-cmd.Context().Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&trusted, "trusted-publishing", false, "exchange OIDC tokens for publish tokens as crates.io's Trusted Publishing does, and stand in for a CI runner's OIDC endpoint (its variables are printed)")
	f.DurationVar(&lifetime, "token-lifetime", 0, "with --trusted-publishing: how long an exchanged token lives (default 30m, crates.io's)")
	f.BoolVar(&rateLimit, "rate-limit", false, "limit publishes as crates.io does: 30 new versions then one a minute, 5 new crates then one every 10 minutes")
	f.StringVar(&opts.Dir, "dir", "", "where the registry keeps its crates (kept across restarts)")
	f.StringVar(&addr, "addr", "127.0.0.1:0", "address to listen on")
	f.StringVar(&opts.Token, "token", "", "token publishes must present (empty: any)")
	f.DurationVar(&opts.Latency, "latency", 0, "delay added to every request")
	f.DurationVar(&opts.IndexDelay, "index-delay", 0, "how long a new version takes to appear in the index")
	f.DurationVar(&opts.ClockOffset, "clock-offset", 0, "run the registry's clock this far ahead of this machine's (negative: behind), in its Date headers and its log")
	f.BoolVar(&opts.CratesIO, "crates-io", false, "stand in for crates.io (dependencies cargo sends as crates.io's are this registry's)")
	f.BoolVar(&opts.AuthRequired, "auth-required", false, "a private registry: every read, not only publishes, needs --token (config.json says auth-required)")
	f.Var(&flavorFlag{&opts.Flavor}, "flavor", "answer as crates.io or Gitea do: crates.io takes --token bare or after \"Bearer \" and refuses any other credential with crates.io's answers; gitea serves a Gitea owner's registry (index and API under /api/packages/"+registry.GiteaOwner+"/cargo) that wants \"Bearer TOKEN\" and refuses as Gitea does. Both need --token")
	return cmd
}

// serveExample serves the example in opts.Dir until interrupted.
func (a *app) serveExample(cmd *cobra.Command, opts registry.Options) error {
	for _, name := range []string{"addr", "auth-required", "flavor"} {
		if cmd.Flags().Changed(name) {
			return flagError{fmt.Errorf("--%s does not apply to the example in %s: its registry stands in for crates.io at the address its embargo.toml names", name, opts.Dir)}
		}
	}
	srvs, err := demo.Serve(opts.Dir, opts)
	if err != nil {
		return err
	}
	defer srvs.Close()
	if srvs.Registry != nil {
		fmt.Fprintln(a.stdout, srvs.Registry.IndexURL())
		if u := srvs.Registry.OIDCURL(); u != "" {
			fmt.Fprintf(a.stdout, "ACTIONS_ID_TOKEN_REQUEST_URL=%s\nACTIONS_ID_TOKEN_REQUEST_TOKEN=%s\n", u, srvs.Registry.OIDCRequestToken())
		}
	}
	if srvs.SiteURL != "" {
		fmt.Fprintln(a.stdout, srvs.SiteURL+"/")
	}
	if srvs.GitHub != nil {
		fmt.Fprintln(a.stdout, srvs.GitHub.URL+"/")
	}
	if srvs.Mail != nil {
		fmt.Fprintln(a.stdout, "smtp "+srvs.Mail.Addr())
	}
	<-cmd.Context().Done()
	return nil
}

// flavorFlag is --flavor: one of registry.Flavors.
type flavorFlag struct{ f *registry.Flavor }

func (v *flavorFlag) String() string { return string(*v.f) }
func (v *flavorFlag) Type() string   { return "crates.io|gitea" }
func (v *flavorFlag) Set(s string) error {
	for _, f := range registry.Flavors {
		if string(f) == s {
			*v.f = f
			return nil
		}
	}
	return fmt.Errorf("want one of %q", registry.Flavors)
}
