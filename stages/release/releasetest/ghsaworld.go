package releasetest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	sandbox "github.com/async-rs/embargo/sandbox/github"
	"github.com/async-rs/embargo/stages/release"
)

// GHSAWorld is a sandbox GitHub holding the release's draft, and a run of
// a two-line release at now on a fake clock, with [ghsa] pointing at it.
type GHSAWorld struct {
	Srv   *sandbox.Server
	R     *release.Run
	Out   *bytes.Buffer
	Clock *pipeline.FakeClock
}

func NewGHSAWorld(t *testing.T, now time.Time, opts sandbox.Options) *GHSAWorld {
	t.Helper()
	if opts.Token == "" {
		opts.Token = GHSAToken
	}
	srv, err := sandbox.Start("", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.AddDraft(GHSARepo, sandbox.Draft{GHSAID: GHSAID, Summary: GHSATitle, Description: "A read past the end."}); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		Embargo:  config.EmbargoSection{ID: "DEMO-SA-2026-001", At: T0, Handler: "Jane Doe <jane@example.org>"},
		Releases: []config.Release{{Line: "1.1", Tag: "v1.1.1"}, {Line: "1.0", Tag: "v1.0.4"}},
		Advisory: config.AdvisorySection{Title: GHSATitle, Package: "demo-core", Severity: "high", Aliases: []string{"CVE-2026-00001"}},
		GHSA:     &config.GHSASection{Repo: GHSARepo, ID: GHSAID, API: srv.URL, TokenEnv: GHSATokenEnv, Credits: []string{"octocat", "hubot:reporter"}},
		Window:   6 * time.Hour,
		Path:     "embargo.toml",
	}
	r, clock, out := Run(t, cfg, now, map[string]string{GHSATokenEnv: GHSAToken})
	r.Mode.Late = !now.Before(T0) // nothing prepared these runs before T0: the operator's word
	return &GHSAWorld{Srv: srv, Out: out, Clock: clock, R: r}
}

func (w *GHSAWorld) Advisory(t *testing.T) sandbox.Advisory {
	t.Helper()
	a, ok := w.Srv.Advisory(GHSARepo, GHSAID)
	if !ok {
		t.Fatal("the draft is gone")
	}
	return a
}

// AssertNoToken checks the token is in neither the output nor the journal.
func (w *GHSAWorld) AssertNoToken(t *testing.T, texts ...string) {
	t.Helper()
	j, _ := os.ReadFile(filepath.Join(w.R.StateDir, "journal.json"))
	for _, s := range append(texts, w.Out.String(), string(j)) {
		if strings.Contains(s, GHSAToken) {
			t.Errorf("the GitHub token leaked:\n%s", s)
		}
	}
}
