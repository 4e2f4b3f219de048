package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/stages/cargo"
	"github.com/async-rs/embargo/stages/index"
)

// stepResults reads from the journal the results of a stage's steps whose
// name starts with prefix, by step name, flattened (see flatResult).
func (rl *release) stepResults(stage, prefix string) map[string]map[string]string {
	rl.t.Helper()
	out := map[string]map[string]string{}
	for _, st := range rl.journal().Steps(stage) {
		if strings.HasPrefix(st.Name, prefix) {
			out[st.Name] = flatResult(st)
		}
	}
	return out
}

// flatResult is a step's result as a map of strings, for assertions: each
// field by its JSON name (a string as it is, anything else as its JSON),
// the fields of a map field by their own keys too, and the summary.
func flatResult(st pipeline.StepRecord) map[string]string {
	out := map[string]string{"summary": st.Summary}
	var fields map[string]json.RawMessage
	if json.Unmarshal(st.Result, &fields) != nil {
		return out
	}
	text := func(v json.RawMessage) string {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
		return string(v)
	}
	for k, v := range fields {
		out[k] = text(v)
		var inner map[string]json.RawMessage
		if json.Unmarshal(v, &inner) == nil {
			for ik, iv := range inner {
				if _, taken := fields[ik]; !taken {
					out[ik] = text(iv)
				}
			}
		}
	}
	return out
}

// sealedSums reads the checksums preflight sealed, from the journal.
func (rl *release) sealedSums() map[string]string {
	rl.t.Helper()
	out := map[string]string{}
	for _, res := range rl.stepResults("preflight", "package ") {
		for k, v := range res {
			if strings.Contains(k, "@") {
				out[k] = v
			}
		}
	}
	return out
}

// versions is every name@version the example releases.
func (rl *release) versions() []string {
	var out []string
	for _, l := range rl.ex.World.Lines {
		for _, c := range rl.ex.World.Crates {
			out = append(out, c+"@"+l.FixVersion)
		}
	}
	return out
}

// assertPublishedOnce checks every version is in the index with the sealed
// checksum and was uploaded exactly once.
func (rl *release) assertPublishedOnce() {
	rl.t.Helper()
	sealed := rl.sealedSums()
	// The token goes only to a registry that asks for it (a private one).
	idx, err := index.New(rl.registry.IndexURL(), index.Options{Token: registryToken})
	if err != nil {
		rl.t.Fatal(err)
	}
	for _, nv := range rl.versions() {
		name, version, _ := strings.Cut(nv, "@")
		if n := rl.registry.Uploads(name, version); n != 1 {
			rl.t.Errorf("%s uploaded %d times, want exactly once", nv, n)
		}
		e, found, err := idx.Lookup(rl.t.Context(), name, version)
		if err != nil || !found {
			rl.t.Errorf("%s not in the index: %v", nv, err)
			continue
		}
		if sealed[nv] == "" || e.Cksum != sealed[nv] {
			rl.t.Errorf("%s: index cksum %s, sealed %q", nv, e.Cksum, sealed[nv])
		}
	}
}

// assertOneUploadAttemptEach checks the registry was asked to store each
// version once only: a run that observes first never even tries a second
// upload (the registry would refuse one, so the stored count alone could
// never show it).
func (rl *release) assertOneUploadAttemptEach() {
	rl.t.Helper()
	for _, nv := range rl.versions() {
		name, version, _ := strings.Cut(nv, "@")
		if n := rl.registry.PublishAttempts(name, version); n != 1 {
			rl.t.Errorf("%s: %d upload attempts, want exactly one", nv, n)
		}
	}
}

func TestRunPublishesEveryCrateWithTheSealedChecksum(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, time.Now().Add(-time.Second), registry.Options{IndexDelay: 300 * time.Millisecond})
	res := rl.run([]string{"run"})
	if res.code != 0 {
		t.Fatal(res)
	}
	rl.assertReleased()
	rl.assertPublishedOnce()
	// cargo resolved each package's dependencies through embargo's view of
	// the index, not with round trips to the registry.
	uploads := rl.stepResults("publish", "publish ")
	if len(uploads) != len(rl.versions()) {
		t.Fatalf("journal has %d publish steps, want %d", len(uploads), len(rl.versions()))
	}
	for step, res := range uploads {
		if res["resolved_through"] != "index view" {
			t.Errorf("%s: cargo resolved through %q, want the index view", step, res["resolved_through"])
		}
	}
	// The sealed checksum is the sha256 of what cargo packaged before T0.
	for nv, sum := range rl.sealedSums() {
		name, version, _ := strings.Cut(nv, "@")
		b, err := os.ReadFile(cargo.PackagedFile(filepath.Join(rl.dir, ".embargo", "work", lineOf(rl, version)), name, version))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		if hex.EncodeToString(h[:]) != sum {
			t.Errorf("%s: sealed %s is not the packaged file's sha256", nv, sum)
		}
	}
	rl.assertNoSecret(res.stdout, res.stderr)
	// cargo built beside the checkouts, never in them: a checkout holds
	// exactly its commit, whatever the project's .gitignore says, so
	// checking it at T0 reads no build output.
	for _, l := range rl.ex.World.Lines {
		if _, err := os.Stat(filepath.Join(rl.dir, ".embargo", "work", l.Line, "target")); !os.IsNotExist(err) {
			t.Errorf("line %s: cargo's build output is inside the checkout (%v)", l.Line, err)
		}
	}

	// A re-run, and a re-run without the journal, upload nothing.
	attempts := len(rl.registry.Requests())
	if again := rl.run([]string{"run", "--from", "publish"}); again.code != 0 {
		t.Fatal(again)
	}
	os.Remove(filepath.Join(rl.dir, ".embargo", "journal.json"))
	if again := rl.run([]string{"run"}); again.code != 0 {
		t.Fatal(again)
	}
	for _, r := range rl.registry.Requests()[attempts:] {
		if r.Method == http.MethodPut {
			t.Errorf("a re-run tried to upload: %s %s", r.Method, r.Path)
		}
	}
	rl.assertPublishedOnce()
	rl.assertOneUploadAttemptEach()
	// The re-runs found every version on the registry themselves, before
	// starting any cargo: not one publish step of theirs uploaded.
	for step, res := range rl.stepResults("publish", "publish ") {
		if res["summary"] != "already on the registry with the sealed checksum" || res["uploaded_at"] != "" {
			t.Errorf("%s in the re-run without a journal: %v", step, res)
		}
	}
}

// A dependent crate's cargo is started as soon as the registry has accepted
// its dependency's upload, so that the index delay is spent on cargo's
// start-up and its own reads; it uploads only once the index shows the
// dependency, since its locked resolution needs it.
func TestDependentStartsWhileItsDependencyWaitsForTheIndex(t *testing.T) {
	t.Parallel()
	delay := time.Second
	rl := newPublishRelease(t, time.Now().Add(-time.Second), registry.Options{IndexDelay: delay})
	if res := rl.run([]string{"run"}); res.code != 0 {
		t.Fatal(res)
	}
	rl.assertPublishedOnce()
	rl.assertOneUploadAttemptEach()
	puts := map[string]time.Time{}
	for _, r := range rl.registry.Requests() {
		if r.Method == http.MethodPut && r.Status == http.StatusOK {
			puts[r.Crate+"@"+r.Version] = r.Time
		}
	}
	steps := map[string]*pipeline.StepRecord{}
	for _, st := range rl.journal().Snapshot().Stage("publish").Steps {
		steps[st.Name] = st
	}
	crates := rl.ex.World.Crates
	for _, l := range rl.ex.World.Lines {
		for i := 1; i < len(crates); i++ {
			dep, nv := crates[i-1]+"@"+l.FixVersion, crates[i]+"@"+l.FixVersion
			if got := puts[nv].Sub(puts[dep]); got < delay {
				t.Errorf("%s was uploaded %s after %s, before the index could show it (index delay %s)", nv, got, dep, delay)
			}
			visible, err := time.Parse(time.RFC3339Nano, flatResult(*steps["publish "+dep])["visible_at"])
			if err != nil {
				t.Fatalf("publish %s: visible_at: %v", dep, err)
			}
			if started := steps["publish "+nv].Started; !started.Before(visible) {
				t.Errorf("publish %s started at %s, once %s was visible (%s): cargo's start did not overlap the index delay", nv, started, dep, visible)
			}
			uploaded, err := time.Parse(time.RFC3339Nano, flatResult(*steps["publish "+nv])["uploaded_at"])
			// The journal says when the upload could first have happened:
			// not before cargo was shown the dependency in the index.
			if err != nil || uploaded.Before(puts[dep].Add(delay)) {
				t.Errorf("publish %s records uploaded_at %s, before its dependency could be in the index (%s)", nv, uploaded, puts[dep].Add(delay))
			}
		}
	}
}

// Every upload asks the clock itself: the publish stage run on its own
// before T0, after a preflight that sealed everything, is refused, and the
// registry sees no upload at all.
func TestPublishAloneBeforeT0IsRefused(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, time.Now().Add(time.Hour), registry.Options{})
	if res := rl.run([]string{"run", "--only", "preflight"}); res.code != 0 {
		t.Fatalf("preflight: %s", res)
	}
	for _, args := range [][]string{{"run", "--only", "publish"}, {"run", "--from", "publish"}} {
		res := rl.run(args)
		if res.code != 1 {
			t.Fatalf("%v before T0: want exit 1, got %s", args, res)
		}
		if !strings.Contains(res.stdout+res.stderr, "before T0") {
			t.Errorf("%v: the refusal does not say why:\n%s", args, res)
		}
	}
	for _, r := range rl.registry.Requests() {
		if r.Method == http.MethodPut {
			t.Errorf("an upload reached the registry before T0: %s %s", r.Method, r.Path)
		}
	}
	for _, nv := range rl.versions() {
		name, version, _ := strings.Cut(nv, "@")
		if n := rl.registry.PublishAttempts(name, version); n != 0 {
			t.Errorf("%s: %d publish attempts before T0", nv, n)
		}
	}
	rl.assertUnreleased()
}

func lineOf(rl *release, version string) string {
	for _, l := range rl.ex.World.Lines {
		if l.FixVersion == version {
			return l.Line
		}
	}
	return ""
}

// crates.io answers bursts with 429 and a date to come back; servers fail;
// the index hiccups. None of it loses or duplicates a version.
func TestPublishSurvivesRateLimitsServerErrorsAndIndexErrors(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, time.Now().Add(-time.Second), registry.Options{})
	// Preflight first, so the injected failures hit the publishes.
	if res := rl.run([]string{"run", "--only", "preflight"}); res.code != 0 {
		t.Fatal(res)
	}
	rl.registry.FailPublishes(2, http.StatusTooManyRequests, time.Second)
	res := rl.run([]string{"run", "--from", "gate"})
	if res.code != 0 {
		t.Fatal(res)
	}
	if !strings.Contains(res.stdout, "registry answered 429") {
		t.Errorf("no retry after 429 reported:\n%s", res.stdout)
	}
	rl.assertPublishedOnce()

	rl2 := newPublishRelease(t, time.Now().Add(-time.Second), registry.Options{})
	if res := rl2.run([]string{"run", "--only", "preflight"}); res.code != 0 {
		t.Fatal(res)
	}
	rl2.registry.FailPublishes(2, http.StatusInternalServerError, 0)
	rl2.registry.FailIndex(2, http.StatusInternalServerError)
	res = rl2.run([]string{"run", "--from", "gate"})
	if res.code != 0 {
		t.Fatal(res)
	}
	if !strings.Contains(res.stdout, "registry answered 500") {
		t.Errorf("no retry after 500 reported:\n%s", res.stdout)
	}
	rl2.assertPublishedOnce()
}

// A version already on the registry with other bytes can never be replaced:
// preflight refuses, naming both checksums, and nothing is made public.
func TestVersionOnTheRegistryWithAnotherChecksumIsRefused(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, time.Now().Add(-time.Second), registry.Options{})
	other := strings.Repeat("ab", 32)
	if err := rl.registry.Seed(registry.IndexEntry{Name: "demo-core", Vers: "1.12.5", Cksum: other}, nil); err != nil {
		t.Fatal(err)
	}
	res := rl.run([]string{"run"})
	if res.code != 1 {
		t.Fatalf("want exit 1: %s", res)
	}
	out := res.stdout + res.stderr
	if !strings.Contains(out, "demo-core@1.12.5 is already on the registry with sha256 "+other) {
		t.Errorf("refusal does not name the registry's checksum:\n%s", out)
	}
	if rl.pushes() != 0 {
		t.Errorf("pushed despite the conflict")
	}
	for _, r := range rl.registry.Requests() {
		if r.Method == http.MethodPut {
			t.Errorf("uploaded despite the conflict: %s", r.Path)
		}
	}
}

// kill -9 just before and just after an upload, then a re-run: every
// version ends up uploaded exactly once.
func TestKill9DuringPublishThenRerunUploadsEachVersionOnce(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"publish.upload", "publish.uploaded", "publish.publish_demo-core@1.13.1.ran"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			rl := newPublishRelease(t, time.Now().Add(-time.Second), registry.Options{IndexDelay: 500 * time.Millisecond})
			crash := rl.run([]string{"run"}, "EMBARGO_TEST_KILL_AT="+point)
			if !crash.killed {
				t.Fatalf("expected a kill at %s: %s", point, crash)
			}
			res := rl.run([]string{"run"})
			if res.code != 0 {
				t.Fatalf("re-run: %s", res)
			}
			rl.assertReleased()
			rl.assertPublishedOnce()
			rl.assertOneUploadAttemptEach()
		})
	}
}

// A rehearsal runs everything for real against its own sandbox world: the
// real public repository and registry see reads only, and no token
// variable is needed.
func TestRehearseLeavesEveryPublicTargetUntouched(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, time.Now().Add(24*time.Hour), registry.Options{})
	cmd := rl.command([]string{"rehearse", "--keep"})
	var env []string
	for _, kv := range cmd.Env {
		if !strings.HasPrefix(kv, tokenEnv+"=") && !strings.HasPrefix(kv, registryTokenEnv+"=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rehearse: %v\n%s", err, out)
	}
	for _, want := range []string{"rehearsal: what would be public", "registry  demo-core@1.13.1", "git       main"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if n := len(rl.server.ReceivePacks()); n != 0 {
		t.Errorf("the real git server saw %d receive-pack requests", n)
	}
	for _, r := range rl.registry.Requests() {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			t.Errorf("the real registry saw %s %s", r.Method, r.Path)
		}
	}
	rl.assertUnreleased()
	if _, err := os.Stat(filepath.Join(rl.dir, ".embargo", "journal.json")); err == nil {
		t.Errorf("the rehearsal wrote the real journal")
	}
}

// A rehearsal after the release (or part of it) sees what is already
// public: nothing to push or upload, and verification downloads the
// released crates from its sandbox, seeded from the real registry.
func TestRehearseAfterTheReleaseSeesItDone(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, time.Now().Add(-time.Second), registry.Options{})
	if res := rl.run([]string{"run"}); res.code != 0 {
		t.Fatal(res)
	}
	before := len(rl.registry.Requests())
	res := rl.run([]string{"rehearse"})
	if res.code != 0 {
		t.Fatalf("rehearse after the release: %s", res)
	}
	if !strings.Contains(res.stdout, "already on the registry with the sealed checksum") {
		t.Errorf("the rehearsal did not see the released crates:\n%s", res.stdout)
	}
	for _, r := range rl.registry.Requests()[before:] {
		if r.Method != http.MethodGet {
			t.Errorf("the real registry saw %s %s", r.Method, r.Path)
		}
	}
}
