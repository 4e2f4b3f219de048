package e2e

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// Ctrl-C while verify waits for a post that is not live yet: the journal
// says verify was interrupted, not that it failed or passed, the timeline
// claims no margin to spare, and the command printed to resume starts at
// verify again.
func TestInterruptedVerifyIsRecordedInterruptedAndResumesAtVerify(t *testing.T) {
	site := newHugoSite(t) // never deployed: the post stays a 404
	rl := newHugoRelease(t, time.Now().Add(-time.Second).Truncate(time.Second), site.blog)

	cmd := rl.command([]string{"run"})
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		out     strings.Builder
		waiting = make(chan struct{})
		once    sync.Once
	)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "the post is not live yet") {
				once.Do(func() { close(waiting) })
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case <-waiting:
	case <-read:
		cmd.Wait()
		t.Fatalf("the run ended before verify waited for the post:\n%s\n%s", out.String(), errb.String())
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("verify never waited for the post:\n%s", out.String())
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-read
	err = cmd.Wait()
	res := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(interface{ ExitCode() int }); ok {
		res.code = ee.ExitCode()
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatalf("embargo died of the signal instead of recording it: %s", res)
	}
	if res.code != 1 {
		t.Errorf("want exit 1 for an interrupted run (state kept, a re-run resumes), got %s", res)
	}

	j := rl.journal().Snapshot()
	if got := j.Stage("verify").State; got != pipeline.StateInterrupted {
		t.Errorf("verify is %q in the journal, want %q", got, pipeline.StateInterrupted)
	}
	for _, s := range j.Stages {
		if s.Name != "verify" && s.State != pipeline.StateDone && s.State != pipeline.StateSkipped {
			t.Errorf("stage %s is %s, want done: only verify was interrupted", s.Name, s.State)
		}
	}
	if got := rl.verifyResult("timeline", "within_window"); got == "true" {
		t.Errorf("the interrupted verify's timeline says it was within the window")
	}
	all := res.stdout + res.stderr
	if strings.Contains(all, "to spare") {
		t.Errorf("the interrupted verify reports a margin to spare:\n%s", all)
	}
	for _, want := range []string{"interrupted", "embargo run -c " + rl.config + " --from verify"} {
		if !strings.Contains(all, want) {
			t.Errorf("output lacks %q:\n%s", want, all)
		}
	}
	for _, unwanted := range []string{"--from gate", "--from preflight", "fix the cause"} {
		if strings.Contains(all, unwanted) {
			t.Errorf("output says %q for an interrupted verify:\n%s", unwanted, all)
		}
	}

	status := rl.run([]string{"status"})
	if !strings.Contains(status.stdout, "verify     interrupted") {
		t.Errorf("status does not show verify interrupted:\n%s", status)
	}
}
