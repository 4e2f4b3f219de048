package bench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/async-rs/embargo/stages/cargo"
)

// fakeCargo writes a shell script standing in for cargo. Like cargo (which
// the rustup proxy execs), what it runs last replaces the shell: one process.
func fakeCargo(t *testing.T, script string) *cargo.Cargo {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake cargo is a shell script")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "cargo")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return &cargo.Cargo{Bin: bin, Home: filepath.Join(dir, "home"), Registry: cargo.Registry{Name: "crates-io", Index: "sparse+http://127.0.0.1:1/index/", Token: "tok-secret"}}
}

// Once cargo says the registry accepted the upload, the publish stage polls
// the index itself and stops cargo's own, slower wait: the time to public
// depends on it. A cargo that fails before uploading is reported with its
// status, the token scrubbed.
func TestUploadAcceptedThenStopped(t *testing.T) {
	// cargo's wait for the index here lasts an hour: only Stop ends it.
	pidFile := filepath.Join(t.TempDir(), "pid")
	c := fakeCargo(t, `echo $$ > '`+pidFile+`'
echo "   Uploading ttp-00 v1.0.1 (somewhere)" >&2
echo "    Uploaded ttp-00 v1.0.1 to registry embargo-target" >&2
echo "note: waiting for ttp-00 v1.0.1 to be available" >&2
exec sleep 3600
`)
	ctx := context.Background()
	up, err := c.StartPublish(ctx, t.TempDir(), "ttp-00")
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Accepted(ctx); err != nil {
		t.Fatalf("accepted: %v", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	cargoProc, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cargoProc.Kill() }) // should Stop have left it
	stopped := make(chan struct{})
	go func() {
		up.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("Stop did not cut cargo's wait for the index short")
	}
	if err := cargoProc.Signal(syscall.Signal(0)); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("cargo still runs after Stop returned (signal 0: %v)", err)
	}

	c = fakeCargo(t, `echo "error: failed to publish to registry: the remote server responded with an error (status 429 Too Many Requests): slow down, tok-secret" >&2
exit 101
`)
	up, err = c.StartPublish(ctx, t.TempDir(), "ttp-00")
	if err != nil {
		t.Fatal(err)
	}
	err = up.Accepted(ctx)
	var pe *cargo.PublishError
	if !errors.As(err, &pe) || pe.Status != 429 || !pe.Retryable() {
		t.Fatalf("want a retryable 429, got %v", err)
	}
	if strings.Contains(err.Error(), "tok-secret") || strings.Contains(pe.Output, "tok-secret") {
		t.Errorf("token in the error: %v", err)
	}
	up.Stop() // cargo has exited: returns at once
}

func TestBound(t *testing.T) {
	if got := Bound(DefaultKnobs()); got != 3300*time.Millisecond {
		t.Errorf("bound of the default knobs = %s, want 3.3s", got)
	}
	if got := Bound(Knobs{Lines: 5, Crates: 1, Latency: 10 * time.Millisecond}); got != 20*time.Millisecond {
		t.Errorf("one crate, no delay: %s, want 20ms", got)
	}
}

func TestParseCPUInfo(t *testing.T) {
	model, cores := parseCPUInfo(strings.NewReader("processor\t: 0\nmodel name\t: Example CPU @ 2.0GHz\n\nprocessor\t: 1\nmodel name\t: Example CPU @ 2.0GHz\n"))
	if model != "Example CPU @ 2.0GHz" || cores != 2 {
		t.Errorf("got %q, %d cores", model, cores)
	}
}
