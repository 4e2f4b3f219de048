package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/release"
)

// planPublishRate counts the versions the release uploads and predicts the
// publish under crates.io's rate limit.
func (a *app) planPublishRate(ctx context.Context, cfg *config.Config) {
	w := a.stdout
	byLine, err := release.ReleaseVersions(cfg)
	if err != nil {
		fmt.Fprintf(w, "\npublish: the versions were not counted (%v)\n", err)
		return
	}
	n, err := a.countPublishes(ctx, cfg, byLine)
	if err != nil {
		fmt.Fprintf(w, "\npublish: the registry was not read (%v)\n", err)
		return
	}
	writePublishForecast(w, cfg, n)
}

// countPublishes reads cfg's registry for what each version of byLine is.
func (a *app) countPublishes(ctx context.Context, cfg *config.Config, byLine map[string][]string) (release.PublishCount, error) {
	idx, err := a.registryIndex(cfg)
	if err != nil {
		return release.PublishCount{}, err
	}
	return release.CountPublishes(ctx, cfg, idx, byLine)
}

// publishForecast is the same for plan --json.
func (a *app) publishForecast(ctx context.Context, cfg *config.Config) *planPublish {
	byLine, err := release.ReleaseVersions(cfg)
	if err != nil {
		return &planPublish{Error: err.Error()}
	}
	n, err := a.countPublishes(ctx, cfg, byLine)
	if err != nil {
		return &planPublish{Error: err.Error()}
	}
	out := &planPublish{PublishCount: n, FitsWindow: true}
	if onCratesIO(cfg) {
		if wait := release.CratesIORateLimit.Wait(n.Versions, n.NewCrates); wait > 0 {
			out.LimitedFor, out.FitsWindow = wait.String(), wait <= cfg.Window
		}
	}
	return out
}

func onCratesIO(cfg *config.Config) bool {
	return strings.TrimSuffix(cfg.Registry.Index, "/") == strings.TrimSuffix(cargo.CratesIOIndex, "/")
}

// writePublishForecast says how long the uploads take under crates.io's
// limit, whether that fits the window, and the ways out when it bites.
func writePublishForecast(w io.Writer, cfg *config.Config, n release.PublishCount) {
	// A crate's first version is a new crate to the registry's limit, and
	// the versions after it, of this release too, new versions.
	switch {
	case n.Versions+n.NewCrates == 0:
		fmt.Fprintf(w, "\npublish: every version of the release is on the registry already\n")
	case n.NewCrates == 0:
		fmt.Fprintf(w, "\npublish: %d new version(s) to upload over %d line(s), all of crates the registry has\n", n.Versions, n.Lines)
	default:
		fmt.Fprintf(w, "\npublish: %d version(s) to upload over %d line(s): %d new crate(s), the first version of each crate the registry does not have yet, and %d new version(s) after them or of crates it has\n",
			n.Versions+n.NewCrates, n.Lines, n.NewCrates, n.Versions)
	}
	if !onCratesIO(cfg) {
		fmt.Fprintf(w, "  %s is not crates.io: its rate limit, if any, is its own\n", cfg.Registry.Index)
		return
	}
	rl := release.CratesIORateLimit
	wait := rl.Wait(n.Versions, n.NewCrates)
	fmt.Fprintf(w, "  crates.io lets an account publish %d new versions at once, then one every %s, and %d new crates, then one every %s\n",
		rl.VersionBurst, pipeline.HumanDuration(rl.VersionEvery), rl.CrateBurst, pipeline.HumanDuration(rl.CrateEvery))
	if wait == 0 {
		fmt.Fprintln(w, "  within those bursts: every line publishes at T0 at once, the limit does not bite")
		return
	}
	fmt.Fprintf(w, "  the limit bites: the last upload comes about %s after T0 (with the account's buckets full at T0);\n", pipeline.HumanDuration(wait))
	fmt.Fprintln(w, "  embargo waits each refusal out and publishes whole lines first, the first line of the config first")
	if wait > cfg.Window {
		fmt.Fprintf(w, "  WARNING: that does not fit the window of %s: the advisory waits for the publish, and would be late\n", pipeline.HumanDuration(cfg.Window))
	}
	fmt.Fprintln(w, "  ways out:")
	fmt.Fprintln(w, "    - ask crates.io for a higher limit for the publishing account, days before T0 (help@crates.io)")
	if cfg.Registry.TrustedPublishing {
		fmt.Fprintln(w, "    - this release uses Trusted Publishing: crates.io's code checks this per-account limit for user")
		fmt.Fprintln(w, "      API tokens only, so it likely does not apply; that is not documented: count on it only once")
		fmt.Fprintln(w, "      crates.io has said so")
	} else {
		fmt.Fprintln(w, "    - publish with Trusted Publishing (trusted_publishing = true in [registry], from CI): crates.io's")
		fmt.Fprintln(w, "      code checks this per-account limit for user API tokens only, so it likely does not apply; that")
		fmt.Fprintln(w, "      is not documented: count on it only once crates.io has said so")
	}
}
