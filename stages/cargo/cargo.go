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
	"regexp"
	"strings"
	"sync"
	"time"
)

// CratesIOIndex is crates.io's sparse index.
const CratesIOIndex = "sparse+https://index.crates.io/"

// targetRegistry is the name cargo knows a redirected crates-io by.
const targetRegistry = "embargo-target"

// viewRegistry is the name cargo knows a View of the index by (see View).
const viewRegistry = "embargo-index"

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
	// as embargo last saw it (index.View). Publishing to crates-io, cargo
	// then resolves the package's dependencies through it, by source
	// replacement, while it still reads config.json and the crate's own
	// file from the registry and uploads there: `--registry` names the
	// real registry, and cargo does not follow source replacement for it.
	View string
	// Verbose keeps the whole end of a failed cargo's output in its
	// error; otherwise the error holds cargo's own error lines only.
	Verbose bool
}

// ResolvesThroughView is true when dependencies resolve through a View.
func (c *Cargo) ResolvesThroughView() bool { return c.View != "" && c.Registry.Name == "crates-io" }

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
	case c.ResolvesThroughView():
		global = append(global, "--config", fmt.Sprintf("source.crates-io.replace-with=%q", viewRegistry))
		env = append(env, "CARGO_REGISTRIES_"+envName(viewRegistry)+"_INDEX="+c.View)
	case c.redirected():
		global = append(global, "--config", fmt.Sprintf("source.crates-io.replace-with=%q", targetRegistry))
	}
	if withToken && c.Registry.Token != "" {
		tokenVar := "CARGO_REGISTRY_TOKEN"
		if reg != "crates-io" {
			tokenVar = "CARGO_REGISTRIES_" + envName(reg) + "_TOKEN"
			// cargo reads a registry that wants a token to be read only
			// with a credential provider configured for it, even the
			// default one that reads the environment (cargo:token).
			env = append(env, "CARGO_REGISTRIES_"+envName(reg)+"_CREDENTIAL_PROVIDER=cargo:token")
		}
		env = append(env, tokenVar+"="+c.Registry.Token)
		// cargo's [env] is the environment of what cargo runs, build
		// scripts and rustc, not cargo's own: they see the variable
		// blank, while cargo's credential provider reads the token.
		global = append(global, "--config", "env."+tokenVar+`.value=""`, "--config", "env."+tokenVar+".force=true")
	}
	cmd := exec.CommandContext(ctx, bin, append(global, args...)...)
	cmd.Dir = dir
	cmd.Env = append(CleanEnv(), env...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// CleanEnv is the parent's environment without anything cargo would take
// as registry configuration or credentials: the child gets exactly what
// the release config says.
func CleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "CARGO_HOME" || k == "CARGO_TARGET_DIR" || k == "CARGO_REGISTRY_TOKEN" || strings.HasPrefix(k, "CARGO_REGISTRIES_") ||
			strings.HasPrefix(k, "CARGO_REGISTRY_") || strings.HasPrefix(k, "CARGO_SOURCE_") {
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
	if c.Registry.Token != "" {
		out = strings.ReplaceAll(out, c.Registry.Token, "***")
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

// commandLine is cargo's arguments as an error shows them: without the
// --config pairs embargo adds (the registry's plumbing), unless verbose.
func commandLine(args []string, verbose bool) string {
	if verbose {
		return strings.Join(args, " ")
	}
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--config" {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return strings.Join(out, " ")
}

// progressRE matches cargo's progress lines ("   Compiling demo v1.0.0
// (...)"): right-aligned verbs, not what went wrong.
var progressRE = regexp.MustCompile(`^\s*(Adding|Archiving|Blocking|Checking|Compiling|Downloaded|Downloading|Finished|Fresh|Locking|Packaged|Packaging|Published|Removing|Running|Unpacking|Updating|Uploaded|Uploading|Verifying|Waiting|Warning|Documenting)\s`)

// errorLines is what a failed cargo said went wrong: from its first error
// on, without progress lines, and of a "Caused by:" chain only the last
// cause, the one that names the reason.
func errorLines(out string) string {
	var kept []string
	var cause []string // the latest "Caused by:" block
	inCause, started := false, false
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if !started && !strings.HasPrefix(line, "error") {
			continue
		}
		started = true
		switch {
		case progressRE.MatchString(line):
		case strings.TrimSpace(line) == "Caused by:":
			inCause, cause = true, nil
		case inCause && (strings.HasPrefix(line, " ") || strings.TrimSpace(line) == ""):
			if strings.TrimSpace(line) != "" {
				cause = append(cause, "  caused by: "+strings.TrimSpace(line))
			}
		default:
			if inCause {
				kept, cause, inCause = append(kept, cause...), nil, false
			}
			if strings.TrimSpace(line) != "" || len(kept) > 0 && kept[len(kept)-1] != "" {
				kept = append(kept, line)
			}
		}
	}
	kept = append(kept, cause...)
	return strings.TrimRight(strings.Join(kept, "\n"), "\n")
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

// PublishError is a failed `cargo publish`, classified for the caller's
// retry decision.
type PublishError struct {
	Output string
	// Status is the HTTP status cargo reported from the registry, or 0.
	Status int
	// RetryAfter is when the registry said to come back, if it said.
	RetryAfter time.Time
	// Exists means the registry already has this version (a previous
	// attempt's upload landed).
	Exists bool
	err    error
}

func (e *PublishError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("cargo publish: the registry answered %d", e.Status)
	}
	return e.err.Error()
}

// Retryable is true for rate limits and server errors.
func (e *PublishError) Retryable() bool { return e.Status == 429 || e.Status >= 500 }

var (
	statusRE     = regexp.MustCompile(`status (\d{3})`)
	tryAfterRE   = regexp.MustCompile(`(?i)try again after ([A-Za-z]{3}, \d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT)`)
	alreadyExist = regexp.MustCompile(`already (uploaded|exists)`)
)

// Publish runs `cargo publish --no-verify --locked -p crate` in dir: the
// package was verified before T0, and cargo re-packages the same commit to
// the same bytes. The token reaches cargo only through its environment.
func (c *Cargo) Publish(ctx context.Context, dir, crate string) (string, error) {
	u, err := c.StartPublish(ctx, dir, crate)
	if err != nil {
		return "", err
	}
	<-u.done
	return u.out, u.err
}

// Upload is a `cargo publish` running in the background. After uploading,
// cargo itself waits until the index shows the version, polling about once a
// second; a caller that polls the index faster can stop it as soon as it has
// seen the version there itself.
type Upload struct {
	accepted chan struct{} // closed when cargo reports the upload accepted
	stop     chan struct{} // closed by Stop
	done     chan struct{} // closed when cargo has exited; out and err are set
	stopOnce sync.Once
	out      string
	err      error
}

// StartPublish starts `cargo publish --no-verify --locked -p crate` in dir
// (see Publish) and returns at once.
func (c *Cargo) StartPublish(ctx context.Context, dir, crate string) (*Upload, error) {
	if err := os.MkdirAll(c.Home, 0o700); err != nil {
		return nil, err
	}
	u := &Upload{accepted: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	cmd := c.command(ctx, dir, true, "publish", "--no-verify", "--locked", "-p", crate, "--registry", c.registryArg())
	lw := &lineWriter{onLine: func(line string) {
		// cargo's status line once the registry answered the upload with
		// success: "Uploaded NAME vVERSION to registry `...`".
		if strings.HasPrefix(strings.TrimSpace(line), "Uploaded "+crate+" v") {
			select {
			case <-u.accepted:
			default:
				close(u.accepted)
			}
		}
	}}
	cmd.Stdout, cmd.Stderr = lw, lw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cargo publish -p %s: %w", crate, err)
	}
	exited := make(chan struct{})
	go func() {
		select {
		case <-u.stop:
			// cargo is past its upload and only polls the index: an
			// interrupt is what a person waiting at the terminal would
			// send, and what cargo itself suggests to skip the wait.
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				cmd.Process.Kill()
			}
			select {
			case <-exited:
			case <-time.After(2 * time.Second):
				cmd.Process.Kill()
			}
		case <-exited:
		}
	}()
	go func() {
		err := cmd.Wait()
		close(exited)
		if u.out, err = c.outcome(cmd, lw.String(), err); err != nil {
			u.err = classify(u.out, err)
		}
		close(u.done)
	}()
	return u, nil
}

// Accepted waits until cargo reports the upload accepted by the registry
// (nil, cargo possibly still waiting for the index), or until cargo exits:
// nil when it succeeded, else its *PublishError.
func (u *Upload) Accepted(ctx context.Context) error {
	select {
	case <-u.accepted:
		return nil
	case <-u.done:
		select {
		case <-u.accepted:
			// Accepted, then failed while waiting for the index: the
			// caller's own observation of the index decides.
			return nil
		default:
		}
		return u.err
	case <-ctx.Done():
		u.Stop()
		return ctx.Err()
	}
}

// Stop ends cargo if it is still running and waits until it has exited. Call
// it once the upload was accepted and the caller has seen the version in the
// index itself: cargo has then nothing left to do but wait for the same.
func (u *Upload) Stop() {
	if u == nil {
		return
	}
	u.stopOnce.Do(func() { close(u.stop) })
	<-u.done
}

// classify turns a failed publish's output into a *PublishError.
func classify(out string, err error) *PublishError {
	pe := &PublishError{Output: out, err: err}
	if m := statusRE.FindStringSubmatch(out); m != nil {
		fmt.Sscanf(m[1], "%d", &pe.Status)
	}
	if m := tryAfterRE.FindStringSubmatch(out); m != nil {
		if t, perr := time.Parse(time.RFC1123, m[1]); perr == nil {
			pe.RetryAfter = t
		}
	}
	pe.Exists = alreadyExist.MatchString(out)
	return pe
}

// lineWriter collects a process's output and calls onLine for every
// complete line as it arrives. exec calls Write from one goroutine at a
// time when Stdout and Stderr are the same writer.
type lineWriter struct {
	onLine  func(string)
	mu      sync.Mutex
	buf     bytes.Buffer
	pending []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.pending = append(w.pending, p...)
	for {
		i := bytes.IndexByte(w.pending, '\n')
		if i < 0 {
			break
		}
		w.onLine(string(w.pending[:i]))
		w.pending = w.pending[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// WithToken is a copy of c that publishes with tok: the token can change
// during a release (Trusted Publishing's run out), and uploads in flight
// keep the one they started with.
func (c *Cargo) WithToken(tok string) *Cargo {
	cp := *c
	cp.Registry.Token = tok
	return &cp
}
