package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/async-rs/embargo/internal/testenv"
)

// terminal is the embargo binary in a real terminal: a tmux pane of a
// given size on a tmux server of the test's own, as an operator watches a
// release around T0. Everything the pane is sent arrives in raw as it is
// written, so that the test waits for what it looks for on that event;
// rows is what the pane shows, scrollback included.
type terminal struct {
	t      *testing.T
	socket string
	code   string // the file the command's exit code is written to
	mu     sync.Mutex
	raw    bytes.Buffer
	grew   chan struct{} // closed, and replaced, at each write
}

// hang bounds every wait for the terminal: a guard against a test that
// hangs, not a timing.
const hang = 3 * time.Minute

// startTerminal runs the command, with env added to the test's, in a
// width x height pane, in dir.
func startTerminal(t *testing.T, width, height int, dir string, env []string, command ...string) *terminal {
	t.Helper()
	testenv.NeedTool(t, "tmux", "it is the terminal the live line and Ctrl-C are tested in")
	// A socket path of its own, short: a Unix socket's path is limited.
	home, err := os.MkdirTemp("", "tmux")
	if err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, socket: filepath.Join(home, "s"), code: filepath.Join(home, "code"), grew: make(chan struct{})}
	conf := filepath.Join(home, "tmux.conf")
	// The pane stays when the command has ended, for its last screen.
	if err := os.WriteFile(conf, []byte("set -g remain-on-exit on\nset -g history-limit 50000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var quoted []string
	for _, a := range command {
		quoted = append(quoted, shellQuote(a))
	}
	tmux := "tmux -S " + shellQuote(term.socket)
	// The command starts once the pane's output is piped to the test, and
	// says when it has ended. A Ctrl-C reaches this shell too, which, as
	// an operator's shell does, outlives it (the trap is not inherited).
	script := fmt.Sprintf("trap true INT; %s wait-for go; cd %s && %s; echo $? > %s; %s wait-for -S done",
		tmux, shellQuote(dir), strings.Join(quoted, " "), shellQuote(term.code), tmux)
	start := exec.Command("tmux", "-S", term.socket, "-f", conf, "new-session", "-d", "-s", "main",
		"-x", strconv.Itoa(width), "-y", strconv.Itoa(height), "sh", "-c", script)
	start.Env = append(os.Environ(), env...)
	if out, err := start.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("tmux", "-S", term.socket, "kill-server").Run()
		os.RemoveAll(home)
	})
	fifo := filepath.Join(home, "raw")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	term.tmux("pipe-pane", "-t", "main", "-O", "cat > "+shellQuote(fifo))
	f, err := os.Open(fifo) // once cat has opened it
	if err != nil {
		t.Fatal(err)
	}
	go term.read(f)
	term.tmux("wait-for", "-S", "go")
	return term
}

func (term *terminal) read(f *os.File) {
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		term.mu.Lock()
		term.raw.Write(buf[:n])
		close(term.grew)
		term.grew = make(chan struct{})
		term.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// tmux runs a tmux command on the terminal's server.
func (term *terminal) tmux(args ...string) string {
	term.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	out, err := exec.CommandContext(ctx, "tmux", append([]string{"-S", term.socket}, args...)...).CombinedOutput()
	if err != nil {
		term.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// await returns once the pane has been sent text (escape codes and all).
func (term *terminal) await(text string) {
	term.t.Helper()
	guard := time.NewTimer(hang)
	defer guard.Stop()
	for {
		term.mu.Lock()
		seen, grew := bytes.Contains(term.raw.Bytes(), []byte(text)), term.grew
		term.mu.Unlock()
		if seen {
			return
		}
		select {
		case <-grew:
		case <-guard.C:
			term.t.Fatalf("the terminal never showed %q; it shows:\n%s", text, strings.Join(term.rows(), "\n"))
		}
	}
}

// rows are the pane's rows, the scrollback first, as a terminal shows
// them (a long line wrapped), without the empty ones at the bottom.
func (term *terminal) rows() []string {
	out := strings.Split(strings.TrimRight(term.tmux("capture-pane", "-p", "-t", "main", "-S", "-"), "\n"), "\n")
	for i := range out {
		out[i] = strings.TrimRight(out[i], " ")
	}
	return out
}

// text is what the pane shows, each wrapped line joined again: what was
// printed.
func (term *terminal) text() string {
	return term.tmux("capture-pane", "-p", "-J", "-t", "main", "-S", "-")
}

// exited waits for the command to end and returns its exit code.
func (term *terminal) exited() int {
	term.t.Helper()
	term.tmux("wait-for", "done")
	b, err := os.ReadFile(term.code)
	if err != nil {
		term.t.Fatal(err)
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		term.t.Fatal(err)
	}
	return code
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// stream is an embargo command whose output the test reads as it comes,
// to act on what it says (a signal at a given moment).
type stream struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	errb bytes.Buffer
	grew chan struct{}
	done chan struct{}
}

func startStream(t *testing.T, cmd *exec.Cmd) *stream {
	t.Helper()
	s := &stream{t: t, cmd: cmd, grew: make(chan struct{}), done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &lockedWriter{s: s, w: &s.errb}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.done)
		io.Copy(&lockedWriter{s: s, w: &s.out}, stdout)
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	return s
}

type lockedWriter struct {
	s *stream
	w *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	close(l.s.grew)
	l.s.grew = make(chan struct{})
	return l.w.Write(p)
}

// await returns once stdout holds text.
func (s *stream) await(text string) {
	s.t.Helper()
	guard := time.NewTimer(hang)
	defer guard.Stop()
	for {
		s.mu.Lock()
		seen, grew := strings.Contains(s.out.String(), text), s.grew
		s.mu.Unlock()
		if seen {
			return
		}
		select {
		case <-grew:
		case <-s.done:
			s.t.Fatalf("embargo ended without saying %q:\n%s", text, s.result())
		case <-guard.C:
			s.t.Fatalf("embargo never said %q:\n%s", text, s.result())
		}
	}
}

// interrupt stops the command as Ctrl-C does, and waits for its end.
func (s *stream) interrupt() result {
	s.t.Helper()
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		s.t.Fatal(err)
	}
	<-s.done
	s.cmd.Wait()
	res := s.result()
	if ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		s.t.Fatalf("embargo died of the signal instead of saying what it stopped: %s", res)
	}
	return res
}

func (s *stream) result() result {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := result{stdout: s.out.String(), stderr: s.errb.String()}
	if s.cmd.ProcessState != nil {
		res.code = s.cmd.ProcessState.ExitCode()
	}
	return res
}
