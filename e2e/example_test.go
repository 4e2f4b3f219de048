package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/sandbox/demo"
)

// The built-in example is a sandbox world of its own: written by `sandbox
// demo`, served by `sandbox serve`, its `run` goes end to end, push,
// publishes with the real cargo, the post live on its blog, verified,
// without a request leaving this machine.
func TestExampleRunsEndToEndOnThisMachine(t *testing.T) {
	requireTool(t, "cargo")
	dir := t.TempDir()
	res := execute(t, exec.Command(binary, "sandbox", "demo", "--dir", dir, "--in", "8s"))
	if res.code != 0 {
		t.Fatal(res)
	}
	cfgFile := strings.TrimSpace(res.stdout)

	// Every URL the example names is on the loopback, and the registry and
	// the blog are the example's own, not the defaults (crates.io).
	text, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range regexp.MustCompile(`[a-z+]+://[^\s"]+`).FindAllString(string(text), -1) {
		if !loopback(t, strings.TrimPrefix(u, "sparse+")) {
			t.Errorf("the example's config names %s, off this machine:\n%s", u, text)
		}
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{strings.TrimPrefix(cfg.Registry.Index, "sparse+"), cfg.Blog.URL} {
		if !loopback(t, u) {
			t.Errorf("the example releases to %s", u)
		}
	}
	for _, remote := range []string{cfg.Source.Public, cfg.Blog.Repo} {
		if strings.Contains(remote, "://") {
			t.Errorf("the example pushes to %s, not a folder of its own", remote)
		}
	}

	if t.Failed() {
		t.FailNow() // never run an example that reaches outside
	}

	serve := exec.Command(binary, "sandbox", "serve", "--dir", dir)
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	serve.Stderr = os.Stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		serve.Process.Signal(os.Interrupt)
		serve.Wait()
	})
	lines := bufio.NewScanner(stdout)
	for i := 0; i < 2; i++ {
		if !lines.Scan() {
			t.Fatalf("sandbox serve printed %d line(s), want the registry's index and the blog's site", i)
		}
	}

	// A request for any other host goes to a proxy that is not there, so
	// it fails instead of reaching the network; the loopback is exempt. A
	// post that never goes live would be polled for the whole window.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, binary, "run", "-c", cfgFile)
	key, err := os.ReadFile(filepath.Join(dir, demo.SigningKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	run.Env = append(os.Environ(), "EMBARGO_DEMO_TOKEN=any", demo.SigningKeyEnv+"="+string(key),
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "https_proxy=http://127.0.0.1:9", "http_proxy=http://127.0.0.1:9",
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	res = execute(t, run)
	if res.code != 0 {
		t.Fatal(res)
	}
	if !strings.Contains(res.stdout, "post: live at http://127.0.0.1:") {
		t.Errorf("verify did not find the post live on the example's blog:\n%s", res.stdout)
	}

	res = execute(t, exec.Command(binary, "status", "--json", "-c", cfgFile))
	var st struct {
		Stages []struct {
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"stages"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, res)
	}
	states := map[string]string{}
	for _, s := range st.Stages {
		states[s.Name] = s.State
	}
	for _, name := range []string{"push", "publish", "announce", "advisory", "notice", "verify"} {
		if states[name] != "done" {
			t.Errorf("stage %s is %q, want done: %v", name, states[name], states)
		}
	}
}

// loopback reports whether the URL's host is this machine's loopback.
func loopback(t *testing.T, raw string) bool {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Errorf("%q: %v", raw, err)
		return false
	}
	if u.Scheme == "file" {
		return true
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
