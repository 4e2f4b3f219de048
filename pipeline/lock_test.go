package pipeline_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

func hostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Skipf("no hostname: %v", err)
	}
	return h
}

// deadPID is the pid of a process of this host that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	return cmd.ProcessState.Pid()
}

func writeLock(t *testing.T, path string, h pipeline.Holder) []byte {
	t.Helper()
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSecondRunIsRefusedNamingTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	since := time.Date(2026, 12, 1, 13, 45, 0, 0, time.UTC)
	first, err := pipeline.AcquireLock(path, since, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release()

	warned := false
	second, err := pipeline.AcquireLock(path, since.Add(time.Minute), func(string) { warned = true })
	var le *pipeline.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second AcquireLock = (%v, %v), want *LockedError", second, err)
	}
	if warned {
		t.Error("a live lock was reported as stale")
	}
	h := hostname(t)
	if le.Holder.PID != os.Getpid() || le.Holder.Host != h || !le.Holder.Since.Equal(since) {
		t.Errorf("holder = %+v, want pid %d on %s since %v", le.Holder, os.Getpid(), h, since)
	}
	msg := err.Error()
	for _, s := range []string{fmt.Sprintf("pid %d", os.Getpid()), h, "2026-12-01T13:45:00Z", path} {
		if !strings.Contains(msg, s) {
			t.Errorf("message %q does not name %q", msg, s)
		}
	}
}

func TestStaleLockOfADeadProcessIsTakenOverWithAWarning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	pid := deadPID(t)
	writeLock(t, path, pipeline.Holder{PID: pid, Host: hostname(t), Since: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)})

	var warnings []string
	lock, err := pipeline.AcquireLock(path, time.Date(2026, 12, 1, 13, 45, 0, 0, time.UTC), func(msg string) { warnings = append(warnings, msg) })
	if err != nil {
		t.Fatalf("stale lock not taken over: %v", err)
	}
	defer lock.Release()
	if len(warnings) != 1 || !strings.Contains(warnings[0], fmt.Sprint(pid)) || !strings.Contains(warnings[0], "stale") {
		t.Errorf("warnings = %q, want one naming the stale pid %d", warnings, pid)
	}
	var h pipeline.Holder
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &h); err != nil || h.PID != os.Getpid() {
		t.Errorf("lock file now holds %s, want this process", b)
	}
}

func TestLockOfAnotherHostIsNotTakenOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	// The pid is dead here, but that says nothing about the other host.
	other := pipeline.Holder{PID: deadPID(t), Host: hostname(t) + "-other-runner", Since: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	before := writeLock(t, path, other)

	warned := false
	_, err := pipeline.AcquireLock(path, time.Now(), func(string) { warned = true })
	var le *pipeline.LockedError
	if !errors.As(err, &le) || le.Holder.Host != other.Host || le.Holder.PID != other.PID {
		t.Fatalf("got %v, want *LockedError naming %+v", err, other)
	}
	if warned {
		t.Error("warned of a takeover that must not happen")
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("the other host's lock was changed to %s", after)
	}
}

func TestUnreadableLockIsTreatedAsHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := pipeline.AcquireLock(path, time.Now(), nil)
	var le *pipeline.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want *LockedError", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "{not json" {
		t.Errorf("the lock was changed to %q", b)
	}
}

func TestReleasedLockCanBeTakenAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	lock, err := pipeline.AcquireLock(path, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := lock.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("lock file still there after Release: %v", err)
	}
	again, err := pipeline.AcquireLock(path, time.Now(), nil)
	if err != nil {
		t.Fatalf("lock not free after Release: %v", err)
	}
	again.Release()
}
