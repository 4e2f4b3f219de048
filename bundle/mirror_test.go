package bundle

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/async-rs/embargo/internal/durable"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/seal"
)

// mirrorWorld is a bundle in an in-process registry whose handler, when
// set, answers a request instead of the registry; puts counts the journals
// stored.
type mirrorWorld struct {
	bundle     name.Digest
	recipients []string
	identity   []age.Identity
	journal    string // the journal file

	mu   sync.Mutex
	puts int
}

func newMirrorWorld(t *testing.T, handler func(w http.ResponseWriter, r *http.Request) bool) *mirrorWorld {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials of this machine's
	w := &mirrorWorld{journal: filepath.Join(t.TempDir(), "journal.json")}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if handler != nil && handler(rw, r) {
			return
		}
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			w.mu.Lock()
			w.puts++
			w.mu.Unlock()
		}
		reg.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	d, err := name.NewDigest(strings.TrimPrefix(srv.URL, "http://") + "/release@sha256:" + strings.Repeat("a", 64))
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	w.bundle, w.recipients, w.identity = d, []string{id.Recipient().String()}, []age.Identity{id}
	return w
}

func (w *mirrorWorld) write(t *testing.T, journal string) {
	t.Helper()
	if err := durable.WriteFile(w.journal, []byte(journal), 0o600); err != nil { // as the journal is written
		t.Fatal(err)
	}
}

// stored is the journal beside the bundle, as a runner elsewhere pulls it.
func (w *mirrorWorld) stored(t *testing.T) string {
	t.Helper()
	j, ok, err := seal.PullJournal(context.Background(), w.bundle, w.identity, seal.Options{})
	if err != nil || !ok {
		t.Fatalf("the journal beside the bundle: %v %v", ok, err)
	}
	return string(j)
}

func (w *mirrorWorld) stores() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.puts
}

// Before T0 the journal is beside the bundle by the time the next stage
// starts, stored again only when it changed; after T0 it is stored in the
// background, and the run's end waits for the last one.
func TestMirrorStoresTheJournalAtStageBoundaries(t *testing.T) {
	w := newMirrorWorld(t, nil)
	t0 := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	clock := pipeline.NewFakeClock(t0.Add(-time.Hour))
	r := &pipeline.Run{Gate: &pipeline.Gate{T0: t0, Window: time.Hour, Clock: clock}}
	var warnings []string
	m := StartMirror(context.Background(), w.journal, w.bundle, w.recipients, func(msg string) { warnings = append(warnings, msg) })

	w.write(t, `{"stage":"preflight"}`)
	m.StageBoundary(r)
	if got := w.stored(t); got != `{"stage":"preflight"}` {
		t.Errorf("before T0, the journal beside the bundle at the next stage is %q", got)
	}
	m.StageBoundary(r)
	if n := w.stores(); n != 1 {
		t.Errorf("an unchanged journal was stored %d times, want once", n)
	}

	clock.Set(t0.Add(time.Second))
	w.write(t, `{"stage":"push"}`)
	m.StageBoundary(r)
	w.write(t, `{"stage":"publish"}`)
	m.Flush()
	if got := w.stored(t); got != `{"stage":"publish"}` {
		t.Errorf("after the run, the journal beside the bundle is %q, want the final one", got)
	}
	m.Flush() // the run's end may come twice (an error, then the deferred close)
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
}

// A registry that refuses the journal holds no stage up and fails no run:
// the run is told once that a re-run elsewhere starts over.
func TestMirrorThatCannotStoreWarnsOnce(t *testing.T) {
	w := newMirrorWorld(t, func(rw http.ResponseWriter, r *http.Request) bool {
		http.Error(rw, "denied", http.StatusForbidden)
		return true
	})
	t0 := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	r := &pipeline.Run{Gate: &pipeline.Gate{T0: t0, Window: time.Hour, Clock: pipeline.NewFakeClock(t0.Add(-time.Hour))}}
	var warnings []string
	m := StartMirror(context.Background(), w.journal, w.bundle, w.recipients, func(msg string) { warnings = append(warnings, msg) })
	for _, j := range []string{`{"stage":"preflight"}`, `{"stage":"gate"}`} {
		w.write(t, j)
		m.StageBoundary(r)
	}
	w.write(t, `{"stage":"push"}`)
	m.Flush()
	if len(warnings) != 1 || !strings.Contains(warnings[0], "the journal could not be stored beside the bundle") ||
		!strings.Contains(warnings[0], "a re-run elsewhere re-checks the world instead") {
		t.Errorf("want one warning that the journal could not be stored: %q", warnings)
	}
}
