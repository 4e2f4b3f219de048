package cargo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// CratesIOIndex is crates.io's sparse index.
const CratesIOIndex = "sparse+https://index.crates.io/"

// targetRegistry is the name cargo knows a redirected crates-io by.
const targetRegistry = "embargo-target"

// viewRegistry is the name cargo knows a View of the index by (see View).
const viewRegistry = "embargo-index"

// viewedRegistry names the source an alternative registry is known by to
// cargo's source replacement, which names sources, not registries: one
// defined by the registry's index URL is that registry.
const viewedRegistry = "embargo-viewed"

// Registry says where crates go and how cargo reaches it.
type Registry struct {
	Name  string // the config's registry name ("crates-io" or an alternative registry)
	Index string // sparse+https://...
	// Token is handed to cargo through its environment only, never on a
	// command line, never in a file: to `cargo publish`, and to `cargo
	// package` when cargo reads the registry under a name of its own (an
	// alternative registry, or crates-io redirected): a private registry
	// wants it to be read (RFC 3139, auth-required), and cargo sends it
	// only to a registry that says so. The build scripts and compilers
	// cargo runs while verifying see it blank.
	Token string
}

// Cargo runs the real cargo binary with a private CARGO_HOME, so neither
// the operator's credentials nor their config leak into the release, and
// with the registry configured through the environment and --config.
type Cargo struct {
	Bin      string // "cargo" unless set
	Home     string // private CARGO_HOME
	Registry Registry
	// View, when set, is a sparse index URL serving the registry's index
	// as embargo last saw it (index.View). cargo then resolves the
	// package's dependencies on the registry through it, by source
	// replacement (of crates-io, or of the alternative registry), while
	// it still reads config.json and the crate's own file from the
	// registry and uploads there: `--registry` names the real registry,
	// and cargo does not follow source replacement for it. ViewToken is
	// the View's own token, which cargo sends it while the registry wants
	// a token to be read (index.View.Token).
	View, ViewToken string
	// Verbose keeps the whole end of a failed cargo's output in its
	// error; otherwise the error holds cargo's own error lines only.
	Verbose bool
	// Hide names the variables of this process's environment cargo must
	// not inherit: the release's other secrets, which the build scripts
	// and compilers a verification runs would otherwise see.
	Hide []string
	// Proxy, when set, is an HTTP proxy every request of cargo goes
	// through (http.proxy), and ProxyCA the certificate authority it
	// answers https with (http.cainfo): a rehearsal's, which answers for
	// the real registry with its sandbox, so that cargo is configured as
	// at T0, with the registry's real index URL, which it writes into the
	// packages (see sandbox.RegistryProxy). No host bypasses it: NO_PROXY
	// is not inherited.
	Proxy, ProxyCA string
	// Now is the clock an upload's acceptance is read on (Upload.AcceptedAt):
	// the gate's in a release; this machine's when nil.
	Now func() time.Time
}

func (c *Cargo) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// ResolvesThroughView is true when dependencies resolve through a View.
func (c *Cargo) ResolvesThroughView() bool { return c.View != "" }

// redirected is true when crates-io itself is replaced by another index (a
// rehearsal's sandbox, a test registry): cargo then needs source
// replacement, since a crate's plain `version` dependencies mean crates-io.
func (c *Cargo) redirected() bool {
	return c.Registry.Name == "crates-io" && strings.TrimSuffix(c.Registry.Index, "/") != strings.TrimSuffix(CratesIOIndex, "/")
}

// registryArg is the --registry value for publish.
func (c *Cargo) registryArg() string {
	if c.redirected() {
		return targetRegistry
	}
	return c.Registry.Name
}

func envName(registry string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(registry))
}

// readsWithToken is true when cargo may need the token to read the
// registry: cargo knows it by a name of its own, and a private registry
// (auth-required) is only ever one of those; crates.io is read without.
func (c *Cargo) readsWithToken() bool { return c.registryArg() != "crates-io" }

// command builds a cargo invocation; withToken adds the registry token to
// the child's environment (publish, and package when readsWithToken).
func (c *Cargo) command(ctx context.Context, dir string, withToken bool, args ...string) *exec.Cmd {
	bin := c.Bin
	if bin == "" {
		bin = "cargo"
	}
	var global []string
	env := []string{
		"CARGO_HOME=" + c.Home,
		"CARGO_TERM_COLOR=never",
		"CARGO_TERM_PROGRESS_WHEN=never",
		"CARGO_TARGET_DIR=" + TargetDir(dir),
	}
	reg := c.registryArg()
	if reg != "crates-io" {
		env = append(env, "CARGO_REGISTRIES_"+envName(reg)+"_INDEX="+c.Registry.Index)
	}
	switch {
	case c.ResolvesThroughView() && c.Registry.Name == "crates-io":
		global = append(global, "--config", fmt.Sprintf("source.crates-io.replace-with=%q", viewRegistry))
	case c.ResolvesThroughView():
		global = append(global, "--config", fmt.Sprintf("source.%s.registry=%q", viewedRegistry, c.Registry.Index),
			"--config", fmt.Sprintf("source.%s.replace-with=%q", viewedRegistry, viewRegistry))
	case c.redirected():
		global = append(global, "--config", fmt.Sprintf("source.crates-io.replace-with=%q", targetRegistry))
	}
	if c.ResolvesThroughView() {
		env = append(env, "CARGO_REGISTRIES_"+envName(viewRegistry)+"_INDEX="+c.View)
		if c.ViewToken != "" {
			e, g := tokenArgs(viewRegistry, c.ViewToken)
			env, global = append(env, e...), append(global, g...)
		}
	}
	hide := c.Hide
	if c.Proxy != "" {
		env = append(env, "CARGO_HTTP_PROXY="+c.Proxy)
		if c.ProxyCA != "" {
			env = append(env, "CARGO_HTTP_CAINFO="+c.ProxyCA)
		}
		hide = append(slices.Clip(hide), "NO_PROXY", "no_proxy")
	}
	if withToken && c.Registry.Token != "" {
		e, g := tokenArgs(reg, c.Registry.Token)
		env, global = append(env, e...), append(global, g...)
	}
	cmd := exec.CommandContext(ctx, bin, append(global, args...)...)
	cmd.Dir = dir
	cmd.Env = append(CleanEnv(hide...), env...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// tokenArgs hand cargo tok as the token of the registry it knows as
// registry: the environment it is in, and the arguments that keep it from
// what cargo runs.
func tokenArgs(registry, tok string) (env, global []string) {
	tokenVar := "CARGO_REGISTRY_TOKEN"
	if registry != "crates-io" {
		tokenVar = "CARGO_REGISTRIES_" + envName(registry) + "_TOKEN"
		// cargo reads a registry that wants a token to be read only
		// with a credential provider configured for it, even the
		// default one that reads the environment (cargo:token).
		env = append(env, "CARGO_REGISTRIES_"+envName(registry)+"_CREDENTIAL_PROVIDER=cargo:token")
	}
	env = append(env, tokenVar+"="+tok)
	// cargo's [env] is the environment of what cargo runs, build
	// scripts and rustc, not cargo's own: they see the variable
	// blank, while cargo's credential provider reads the token.
	global = []string{"--config", "env." + tokenVar + `.value=""`, "--config", "env." + tokenVar + ".force=true"}
	return env, global
}

// CleanEnv is the parent's environment without anything cargo would take
// as registry configuration or credentials, nor the variables hide names:
// the child gets exactly what the release config says.
func CleanEnv(hide ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "CARGO_HOME" || k == "CARGO_TARGET_DIR" || k == "CARGO_REGISTRY_TOKEN" || strings.HasPrefix(k, "CARGO_REGISTRIES_") ||
			strings.HasPrefix(k, "CARGO_REGISTRY_") || strings.HasPrefix(k, "CARGO_SOURCE_") || slices.Contains(hide, k) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func (c *Cargo) run(cmd *exec.Cmd) (string, error) {
	if err := os.MkdirAll(c.Home, 0o700); err != nil {
		return "", err
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return c.outcome(cmd, out.String(), err)
}

// outcome is what a finished cargo said, the token masked, and its error
// naming the command with the end of that output.
func (c *Cargo) outcome(cmd *exec.Cmd, out string, err error) (string, error) {
	for _, tok := range []string{c.Registry.Token, c.ViewToken} {
		if tok != "" {
			out = strings.ReplaceAll(out, tok, "***")
		}
	}
	if err != nil {
		detail := errorLines(out)
		if c.Verbose || detail == "" {
			detail = tail(out, 30)
		}
		return out, fmt.Errorf("cargo %s: %v\n%s", commandLine(cmd.Args[1:], c.Verbose), err, detail)
	}
	return out, nil
}

// Version is `cargo --version`: packages are reproducible only with the same
// cargo, so preflight records it and publish refuses another.
func (c *Cargo) Version(ctx context.Context) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		dir = os.TempDir()
	}
	out, err := c.run(c.command(ctx, dir, false, "--version"))
	return strings.TrimSpace(out), err
}

// Lock writes the Cargo.lock of the workspace at dir, for a repository
// that commits none: resolved afresh (`cargo generate-lockfile`) or, when
// dir holds one already (the one pinned for an earlier tip of the line),
// updated only as far as the manifests now need (`cargo update
// --workspace`), so that every pin that still fits is kept. It reads the
// registry's index, never with a token.
func (c *Cargo) Lock(ctx context.Context, dir string) error {
	args := []string{"generate-lockfile"}
	if _, err := os.Stat(filepath.Join(dir, LockfileName)); err == nil {
		args = []string{"update", "--workspace"}
	}
	_, err := c.run(c.command(ctx, dir, false, args...))
	return err
}

// Package is one packaged crate.
type Package struct {
	Name, Version string
	File          string // the .crate
	Sha256        string
}

// Package runs `cargo package --locked` (with verification) for crates in
// the workspace at dir and returns each .crate with its sha256. cargo
// verifies inter-dependent crates at new versions through a temporary
// local registry, so the crates need not be on any registry yet.
func (c *Cargo) Package(ctx context.Context, dir string, crates []*Crate) ([]Package, error) {
	args := []string{"package", "--locked"}
	if c.redirected() || c.Registry.Name != "crates-io" {
		// Verification resolves dependencies against the target registry.
		args = append(args, "--registry", c.registryArg())
	}
	for _, cr := range crates {
		args = append(args, "-p", cr.Name)
	}
	if _, err := c.run(c.command(ctx, dir, c.readsWithToken(), args...)); err != nil {
		return nil, err
	}
	out := make([]Package, 0, len(crates))
	for _, cr := range crates {
		file := PackagedFile(dir, cr.Name, cr.Version)
		sum, err := FileSha256(file)
		if err != nil {
			return nil, fmt.Errorf("packaged %s@%s: %w", cr.Name, cr.Version, err)
		}
		out = append(out, Package{Name: cr.Name, Version: cr.Version, File: file, Sha256: sum})
	}
	return out, nil
}

// TargetDir is where cargo builds and packages the workspace at dir:
// beside the checkout, not in it, so that the checkout holds exactly the
// commit (checking it is clean at T0 reads no build output) whatever the
// project's .gitignore says.
func TargetDir(dir string) string { return filepath.Clean(dir) + ".target" }

// PackagedFile is where `cargo package` in the workspace at dir writes the
// .crate of name@version.
func PackagedFile(dir, name, version string) string {
	return filepath.Join(TargetDir(dir), "package", name+"-"+version+".crate")
}

// FileSha256 is the hex sha256 of a file, as the registry index's cksum.
func FileSha256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WithView is a copy of c that resolves dependencies through the View of
// the index at url, whose own token is token (index.View.Token).
func (c *Cargo) WithView(url, token string) *Cargo {
	cp := *c
	cp.View, cp.ViewToken = url, token
	return &cp
}

// WithToken is a copy of c that publishes with tok: the token can change
// during a release (Trusted Publishing's run out), and uploads in flight
// keep the one they started with.
func (c *Cargo) WithToken(tok string) *Cargo {
	cp := *c
	cp.Registry.Token = tok
	return &cp
}
