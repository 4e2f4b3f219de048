package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// Holder says who holds the lock.
type Holder struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

// LockedError is returned when another run holds the lock; the CLI maps it
// to exit 3.
type LockedError struct {
	Path   string
	Holder Holder
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("another run holds the lock %s: pid %d on %s since %s; wait for it, or if that run is gone, remove the lock file",
		e.Path, e.Holder.PID, e.Holder.Host, e.Holder.Since.UTC().Format(time.RFC3339))
}

// Lock is a held lock file.
type Lock struct{ path string }

// AcquireLock creates path exclusively. A lock left by a dead process of this
// host is taken over (warn says so); a live holder, or one on another host
// whose liveness cannot be seen, gives *LockedError.
func AcquireLock(path string, now time.Time, warn func(string)) (*Lock, error) {
	host, _ := os.Hostname()
	me := Holder{PID: os.Getpid(), Host: host, Since: now.UTC()}
	body, err := json.Marshal(me)
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 2; attempt++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, werr := f.Write(body)
			serr := f.Sync()
			f.Close()
			if werr != nil || serr != nil {
				os.Remove(path)
				return nil, fmt.Errorf("write lock %s: %v", path, errors.Join(werr, serr))
			}
			return &Lock{path: path}, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create lock %s: %w", path, err)
		}
		b, rerr := os.ReadFile(path)
		var h Holder
		if rerr != nil || json.Unmarshal(b, &h) != nil || h.PID == 0 {
			// Being written this instant, or garbage: treat as held, the
			// safe side.
			return nil, &LockedError{Path: path, Holder: h}
		}
		if h.Host != host || processAlive(h.PID) {
			return nil, &LockedError{Path: path, Holder: h}
		}
		if warn != nil {
			warn(fmt.Sprintf("taking over a stale lock of pid %d (no longer running) from %s", h.PID, h.Since.UTC().Format(time.RFC3339)))
		}
		// Remove only the stale lock we read, then race fairly with any
		// other run for O_EXCL.
		if cur, err := os.ReadFile(path); err == nil && string(cur) == string(b) {
			os.Remove(path)
		}
	}
	b, _ := os.ReadFile(path)
	var h Holder
	json.Unmarshal(b, &h)
	return nil, &LockedError{Path: path, Holder: h}
}

// Release removes the lock file.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	return os.Remove(l.path)
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
