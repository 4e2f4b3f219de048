package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages"
)

func (a *app) planCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "plan",
		Short: "Show what will happen, in order, with times",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			now := a.clock.Now()
			w := a.stdout
			fmt.Fprintf(w, "%s: %s\n", cfg.Embargo.ID, cfg.Advisory.Title)
			fmt.Fprintf(w, "T0        %s (%s)\n", cfg.T0().Format("2006-01-02 15:04:05Z07:00"), relative(cfg.T0(), now))
			fmt.Fprintf(w, "deadline  %s (T0 + %s): advisory live\n\n", cfg.Deadline().Format("2006-01-02 15:04:05Z07:00"), cfg.Window)
			for i, st := range a.stages {
				when := "at T0"
				switch st.Name() {
				case "preflight":
					when = "before T0"
				case "gate":
					when = "until T0"
				}
				if sk, ok := st.(pipeline.Skipper); ok {
					if why := sk.Skip(cfg); why != "" {
						when = "skipped"
					}
				}
				fmt.Fprintf(w, "%d. %-10s %-10s %s\n", i+1, st.Name(), when, st.Summary())
				if p, ok := st.(pipeline.Planner); ok {
					for _, line := range p.Plan(cfg) {
						fmt.Fprintf(w, "                          %s\n", line)
					}
				}
			}
			fmt.Fprintf(w, "\nrelease lines (public: %s)\n", cfg.Source.Public)
			for _, rel := range cfg.Releases {
				crates := "all publishable crates"
				if len(rel.Crates) > 0 {
					crates = strings.Join(rel.Crates, ", ")
				}
				fmt.Fprintf(w, "  %-8s %s -> %s, tag %s, %s\n", rel.Line, rel.Branch, rel.PublicBranch, rel.Tag, crates)
			}
			a.planVersions(cmd.Context(), cfg)
			return nil
		},
	}
}

// planVersions classifies every published version of the advisory's
// package (read from the registry, read only), so that a maintained line
// forgotten in the config shows before T0.
func (a *app) planVersions(ctx context.Context, cfg *pipeline.Config) {
	w := a.stdout
	m, err := stages.AdvisoryModel(cfg)
	if err != nil {
		fmt.Fprintf(w, "\nadvisory: %v\n", err)
		return
	}
	fmt.Fprintf(w, "\npatched: %s\n", strings.Join(m.Patched(), "; "))
	versions, err := stages.PackageVersions(ctx, &pipeline.Run{Config: cfg})
	if err != nil {
		fmt.Fprintf(w, "versions of %s: not read from the registry (%v)\n", cfg.Advisory.Package, err)
		return
	}
	if len(versions) == 0 {
		fmt.Fprintf(w, "versions of %s: none on the registry yet\n", cfg.Advisory.Package)
		return
	}
	fmt.Fprintf(w, "versions of %s on the registry:\n", cfg.Advisory.Package)
	fmt.Fprintf(w, "  %-14s %-16s %s\n", "version", "status", "upgrade to")
	for _, c := range m.Classify(versions) {
		fmt.Fprintf(w, "  %-14s %-16s %s\n", c.Version, c.Status, c.FixedBy)
	}
	if nf := m.NoFixSeries(versions); len(nf) > 0 {
		fmt.Fprintf(w, "no fix for series %s: is a maintained line missing from the config?\n", strings.Join(nf, ", "))
	}
}
