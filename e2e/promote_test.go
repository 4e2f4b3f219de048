package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ociregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/oci"
	"github.com/async-rs/embargo/stages/promote"
	core "github.com/async-rs/embargo/stages/release"
)

// imageRegistry is go-containerregistry's in-process registry behind an
// HTTP server on 127.0.0.1, recording every request.
type imageRegistry struct {
	host string
	mu   sync.Mutex
	log  []string // "METHOD path"
}

func startImageRegistry(t *testing.T) *imageRegistry {
	t.Helper()
	return recordingRegistry(t, ociregistry.New(ociregistry.Logger(log.New(io.Discard, "", 0))))
}

// recordingRegistry serves the image registry h on 127.0.0.1 and records
// every request.
func recordingRegistry(t *testing.T, h http.Handler) *imageRegistry {
	t.Helper()
	reg := &imageRegistry{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg.mu.Lock()
		reg.log = append(reg.log, r.Method+" "+r.URL.Path)
		reg.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	reg.host = strings.TrimPrefix(srv.URL, "http://")
	return reg
}

// count is how many requests of method the registry has seen.
func (reg *imageRegistry) count(method string) int {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	n := 0
	for _, l := range reg.log {
		if strings.HasPrefix(l, method+" ") {
			n++
		}
	}
	return n
}

// writes is every request that could change the registry.
func (reg *imageRegistry) writes() int {
	return reg.count(http.MethodPut) + reg.count(http.MethodPost) + reg.count(http.MethodPatch) + reg.count(http.MethodDelete)
}

func (reg *imageRegistry) reset() {
	reg.mu.Lock()
	reg.log = nil
	reg.mu.Unlock()
}

// pushPrivate writes a random image (an index of platforms when platforms
// > 0) to repo and returns its pinned reference.
func (reg *imageRegistry) pushPrivate(t *testing.T, repo string, platforms int64) string {
	t.Helper()
	var d v1.Hash
	ref := func(d v1.Hash) name.Reference {
		r, err := name.ParseReference(reg.host+"/"+repo+"@"+d.String(), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if platforms > 0 {
		idx, err := random.Index(512, 2, platforms)
		if err != nil {
			t.Fatal(err)
		}
		d, _ = idx.Digest()
		if err := remote.WriteIndex(ref(d), idx); err != nil {
			t.Fatal(err)
		}
	} else {
		img, err := random.Image(512, 2)
		if err != nil {
			t.Fatal(err)
		}
		d, _ = img.Digest()
		if err := remote.Write(ref(d), img); err != nil {
			t.Fatal(err)
		}
	}
	return reg.host + "/" + repo + "@" + d.String()
}

func (reg *imageRegistry) resolve(t *testing.T, ref string) string {
	t.Helper()
	d, err := oci.New(oci.Options{}).Resolve(context.Background(), ref)
	if errors.Is(err, oci.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var promoteT0 = time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)

// promoteRun is a run of the promote stage alone, in memory, with the
// gate's clock at now.
func promoteRun(t *testing.T, images []config.Image, now time.Time) (*core.Run, *pipeline.FakeClock) {
	t.Helper()
	cfg := &config.Config{
		Embargo: config.EmbargoSection{ID: "DEMO-SA-2026-001", At: promoteT0},
		Window:  6 * time.Hour,
		Images:  images,
		Path:    "embargo.toml",
	}
	clock := pipeline.NewFakeClock(now)
	secrets := pipeline.NewSecrets(nil)
	j, err := pipeline.OpenJournal("", pipeline.Embargo{ID: cfg.Embargo.ID, T0: cfg.T0(), Window: cfg.Window}, []string{core.Promote}, secrets.Scrub)
	if err != nil {
		t.Fatal(err)
	}
	return &core.Run{
		Run: &pipeline.Run{
			Gate:    &pipeline.Gate{T0: cfg.T0(), Window: cfg.Window, Clock: clock},
			Journal: j,
			Out:     pipeline.NewReporter(io.Discard, false, clock, secrets.Scrub),
			Secrets: secrets,
		},
		Release: &core.Release{
			Config:   cfg,
			StateDir: t.TempDir(),
			Targets:  core.Real(cfg, secrets),
			// The stage alone on a world made for it: nothing prepares
			// it before T0, so from T0 on it runs on the operator's word
			// that the embargo is over (late_test.go tests the rule
			// itself).
			Mode: core.Mode{Late: true},
		},
	}, clock
}

func runPromote(r *core.Run) error {
	c := core.RealClients()
	return core.Engine([]core.Stage{promote.Stage{Images: c.Images}}, r.Release).Execute(context.Background(), r.Run, pipeline.Selection{})
}

func stepResult(r *core.Run, step string) map[string]string {
	for _, st := range r.Journal.Steps(core.Promote) {
		if st.Name == step {
			return flatResult(st)
		}
	}
	return nil
}

// At T0 every image is copied by digest, a multi-arch index with its
// platforms included; a re-run on a fresh journal observes the targets and
// writes nothing.
func TestPromoteCopiesByDigestAndReRunCopiesNothing(t *testing.T) {
	reg := startImageRegistry(t)
	images := []config.Image{
		{From: reg.pushPrivate(t, "private/app", 3), To: reg.host + "/async-rs/app:1.13.1"},
		{From: reg.pushPrivate(t, "private/tool", 0), To: reg.host + "/async-rs/tool:1.13.1"},
	}
	reg.reset()

	r, _ := promoteRun(t, images, promoteT0.Add(time.Second))
	if err := runPromote(r); err != nil {
		t.Fatal(err)
	}
	for _, im := range images {
		_, want, _ := strings.Cut(im.From, "@")
		if got := reg.resolve(t, im.To); got != want {
			t.Errorf("%s resolves to %q, want %s", im.To, got, want)
		}
		if res := stepResult(r, "copy "+im.To); res["digest"] != want || res["copied_at"] == "" {
			t.Errorf("step result of %s: %v", im.To, res)
		}
	}
	if reg.count(http.MethodPut) == 0 {
		t.Fatal("no PUT reached the registry")
	}
	if got := r.Journal.Snapshot().Stage("promote").State; got != pipeline.StateDone {
		t.Errorf("stage state %s", got)
	}

	reg.reset()
	again, _ := promoteRun(t, images, promoteT0.Add(time.Minute))
	if err := runPromote(again); err != nil {
		t.Fatal(err)
	}
	if n := reg.count(http.MethodPut); n != 0 {
		t.Errorf("re-run sent %d PUT requests, want none", n)
	}
	if n := reg.writes(); n != 0 {
		t.Errorf("re-run sent %d writing requests: %v", n, reg.log)
	}
	if s := stepResult(again, "copy "+images[0].To)["summary"]; !strings.Contains(s, "nothing copied") {
		t.Errorf("re-run summary %q", s)
	}
}

// A source digest that was never pushed fails in the read-only sources
// step, naming the image, before anything is written.
func TestPromoteMissingSourceDigestFailsClearly(t *testing.T) {
	reg := startImageRegistry(t)
	img, _ := random.Image(64, 1)
	d, _ := img.Digest()
	missing := reg.host + "/private/app@" + d.String()
	r, _ := promoteRun(t, []config.Image{{From: missing, To: reg.host + "/async-rs/app:1"}}, promoteT0.Add(time.Second))
	err := runPromote(r)
	if err == nil {
		t.Fatal("promote of a missing digest succeeded")
	}
	for _, want := range []string{missing, "does not exist", "image[1].from"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.From != "promote" {
		t.Errorf("a re-run does not start at promote: %v", err)
	}
	if n := reg.writes(); n != 0 {
		t.Errorf("the registry saw %d writes", n)
	}
}

// Before T0 the copy is refused by the gate inside the stage, whoever ran
// it; at T0 the same run goes through.
func TestPromoteBeforeT0IsRefused(t *testing.T) {
	reg := startImageRegistry(t)
	im := config.Image{From: reg.pushPrivate(t, "private/app", 2), To: reg.host + "/async-rs/app:1.13.1"}
	reg.reset()

	r, clock := promoteRun(t, []config.Image{im}, promoteT0.Add(-time.Hour))
	err := runPromote(r)
	var early *pipeline.EarlyError
	if !errors.As(err, &early) {
		t.Fatalf("before T0: %v, want an EarlyError", err)
	}
	if !strings.Contains(err.Error(), "before T0") {
		t.Errorf("refusal does not say why: %v", err)
	}
	if n := reg.writes(); n != 0 {
		t.Errorf("the registry saw %d writes before T0", n)
	}
	if got := reg.resolve(t, im.To); got != "" {
		t.Errorf("%s is public before T0 at %s", im.To, got)
	}

	clock.Set(promoteT0)
	if err := runPromote(r); err != nil {
		t.Fatalf("at T0: %v", err)
	}
	if _, want, _ := strings.Cut(im.From, "@"); reg.resolve(t, im.To) != want {
		t.Errorf("%s not promoted at T0", im.To)
	}
}

// A rehearsal checks the sources and says what it would copy; the image
// registry sees reads only.
func TestPromoteRehearsalOnlyReads(t *testing.T) {
	reg := startImageRegistry(t)
	im := config.Image{From: reg.pushPrivate(t, "private/app", 0), To: reg.host + "/async-rs/app:1.13.1"}
	reg.reset()
	r, _ := promoteRun(t, []config.Image{im}, promoteT0)
	r.Mode.Command = core.Rehearsing
	r.Targets = core.Sandbox{}.Targets(r.Config)
	if err := runPromote(r); err != nil {
		t.Fatal(err)
	}
	if n := reg.writes(); n != 0 {
		t.Errorf("a rehearsal sent %d writing requests", n)
	}
	res := stepResult(r, "copy "+im.To)
	if res["would_copy"] != "true" || !strings.Contains(res["summary"], "would copy") {
		t.Errorf("rehearsal step result %v", res)
	}
}

func TestPromoteIsSkippedWithoutImages(t *testing.T) {
	r, _ := promoteRun(t, nil, promoteT0)
	if err := runPromote(r); err != nil {
		t.Fatal(err)
	}
	if st := r.Journal.Snapshot().Stage("promote"); st.State != pipeline.StateSkipped || st.Note == "" {
		t.Errorf("promote without [[image]]: %s (%q)", st.State, st.Note)
	}
}

// writeImageConfig writes a minimal valid embargo.toml with the images;
// only the promote stage is run against it.
func writeImageConfig(t *testing.T, dir string, t0 time.Time, images []config.Image) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "advisory.md"), []byte("A bug, fixed.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `[embargo]
id      = "DEMO-SA-2026-001"
at      = %s
handler = "Jane Doe <jane@example.org>"

[source]
public = "https://example.org/demo.git"

[[release]]
line          = "1.13"
branch        = "embargo/1.13"
public_branch = "main"
tag           = "v1.13.1"

[advisory]
title       = "A bug"
package     = "demo-core"
description = "advisory.md"
`, t0.UTC().Format(time.RFC3339))
	for _, im := range images {
		fmt.Fprintf(&b, "\n[[image]]\nfrom = %q\nto   = %q\n", im.From, im.To)
	}
	path := filepath.Join(dir, "embargo.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The command line: `embargo run --only promote` is refused before T0 and
// copies at T0; a second run writes nothing.
func TestRunOnlyPromote(t *testing.T) {
	reg := startImageRegistry(t)
	im := config.Image{From: reg.pushPrivate(t, "private/app", 2), To: reg.host + "/async-rs/app:1.13.1"}
	reg.reset()
	env := []string{"DOCKER_CONFIG=" + t.TempDir()}

	early := writeImageConfig(t, t.TempDir(), time.Now().Add(time.Hour), []config.Image{im})
	res := runBinary(t, env, "run", "--only", "promote", "-c", early)
	if res.code != 1 || !strings.Contains(res.stdout+res.stderr, "before T0") {
		t.Fatalf("before T0: want exit 1 and a refusal, got %s", res)
	}
	if n := reg.writes(); n != 0 {
		t.Errorf("the registry saw %d writes before T0", n)
	}

	cfg := writeImageConfig(t, t.TempDir(), time.Now().Add(-time.Second), []config.Image{im})
	if res := runBinary(t, env, "run", "--only", "promote", "--late", "-c", cfg); res.code != 0 {
		t.Fatalf("at T0: %s", res)
	}
	if _, want, _ := strings.Cut(im.From, "@"); reg.resolve(t, im.To) != want {
		t.Errorf("%s not promoted", im.To)
	}
	reg.reset()
	res = runBinary(t, env, "run", "--only", "promote", "-c", cfg)
	if res.code != 0 || reg.count(http.MethodPut) != 0 || !strings.Contains(res.stdout, "nothing copied") {
		t.Fatalf("re-run: %d PUTs, %s", reg.count(http.MethodPut), res)
	}
}

// A rehearsal of a release with images: the real image registry is read,
// never written, and the rehearsal says what it would copy.
func TestRehearseWithImagesWritesNoImage(t *testing.T) {
	t.Parallel()
	rl := newRelease(t, time.Now().Add(24*time.Hour))
	reg := startImageRegistry(t)
	im := config.Image{From: reg.pushPrivate(t, "private/app", 2), To: reg.host + "/async-rs/app:1.13.1"}
	reg.reset()
	appendImages(t, rl.config, im)
	res := rl.run([]string{"rehearse"}, "DOCKER_CONFIG="+t.TempDir())
	if res.code != 0 {
		t.Fatalf("rehearse: %s", res)
	}
	if !strings.Contains(res.stdout, "would copy") {
		t.Errorf("rehearsal does not say what it would copy:\n%s", res.stdout)
	}
	if n := reg.writes(); n != 0 {
		t.Errorf("a rehearsal sent %d writing requests to the image registry", n)
	}
	if got := reg.resolve(t, im.To); got != "" {
		t.Errorf("%s exists after a rehearsal", im.To)
	}
}

func appendImages(t *testing.T, config string, images ...config.Image) {
	t.Helper()
	f, err := os.OpenFile(config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, im := range images {
		fmt.Fprintf(f, "\n[[image]]\nfrom = %q\nto   = %q\n", im.From, im.To)
	}
}

// startDockerRegistry runs Debian's docker-registry (the distribution
// registry most private registries run) on 127.0.0.1, behind a proxy that
// records every request.
func startDockerRegistry(t *testing.T) *imageRegistry {
	t.Helper()
	addr := startBundleRegistry(t)
	return recordingRegistry(t, httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: addr}))
}

// The same promotion against the distribution registry: a multi-arch
// index and its platforms are copied by digest, a re-run writes nothing,
// and a digest never pushed is reported as missing.
func TestPromoteAgainstDockerRegistry(t *testing.T) {
	reg := startDockerRegistry(t)
	im := config.Image{From: reg.pushPrivate(t, "private/app", 3), To: reg.host + "/async-rs/app:1.13.1"}
	reg.reset()
	r, _ := promoteRun(t, []config.Image{im}, promoteT0)
	if err := runPromote(r); err != nil {
		t.Fatal(err)
	}
	if _, want, _ := strings.Cut(im.From, "@"); reg.resolve(t, im.To) != want {
		t.Fatalf("%s not promoted", im.To)
	}
	reg.reset()
	again, _ := promoteRun(t, []config.Image{im}, promoteT0)
	if err := runPromote(again); err != nil {
		t.Fatal(err)
	}
	if n := reg.writes(); n != 0 {
		t.Errorf("re-run sent %d writing requests", n)
	}

	img, _ := random.Image(64, 1)
	d, _ := img.Digest()
	missing, _ := promoteRun(t, []config.Image{{From: reg.host + "/private/app@" + d.String(), To: reg.host + "/async-rs/app:2"}}, promoteT0)
	if err := runPromote(missing); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing digest: %v", err)
	}
}

// runBinary runs embargo with args, outside any generated world.
func runBinary(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	return execute(t, cmd)
}

// A public tag that already names other bytes is refused, never moved.
func TestPromoteRefusesToMoveAPublicTag(t *testing.T) {
	reg := startImageRegistry(t)
	other := reg.pushPrivate(t, "private/old", 0)
	target := reg.host + "/async-rs/app:1.13.1"
	first, _ := promoteRun(t, []config.Image{{From: other, To: target}}, promoteT0.Add(time.Second))
	if err := runPromote(first); err != nil {
		t.Fatal(err)
	}
	_, oldDigest, _ := strings.Cut(other, "@")
	release := reg.pushPrivate(t, "private/app", 0)
	reg.reset()
	r, _ := promoteRun(t, []config.Image{{From: release, To: target}}, promoteT0.Add(time.Second))
	err := runPromote(r)
	if err == nil || !strings.Contains(err.Error(), "refusing to move a public release tag") {
		t.Fatalf("want a refusal, got %v", err)
	}
	if n := reg.writes(); n != 0 {
		t.Errorf("the registry saw %d writes", n)
	}
	if got := reg.resolve(t, target); got != oldDigest {
		t.Errorf("%s moved to %s", target, got)
	}
}
