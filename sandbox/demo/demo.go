// Package demo writes the built-in example release: a generated world (a
// crate workspace with two maintained lines and their held fixes, a local
// "public" remote) and the embargo.toml that releases it.
package demo

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
	"time"

	"github.com/async-rs/embargo/sandbox/world"
)

// Example is a built example, ready for `embargo run -c Config`.
type Example struct {
	Config string
	World  *world.World
}

// Options tune the example.
type Options struct {
	T0 time.Time
	// TokenEnv, when set, is written as source.token_env.
	TokenEnv string
	// Public overrides the public remote (a smart-HTTP URL in tests).
	Public string
	// RegistryIndex and RegistryTokenEnv, when set, write a [registry]
	// section: crates-io served from that index, or the alternative
	// registry RegistryName (whose name the crates' dependencies then
	// carry).
	RegistryIndex    string
	RegistryTokenEnv string
	RegistryName     string
	// Blog, when set, writes a [blog] section for it; BlogURL overrides
	// its URL template.
	Blog    *world.Blog
	BlogURL string
	// Dependencies and NoLockfile shape the workspace as world.Spec says:
	// crates of another project on the registry, no committed Cargo.lock.
	Dependencies map[string]string
	NoLockfile   bool
}

// Build creates the example under dir.
func Build(dir string, opts Options) (*Example, error) {
	spec := world.DefaultSpec(dir)
	if opts.RegistryName != "" && opts.RegistryName != "crates-io" {
		spec.Registry = opts.RegistryName
	}
	spec.Dependencies, spec.NoLockfile = opts.Dependencies, opts.NoLockfile
	w, err := world.Build(spec)
	if err != nil {
		return nil, err
	}
	if opts.Public == "" {
		opts.Public = w.Public
	}
	if opts.Blog == nil {
		// The example's blog: an async.rs-like middleman site whose
		// built pages would be served at blog.example.org.
		if opts.Blog, err = world.BuildBlog(dir, "middleman", "https://blog.example.org", "Jane Doe <jane@example.org>"); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "advisory.md"), []byte(advisoryText), 0o644); err != nil {
		return nil, err
	}
	cfg, err := Config(w, opts)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "embargo.toml")
	if err := os.WriteFile(path, cfg, 0o644); err != nil {
		return nil, err
	}
	return &Example{Config: path, World: w}, nil
}

// Config renders the embargo.toml of a world.
func Config(w *world.World, opts Options) ([]byte, error) {
	var b bytes.Buffer
	err := configTemplate.Execute(&b, map[string]any{
		"T0": opts.T0.UTC().Format(time.RFC3339), "Source": w.Source, "Public": opts.Public,
		"TokenEnv": opts.TokenEnv, "Lines": w.Lines, "Crates": w.Crates,
		"RegistryIndex": opts.RegistryIndex, "RegistryTokenEnv": opts.RegistryTokenEnv, "RegistryName": cmp.Or(opts.RegistryName, "crates-io"),
		"Blog": opts.Blog, "BlogURL": blogURL(opts),
	})
	if err != nil {
		return nil, fmt.Errorf("demo config: %w", err)
	}
	return b.Bytes(), nil
}

var configTemplate = template.Must(template.New("embargo.toml").Parse(`# The built-in example release of embargo.
[embargo]
id      = "DEMO-SA-2026-001"
at      = {{.T0}}
window  = "6h"
handler = "Jane Doe <jane@example.org>"

[source]
repo   = "{{.Source}}"
public = "{{.Public}}"
{{- if .TokenEnv}}
token_env = "{{.TokenEnv}}"
{{- end}}
{{range .Lines}}
[[release]]
line          = "{{.Line}}"
branch        = "{{.HeldBranch}}"
public_branch = "{{.PublicBranch}}"
tag           = "{{.Tag}}"
{{end}}
{{- if .RegistryIndex}}
[registry]
name      = "{{.RegistryName}}"
index     = "{{.RegistryIndex}}"
token_env = "{{.RegistryTokenEnv}}"
{{end}}
[advisory]
title       = "Out-of-bounds read in demo_core::get"
package     = "{{index .Crates 0}}"
severity    = "high"
aliases     = ["CVE-2026-00001"]
categories  = ["memory-exposure"]
keywords    = ["bounds"]
credits     = ["A. Reporter"]
description = "advisory.md"
{{- with .Blog}}

[blog]
repo   = "{{.Repo}}"
branch = "{{.Branch}}"
style  = "{{.Style}}"
path   = "{{.Path}}"
url    = "{{$.BlogURL}}"
feed   = "{{.Feed}}"
{{- end}}
`))

func blogURL(opts Options) string {
	if opts.BlogURL != "" {
		return opts.BlogURL
	}
	if opts.Blog != nil {
		return opts.Blog.URL
	}
	return ""
}

const advisoryText = `An index was not checked against the length of the buffer in
` + "`demo_core::get`" + `, so a caller passing an out-of-range index read memory
past the end of the buffer.

The fix checks the index and returns ` + "`None`" + ` when it is out of range.
Upgrade to a fixed version of your release line.
`
