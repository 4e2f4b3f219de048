// Package demo writes the built-in example release: a generated world (a
// crate workspace with two maintained lines and their held fixes, a local
// "public" remote, a blog) and the embargo.toml that releases it. The
// example is a sandbox world of its own: its registry and its blog's site
// are servers on this machine's loopback (Serve starts them), so a run of
// it touches nothing outside the machine.
package demo

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"text/template"
	"time"

	"github.com/async-rs/embargo/sandbox/github"
	"github.com/async-rs/embargo/sandbox/mailserver"
	"github.com/async-rs/embargo/sandbox/world"
)

// TokenEnv is the registry.token_env of the example's own registry, which
// takes any token.
const TokenEnv = "EMBARGO_DEMO_TOKEN"

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
	// RegistryIndex and RegistryTokenEnv say where the crates go:
	// crates-io served from that index, or the alternative registry
	// RegistryName (whose name the crates' dependencies then carry). When
	// RegistryIndex is empty the example gets a registry of its own, on a
	// loopback address chosen now, that Serve starts; never crates.io.
	RegistryIndex    string
	RegistryTokenEnv string
	RegistryName     string
	// Blog, when set, is the example's blog; BlogURL overrides its URL
	// template. With neither, the example's own blog is served by Serve
	// at a loopback address chosen now.
	Blog    *world.Blog
	BlogURL string
	// GHSA, when set, gives the example a draft GitHub security advisory
	// ([ghsa]) in a sandbox GitHub API: at GHSA.API, run by the caller
	// and holding Draft(), or, with GHSA.API empty, the example's own,
	// on a loopback address chosen now, that Serve starts.
	GHSA *GHSA
	// Dependencies and NoLockfile shape the workspace as world.Spec says:
	// crates of another project on the registry, no committed Cargo.lock.
	Dependencies map[string]string
	NoLockfile   bool
	// Announce gives the example an [announce] section: the signed
	// announcement and the notice mailed through a mail server of its own,
	// on a loopback address chosen now, that Serve starts, signed with a
	// sandbox key written to SigningKeyFile (SigningKeyEnv holds it).
	Announce bool
	// mailAddr is the example's mail server, which Build chooses.
	mailAddr string
}

// The example's signing key, for [announce]: the file it is written to in
// the example's folder and the variable a run of the example reads it
// from. A rehearsal reads neither: it signs with a key of its own.
const (
	SigningKeyFile = "signing-key.asc"
	SigningKeyEnv  = "EMBARGO_DEMO_SIGNING_KEY"
)

// GHSA is where the example's GitHub advisory is: the API and the variable
// holding its token (default TokenEnv: the example's own GitHub takes any
// token, as its registry does).
type GHSA struct {
	API, TokenEnv string
}

// The example's GitHub advisory: its repository and its draft.
const (
	GHSARepo = "demo-org/demo"
	GHSAID   = "GHSA-4x7m-9pqr-c2vw"
	title    = "Panic on an out-of-range window in demo_core::window"
	cve      = "CVE-2026-00001"
)

// Draft is the example's draft advisory, as its maintainers would have
// prepared it on GitHub.
func Draft() github.Draft {
	return github.Draft{GHSAID: GHSAID, Summary: title, Description: advisoryText, CVEID: cve}
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
	var own servers
	if opts.RegistryIndex == "" {
		addr, err := loopbackAddr()
		if err != nil {
			return nil, err
		}
		own.Registry = &registryAt{Addr: addr, Dir: "registry"}
		opts.RegistryIndex, opts.RegistryTokenEnv, opts.RegistryName = "sparse+http://"+addr+"/index/", TokenEnv, "crates-io"
	}
	if opts.Blog == nil {
		// The example's blog: an async.rs-like middleman site, whose
		// deploy Serve stands in for unless BlogURL names another.
		site := "http://127.0.0.1" // BlogURL replaces its URL
		if opts.BlogURL == "" {
			addr, err := loopbackAddr()
			if err != nil {
				return nil, err
			}
			site = "http://" + addr
			own.Blog = &siteAt{Addr: addr, Repo: "blog.git"}
		}
		if opts.Blog, err = world.BuildBlog(dir, "middleman", site, "Jane Doe <jane@example.org>"); err != nil {
			return nil, err
		}
		if own.Blog != nil {
			own.Blog.Branch = opts.Blog.Branch
		}
	}
	if opts.GHSA != nil && opts.GHSA.API == "" {
		addr, err := loopbackAddr()
		if err != nil {
			return nil, err
		}
		own.GitHub = &githubAt{Addr: addr, Dir: "github"}
		opts.GHSA = &GHSA{API: "http://" + addr, TokenEnv: cmp.Or(opts.GHSA.TokenEnv, TokenEnv)}
	}
	if opts.Announce {
		addr, err := loopbackAddr()
		if err != nil {
			return nil, err
		}
		own.Mail, opts.mailAddr = &mailAt{Addr: addr}, addr
		key, _, err := mailserver.SigningKey(opts.T0.Add(-24 * time.Hour))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, SigningKeyFile), []byte(key), 0o600); err != nil {
			return nil, err
		}
	}
	if own.Registry != nil || own.Blog != nil || own.GitHub != nil || own.Mail != nil {
		b, _ := json.MarshalIndent(own, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, serversFile), append(b, '\n'), 0o644); err != nil {
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

// Config renders the embargo.toml of a world. It needs opts.RegistryIndex:
// an example left to the default registry would publish to crates.io.
func Config(w *world.World, opts Options) ([]byte, error) {
	if opts.RegistryIndex == "" {
		return nil, errors.New("demo config: no registry index: the example never publishes to crates.io")
	}
	var b bytes.Buffer
	err := configTemplate.Execute(&b, map[string]any{
		"T0": opts.T0.UTC().Format(time.RFC3339), "Source": w.Source, "Public": opts.Public,
		"TokenEnv": opts.TokenEnv, "Lines": w.Lines, "Crates": w.Crates,
		"RegistryIndex": opts.RegistryIndex, "RegistryTokenEnv": opts.RegistryTokenEnv, "RegistryName": cmp.Or(opts.RegistryName, "crates-io"),
		"Blog": opts.Blog, "BlogURL": blogURL(opts), "GHSA": opts.GHSA, "GHSARepo": GHSARepo, "GHSAID": GHSAID, "Title": title, "CVE": cve,
		"Mail": opts.mailAddr, "SigningKeyEnv": SigningKeyEnv,
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
[registry]
name      = "{{.RegistryName}}"
index     = "{{.RegistryIndex}}"
token_env = "{{.RegistryTokenEnv}}"

[advisory]
title       = "{{.Title}}"
package     = "{{index .Crates 0}}"
severity    = "medium"
aliases     = ["{{.CVE}}"]
categories  = ["denial-of-service"]
keywords    = ["panic", "bounds"]
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
{{- with .Author}}
author = "{{.}}"
{{- end}}
{{- with .Build}}
build  = "{{.}}"
{{- end}}
{{- end}}
{{- with .GHSA}}

[ghsa]
repo      = "{{$.GHSARepo}}"
id        = "{{$.GHSAID}}"
api       = "{{.API}}"
token_env = "{{.TokenEnv}}"
credits   = ["octocat"]
{{- end}}
{{- with .Mail}}

[announce]
smtp            = "{{.}}"
from            = "demo security <security@demo.rs>"
to              = ["demo-announce@lists.demo.rs"]
notice          = ["demo-oss-security@lists.demo.rs"]
signing_key_env = "{{$.SigningKeyEnv}}"
{{- end}}
`))

// loopbackAddr picks a free port on the loopback interface. Another
// program may take it before Serve listens; Serve then says so.
func loopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("demo: choose a loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func blogURL(opts Options) string {
	if opts.BlogURL != "" {
		return opts.BlogURL
	}
	if opts.Blog != nil {
		return opts.Blog.URL
	}
	return ""
}

const advisoryText = "`demo_core::window(buf, start, len)` did not check that the window fits in\n" +
	"`buf`: a window past the end of the buffer, or one whose end `start + len`\n" +
	"overflows `usize`, made it panic instead of returning `None`. A program that\n" +
	"passes untrusted offsets to it, directly or through `demo`, can be made to abort.\n" +
	"\n" +
	"The fix computes the end with `checked_add` and slices with `get`, so\n" +
	"`window` returns `None` for any window that does not fit. Upgrade to the\n" +
	"fixed version of your release line.\n"
