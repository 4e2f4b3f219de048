package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/async-rs/embargo/sandbox/world"
	"github.com/async-rs/embargo/stages/index"
)

const identityEnv = "EMBARGO_AGE_IDENTITY"

// startBundleRegistry runs Debian's docker-registry (the distribution
// registry most private registries run) on a free loopback port, storing
// into a temporary folder, and returns its host:port.
func startBundleRegistry(t *testing.T) string {
	t.Helper()
	requireTool(t, "docker-registry")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	yml := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command("docker-registry", "serve", cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not answer on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sealedRelease is the example world with a [seal] section whose bundles
// go to a real docker-registry, its source repository named relative to
// the config (so a copy of the config elsewhere points nowhere), and no
// blog (the post is another test's subject).
type sealedRelease struct {
	*release
	oci      string
	identity *age.X25519Identity
}

func newSealedRelease(t *testing.T, t0 time.Time) *sealedRelease {
	t.Helper()
	requireTool(t, "docker-registry")
	return withSeal(t, newRelease(t, t0))
}

// withSeal gives a release the [seal] section of newSealedRelease.
func withSeal(t *testing.T, rl *release) *sealedRelease {
	t.Helper()
	reg := startBundleRegistry(t)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateX25519Identity() // a second recipient, as a team would have
	b, err := os.ReadFile(rl.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	if i := strings.Index(cfg, "\n[blog]"); i >= 0 {
		cfg = cfg[:i+1]
	}
	abs := fmt.Sprintf("%q", rl.ex.World.Source)
	if !strings.Contains(cfg, abs) {
		t.Fatalf("config does not name the source as %s:\n%s", abs, cfg)
	}
	cfg = strings.Replace(cfg, abs, `"source"`, 1)
	oci := reg + "/embargo-bundles"
	cfg += fmt.Sprintf("\n[seal]\noci          = %q\nrecipients   = [%q, %q]\nidentity_env = %q\n", oci, other.Recipient(), id.Recipient(), identityEnv)
	if err := os.WriteFile(rl.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return &sealedRelease{release: rl, oci: oci, identity: id}
}

// freshRunner is a new folder holding only a copy of the config, as a CI
// runner that never saw the release manager's machine.
func (sr *sealedRelease) freshRunner() *release {
	sr.t.Helper()
	dir := sr.t.TempDir()
	b, err := os.ReadFile(sr.config)
	if err != nil {
		sr.t.Fatal(err)
	}
	cfg := filepath.Join(dir, "embargo.toml")
	if err := os.WriteFile(cfg, b, 0o644); err != nil {
		sr.t.Fatal(err)
	}
	runner := *sr.release
	runner.dir, runner.config = dir, cfg
	return &runner
}

// sealAndPush runs `seal --push` (with env) and returns the
// REPOSITORY@sha256:... reference it printed, which must be in the
// configured repository.
func (sr *sealedRelease) sealAndPush(env ...string) (string, result) {
	sr.t.Helper()
	res := sr.run([]string{"seal", "--push"}, env...)
	if res.code != 0 {
		sr.t.Fatalf("seal --push: %s", res)
	}
	m := bundleRefRE.FindStringSubmatch(res.stdout)
	if m == nil {
		sr.t.Fatalf("seal --push printed no REPOSITORY@sha256:...:\n%s", res)
	}
	if !strings.HasPrefix(m[1], sr.oci+"@sha256:") {
		sr.t.Fatalf("bundle %s is not in %s", m[1], sr.oci)
	}
	return m[1], res
}

func (sr *sealedRelease) identityVar() string { return identityEnv + "=" + sr.identity.String() }

type sealFile struct {
	Lines []struct {
		Line       string
		Branch     string
		Held       string
		Tag        string
		Crates     []struct{ Name, Version, Sha256 string }
		PinnedLock string `json:"pinned_lockfile"`
	}
}

func readSealFile(t *testing.T, dir string) sealFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ".embargo", "seal.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s sealFile
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

var bundleRefRE = regexp.MustCompile(`(?m)^(\S+@sha256:[0-9a-f]{64})$`)

// assertSealedPublic checks every sealed tip and tag is public and every
// sealed crate is in the index with its sealed checksum, uploaded once.
func (sr *release) assertSealedPublic(s sealFile) {
	t := sr.t
	t.Helper()
	idx, err := index.New(sr.registry.IndexURL(), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range s.Lines {
		var pub world.Line
		for _, wl := range sr.ex.World.Lines {
			if wl.Line == l.Line {
				pub = wl
			}
		}
		if got, _, _ := sr.publicRef("refs/heads/" + pub.PublicBranch); got.String() != l.Held {
			t.Errorf("public %s = %s, want sealed tip %s", pub.PublicBranch, got, l.Held)
		}
		if _, got, annotated := sr.publicRef("refs/tags/" + l.Tag); got.String() != l.Held || !annotated {
			t.Errorf("public tag %s -> %s (annotated %v), want the sealed tip %s", l.Tag, got, annotated, l.Held)
		}
		for _, c := range l.Crates {
			if n := sr.registry.Uploads(c.Name, c.Version); n != 1 {
				t.Errorf("%s@%s uploaded %d times, want once", c.Name, c.Version, n)
			}
			e, found, err := idx.Lookup(t.Context(), c.Name, c.Version)
			if err != nil || !found || e.Cksum != c.Sha256 {
				t.Errorf("%s@%s in the index: found %v, cksum %s, sealed %s (%v)", c.Name, c.Version, found, e.Cksum, c.Sha256, err)
			}
		}
	}
}

// The sealed release end to end: seal and push the bundle; the bundle is
// refused by tag, by another digest and with a wrong identity; a branch
// moved after the seal stops the release on the release manager's machine
// with nothing public; a runner holding only the config releases from the
// bundle, and when it stops halfway another fresh runner continues from
// the journal stored beside the bundle.
func TestSealedBundleReleasesFromAFreshRunner(t *testing.T) {
	t.Parallel()
	sr := newSealedRelease(t, time.Now().Add(-time.Second))

	ref, res := sr.sealAndPush()
	sealed := readSealFile(t, sr.dir)
	if len(sealed.Lines) != len(sr.ex.World.Lines) {
		t.Fatalf("seal.json has %d lines", len(sealed.Lines))
	}
	for _, l := range sealed.Lines {
		if l.Held != sr.held(l.Branch).String() || len(l.Crates) != len(sr.ex.World.Crates) {
			t.Errorf("sealed line %s: held %s (source %s), %d crates", l.Line, l.Held, sr.held(l.Branch), len(l.Crates))
		}
	}
	sr.assertNoSecret(res.stdout, res.stderr)

	t.Run("refused without a digest", func(t *testing.T) {
		runner := sr.freshRunner()
		res := runner.run([]string{"run", "--bundle", sr.oci + ":latest"}, sr.identityVar())
		if res.code != 2 || !strings.Contains(res.stderr, "carries no digest") {
			t.Errorf("a tag was accepted: %s", res)
		}
	})

	t.Run("refused with another digest", func(t *testing.T) {
		runner := sr.freshRunner()
		other := ref[:len(ref)-8] + "00000000"
		res := runner.run([]string{"run", "--bundle", other}, sr.identityVar())
		if res.code != 1 || !strings.Contains(res.stderr, "no bundle sha256:") {
			t.Errorf("another digest: %s", res)
		}
		if _, err := os.Stat(filepath.Join(runner.dir, ".embargo", "vault.git")); err == nil {
			t.Error("a refused bundle left a vault behind")
		}
	})

	t.Run("refused with a wrong identity", func(t *testing.T) {
		wrong, _ := age.GenerateX25519Identity()
		runner := sr.freshRunner()
		res := runner.run([]string{"run", "--bundle", ref}, identityEnv+"="+wrong.String())
		if res.code != 1 || !strings.Contains(res.stderr, "does not match the recipients of bundle") || !strings.Contains(res.stderr, identityEnv) {
			t.Errorf("wrong identity: %s", res)
		}
		for _, id := range []string{wrong.String(), sr.identity.String()} {
			if strings.Contains(res.stdout+res.stderr, id) {
				t.Error("an identity was printed")
			}
		}
		if res := runner.run([]string{"run", "--bundle", ref}); res.code != 1 || !strings.Contains(res.stderr, identityEnv+" is not set") {
			t.Errorf("no identity: %s", res)
		}
	})

	t.Run("a branch moved after the seal is refused", func(t *testing.T) {
		line := sealed.Lines[0]
		if _, err := world.CommitFile(sr.ex.World.Source, line.Branch, "NOTES.md", "a late change\n", "Late change after the seal\n"); err != nil {
			t.Fatal(err)
		}
		res := sr.run([]string{"run"})
		if res.code != 1 || !strings.Contains(res.stdout, "held branch "+line.Branch+" moved since it was sealed") {
			t.Errorf("run with a moved branch: %s", res)
		}
		// Straight to the push: refused right before the public write.
		res = sr.run([]string{"run", "--from", "push"})
		if res.code != 1 || !strings.Contains(res.stdout+res.stderr, "moved since it was sealed") || !strings.Contains(res.stdout+res.stderr, "nothing was pushed") {
			t.Errorf("run --from push with a moved branch: %s", res)
		}
		if n := sr.pushes(); n != 0 {
			t.Errorf("%d pushes reached the public server", n)
		}
		for _, l := range sr.ex.World.Lines {
			if got, _, _ := sr.publicRef("refs/tags/" + l.Tag); !got.IsZero() {
				t.Errorf("tag %s is public", l.Tag)
			}
		}
		for _, r := range sr.registry.Requests() {
			if r.Method == http.MethodPut {
				t.Errorf("the registry saw an upload: %s %s", r.Method, r.Path)
			}
		}
	})

	// A runner with the wrong registry token makes nothing public: the
	// registry refuses the first upload, which the push waits for.
	first := sr.freshRunner()
	res = first.run([]string{"run", "--bundle", ref}, sr.identityVar(), registryTokenEnv+"=not-the-registry-token-3f1c")
	if res.code != 1 || !strings.Contains(res.stderr, "stage push failed") || !strings.Contains(res.stdout, "nothing pushed: the registry refused the first upload") {
		t.Fatalf("first runner: want the push held back by the registry's refusal, got %s", res)
	}
	if !strings.Contains(res.stdout, "bundle "+ref+" restored") {
		t.Errorf("first runner does not say it restored the bundle:\n%s", res.stdout)
	}
	if desc, err := os.ReadFile(filepath.Join(first.dir, "advisory.md")); err != nil || len(desc) == 0 {
		t.Errorf("the description was not restored beside the config: %v", err)
	}
	if n := sr.pushes(); n != 0 {
		t.Fatalf("first runner: %d pushes, want none", n)
	}
	// Neither the wrong token nor the identity is in its output or state.
	first.assertAbsent([]string{token, registryToken, "not-the-registry-token-3f1c", sr.identity.String()}, res.stdout, res.stderr)

	// Another fresh runner continues where it stopped, from the journal
	// stored beside the bundle: push and publish, with preflight's sealed
	// checks.
	second := sr.freshRunner()
	res = second.run([]string{"run", "--bundle", ref, "--from", "push"}, sr.identityVar())
	if res.code != 0 {
		t.Fatalf("second runner: %s", res)
	}
	if !strings.Contains(res.stdout, "journal of the last run restored from "+sr.oci+":") {
		t.Errorf("second runner did not restore the stored journal:\n%s", res.stdout)
	}
	if strings.Contains(res.stdout, "no sealed checksums in the journal") {
		t.Errorf("second runner lacked preflight's records:\n%s", res.stdout)
	}
	st := second.run([]string{"status", "--json"})
	var status struct {
		Stages []struct{ Name, State string }
	}
	if err := json.Unmarshal([]byte(st.stdout), &status); err != nil {
		t.Fatalf("status: %v\n%s", err, st)
	}
	for _, s := range status.Stages {
		if (s.Name == "preflight" || s.Name == "gate" || s.Name == "push" || s.Name == "publish") && s.State != "done" {
			t.Errorf("second runner's journal: %s is %s, want done (preflight and gate from the first runner)", s.Name, s.State)
		}
	}
	if n := sr.pushes(); n != 1 {
		t.Errorf("second runner: %d pushes, want 1", n)
	}
	sr.assertSealedPublic(sealed)

	// A third runner, whole pipeline: everything is public, nothing is
	// pushed or uploaded again.
	third := sr.freshRunner()
	res = third.run([]string{"run", "--bundle", ref}, sr.identityVar())
	if res.code != 0 {
		t.Fatalf("third runner: %s", res)
	}
	if n := sr.pushes(); n != 1 {
		t.Errorf("%d pushes after the third runner, want 1", n)
	}
	sr.assertSealedPublic(sealed)
	sr.assertNoSecret(res.stdout, res.stderr)
	for _, runner := range []*release{second, third} {
		runner.assertAbsent([]string{token, registryToken, sr.identity.String()})
	}
}

// syncBuffer is an output a test reads while the process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A runner killed while it waits for T0 (a cancelled CI job) has stored
// its journal beside the bundle; another fresh runner continues from the
// gate with the first one's checks, and releases at T0.
func TestSealedBundleRunnerKilledAtTheGateIsContinuedElsewhere(t *testing.T) {
	t0 := time.Now().Add(15 * time.Second).Truncate(time.Second)
	sr := newSealedRelease(t, t0)
	ref, _ := sr.sealAndPush()
	sealed := readSealFile(t, sr.dir)

	first := sr.freshRunner()
	cmd := first.command([]string{"run", "--bundle", ref}, sr.identityVar())
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := t0.Add(-time.Second)
	for !strings.Contains(out.String(), "holding until T0") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the first runner did not reach the gate well before T0:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if n := sr.pushes(); n != 0 {
		t.Fatalf("%d pushes before T0", n)
	}

	second := sr.freshRunner()
	res := second.run([]string{"run", "--bundle", ref, "--from", "gate"}, sr.identityVar())
	if res.code != 0 {
		t.Fatalf("second runner: %s", res)
	}
	if !strings.Contains(res.stdout, "journal of the last run restored") || strings.Contains(res.stdout, "no sealed checksums in the journal") {
		t.Errorf("second runner did not continue from the stored journal:\n%s", res.stdout)
	}
	if !strings.Contains(res.stdout, "preflight  done") {
		t.Errorf("the first runner's preflight is not in the journal:\n%s", res.stdout)
	}
	for _, r := range sr.server.Pushes() {
		if r.Time.Before(t0) {
			t.Errorf("push at %s, before T0 %s", r.Time.Format(time.RFC3339Nano), t0.Format(time.RFC3339))
		}
	}
	if n := sr.pushes(); n != 1 {
		t.Errorf("%d pushes, want 1", n)
	}
	sr.assertSealedPublic(sealed)
}

// The CI job's whole story: a fresh runner with only the config, the
// bundle's digest and the age identity releases everything in one run.
func TestOneRunFromTheBundleReleasesEverything(t *testing.T) {
	t.Parallel()
	sr := newSealedRelease(t, time.Now().Add(-time.Second))
	ref, _ := sr.sealAndPush()
	sealed := readSealFile(t, sr.dir)
	runner := sr.freshRunner()
	res := runner.run([]string{"run", "--bundle", ref}, sr.identityVar())
	if res.code != 0 {
		t.Fatalf("run --bundle: %s", res)
	}
	if n := sr.pushes(); n != 1 {
		t.Errorf("%d pushes, want one atomic push", n)
	}
	sr.assertSealedPublic(sealed)
	sr.assertNoSecret(res.stdout, res.stderr)
	runner.assertAbsent([]string{token, registryToken, sr.identity.String()}, res.stdout, res.stderr)
}

// Bad flags or a bad config on a bundle run are refused before the bundle
// is pulled or anything is written beside the config.
func TestBundleRunWithBadInputTouchesNothing(t *testing.T) {
	t.Parallel()
	sr := newSealedRelease(t, time.Now().Add(time.Hour))
	ref := "127.0.0.1:1/embargo-bundles@sha256:" + strings.Repeat("a", 64)
	for _, c := range []struct {
		name, appendConfig, flag, says string
	}{
		{name: "unknown stage", flag: "publsh", says: "publsh"},
		{name: "unknown table", appendConfig: "\n[sael]\noci = \"ghcr.io/org/bundles\"\n", flag: "preflight", says: "sael"},
	} {
		t.Run(c.name, func(t *testing.T) {
			runner := sr.freshRunner()
			f, err := os.OpenFile(runner.config, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(c.appendConfig)
			f.Close()
			res := runner.run([]string{"run", "--bundle", ref, "--from", c.flag}, sr.identityVar())
			if res.code != 2 || !strings.Contains(res.stderr, c.says) {
				t.Fatalf("want exit 2 saying %q, got %s", c.says, res)
			}
			entries, err := os.ReadDir(runner.dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Name() != "embargo.toml" {
					t.Errorf("%s was written beside the config", e.Name())
				}
			}
		})
	}
}
