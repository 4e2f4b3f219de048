package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/templates"
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
			m, err := release.AdvisoryModel(cfg)
			if err != nil {
				return err
			}
			var warnings []string
			warn := func(msg string) {
				warnings = append(warnings, msg)
				fmt.Fprintf(a.stderr, "warning: %s\n", msg)
			}
			for _, f := range release.AdvisoryFindings(m) {
				warn(fmt.Sprint(f))
			}
			for _, w := range m.RustSecWarnings() {
				warn(w)
			}
			// The registry's versions feed the "no fix for series X"
			// paragraph; reading them is optional for a review.
			versions, err := a.packageVersions(cmd.Context(), cfg)
			if err != nil {
				warn(fmt.Sprintf("rendered without the registry's versions of %s: %v", cfg.Advisory.Package, err))
			}
			// The post follows the blog's conventions as recorded (or
			// as the blog was last fetched); render reads no blog.
			conv, from, err := a.renderConventions(cfg)
			if err != nil {
				return err
			}
			if from == "" {
				warn("the blog's conventions are not known here yet: the post keeps the template's own front matter; `embargo check` reads them from the blog, and render follows them after")
			}
			out, err := release.RenderAdvisory(cfg, m, conv, versions)
			if err != nil {
				return err
			}
			if err := out.WriteDir(dir); err != nil {
				return err
			}
			rep := renderReport{ID: cfg.Embargo.ID, Dir: dir, Warnings: warnings}
			for _, o := range []struct {
				kind string
				f    templates.File
			}{{"post", out.Post}, {"rustsec", out.RustSec}, {"osv", out.OSV}, {"mail", out.Mail}} {
				sum := sha256.Sum256(o.f.Content)
				rep.Files = append(rep.Files, renderedFile{Kind: o.kind, Path: filepath.Join(dir, o.f.Path), Bytes: len(o.f.Content), Sha256: hex.EncodeToString(sum[:])})
			}
			if a.g.json {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			for _, f := range rep.Files {
				fmt.Fprintln(a.stdout, f.Path)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "output", "o", "", "folder to write the outputs in")
	return cmd
}

// renderConventions are the blog's conventions the post is rendered
// with, as the state directory knows them (release.RenderConventions).
func (a *app) renderConventions(cfg *config.Config) (templates.Conventions, string, error) {
	dir := a.stateDir(cfg)
	j, err := pipeline.ReadJournal(filepath.Join(dir, "journal.json"))
	if err != nil {
		j = nil // none yet, or unreadable: the seal or the clone may still say
	}
	return release.RenderConventions(a.looking(cfg, j, nil))
}

// renderReport is what `render --json` prints: one JSON object listing
// every file written, for a review script to pick up.
type renderReport struct {
	ID       string         `json:"id"`
	Dir      string         `json:"dir"`
	Files    []renderedFile `json:"files"`
	Warnings []string       `json:"warnings,omitempty"`
}

type renderedFile struct {
	Kind   string `json:"kind"` // post, rustsec, osv, mail
	Path   string `json:"path"`
	Bytes  int    `json:"bytes"`
	Sha256 string `json:"sha256"`
}
