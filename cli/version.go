package cli

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X .../cli.Version=v1.2.3".
var Version = "dev"

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.g.json {
				return json.NewEncoder(a.stdout).Encode(map[string]string{
					"version": Version, "commit": revision(), "go": runtime.Version(), "platform": runtime.GOOS + "/" + runtime.GOARCH})
			}
			fmt.Fprintln(a.stdout, versionLine())
			return nil
		},
	}
}

// versionLine is the version, the commit it was built from when known, and
// the Go toolchain and platform.
func versionLine() string {
	rev := revision()
	if rev != "" {
		rev = " (" + rev + ")"
	}
	return fmt.Sprintf("embargo %s%s %s %s/%s", Version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// revision is the commit the binary was built from, when the build knew it.
func revision() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
	}
	return ""
}
