package releasetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/github"
	"github.com/async-rs/embargo/stages/release"
)

// The GitHub advisory of the fake worlds: its repository and draft, and
// the token of ghsa.token_env.
const (
	GHSATokenEnv = "EMBARGO_GHSA_TOKEN"
	GHSAToken    = "ghp_unitTestTokenNeverShown4821"
	GHSARepo     = "demo-org/demo"
	GHSAID       = "GHSA-4x7m-9pqr-c2vw"
	GHSATitle    = "Out-of-bounds read in demo_core::get"
)

// GitHub is one repository security advisory, changed by PATCHes as
// GitHub changes it, each write stamped with the clock's time.
type GitHub struct {
	Mu    sync.Mutex
	clock *pipeline.FakeClock
	Adv   github.Advisory
	Reads int
	// writes are the PATCHes received, in order.
	writes []Patch
	// LoseAnswers is how many PATCHes are applied but answered with an
	// error, as when the connection drops after GitHub wrote.
	LoseAnswers int
	// Made is the API and token of each client Made.
	Made []string
}

type Patch struct {
	At     time.Time
	Update github.Update
}

func NewGitHub(clock *pipeline.FakeClock, adv github.Advisory) *GitHub {
	return &GitHub{clock: clock, Adv: adv}
}

// Client is the fake as the stages' GitHub factory.
func (g *GitHub) Client(api string, opts github.Options) release.AdvisoryAPI {
	g.Mu.Lock()
	defer g.Mu.Unlock()
	g.Made = append(g.Made, api+" "+opts.Token)
	return g
}

func (g *GitHub) Advisory(_ context.Context, repo, id string) (*github.Advisory, error) {
	g.Mu.Lock()
	defer g.Mu.Unlock()
	g.Reads++
	if repo+"/"+id != GHSARepo+"/"+g.Adv.GHSAID {
		return nil, &github.Error{Method: "GET", URL: repo + "/" + id, Status: 404, Message: "Not Found"}
	}
	return g.copyLocked(), nil
}

func (g *GitHub) Update(_ context.Context, repo, id string, u github.Update) (*github.Advisory, error) {
	g.Mu.Lock()
	defer g.Mu.Unlock()
	if repo+"/"+id != GHSARepo+"/"+g.Adv.GHSAID {
		return nil, &github.Error{Method: "PATCH", URL: repo + "/" + id, Status: 404, Message: "Not Found"}
	}
	now := g.clock.Now()
	g.writes = append(g.writes, Patch{At: now, Update: u})
	a := &g.Adv
	if u.Vulnerabilities != nil {
		a.Vulnerabilities = slices.Clone(u.Vulnerabilities)
	}
	if u.Severity != "" {
		a.Severity, a.CVSS = &u.Severity, nil
	}
	if u.CVSSVectorString != "" {
		a.CVSS, a.Severity = &github.CVSS{VectorString: u.CVSSVectorString}, nil
	}
	if u.Credits != nil {
		a.Credits = slices.Clone(u.Credits)
	}
	if u.CVEID != "" {
		a.CVEID = &u.CVEID
	}
	if u.State != "" {
		if u.State == "published" && a.State != "published" {
			a.PublishedAt = &now
		}
		a.State = u.State
	}
	if g.LoseAnswers > 0 {
		g.LoseAnswers--
		return nil, fmt.Errorf("PATCH %s/%s: connection reset by peer", repo, id)
	}
	return g.copyLocked(), nil
}

func (g *GitHub) copyLocked() *github.Advisory {
	a := g.Adv
	a.Vulnerabilities = slices.Clone(a.Vulnerabilities)
	a.Credits = slices.Clone(a.Credits)
	return &a
}

func (g *GitHub) Patches() []Patch {
	g.Mu.Lock()
	defer g.Mu.Unlock()
	return slices.Clone(g.writes)
}

func (g *GitHub) Current() github.Advisory {
	g.Mu.Lock()
	defer g.Mu.Unlock()
	return *g.copyLocked()
}

// GitHubAPI is the fake worlds' GitHub API.
const GitHubAPI = "https://api.github.example"

// AdvisoryConfig is a release of two lines (1.1 and 1.0) whose advisory
// has a GitHub draft at GitHubAPI.
func AdvisoryConfig() *config.Config {
	return &config.Config{
		Embargo:  config.EmbargoSection{ID: "DEMO-SA-2026-001", At: T0, Handler: "Jane Doe <jane@example.org>"},
		Releases: []config.Release{{Line: "1.1", Tag: "v1.1.1"}, {Line: "1.0", Tag: "v1.0.4"}},
		Advisory: config.AdvisorySection{Title: GHSATitle, Package: "demo-core", Severity: "high", Aliases: []string{"CVE-2026-00001"}},
		GHSA:     &config.GHSASection{Repo: GHSARepo, ID: GHSAID, API: GitHubAPI, TokenEnv: GHSATokenEnv, Credits: []string{"octocat"}},
		Window:   6 * time.Hour,
	}
}

// BlogConfig is AdvisoryConfig with no GitHub advisory and a hugo blog:
// its post is content/out-of-bounds-read-in-demo-core-get.md.
func BlogConfig() *config.Config {
	cfg := AdvisoryConfig()
	cfg.GHSA = nil
	cfg.Blog = &config.BlogSection{Repo: "https://git.example/blog.git", Branch: "main", Style: "hugo", Author: "The demo developers",
		URL: "https://demo.rs/{{.Slug}}/", Path: "content/{{.Slug}}.md"}
	cfg.Description = "A data race.\n"
	return cfg
}
