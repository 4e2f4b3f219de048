package cargo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

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

// RetryAt is when the registry said to come back (retry.Asker), or zero.
func (e *PublishError) RetryAt() time.Time { return e.RetryAfter }

// Retryable is true for rate limits and server errors.
func (e *PublishError) Retryable() bool { return e.Status == 429 || e.Status >= 500 }

var (
	// cargo's words for the registry's status: "(status 503 Service
	// Unavailable)" for an answer in the registry API's JSON, "got 503"
	// for any other (a plain-text body, a proxy's page).
	statusRE     = regexp.MustCompile(`(?:status|got) (\d{3})`)
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
	accepted   chan struct{} // closed when cargo reports the upload accepted
	acceptedAt time.Time     // when it did, on Cargo.Now; set before accepted closes
	stop       chan struct{} // closed by Stop
	done       chan struct{} // closed when cargo has exited; out and err are set
	stopOnce   sync.Once
	out        string
	err        error
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
				u.acceptedAt = c.now()
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

// AcceptedAt is when cargo reported the upload accepted, on the Cargo's
// clock (Cargo.Now): the moment the version became the registry's, which
// the registry's answer, after its own latency, told cargo. It is the zero
// time while cargo has not reported it, or if it never did.
func (u *Upload) AcceptedAt() time.Time {
	select {
	case <-u.accepted:
		return u.acceptedAt
	default:
		return time.Time{}
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
