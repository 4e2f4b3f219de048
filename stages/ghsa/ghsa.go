// Package ghsa is the stage that publishes the draft GitHub repository
// security advisory after publish: one PATCH gives it every line's
// vulnerable range, the severity and the credits.
package ghsa

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/github"
	"github.com/async-rs/embargo/stages/release"
)

// Stage publishes the draft GitHub repository security advisory, which
// Dependabot and the GitHub Advisory Database read: one PATCH gives it a
// vulnerability per release line, the severity or CVSS vector and the
// credits, and publishes it. It comes after publish, as the post does: the
// advisory tells users to upgrade to versions that must exist.
type Stage struct {
	GitHub release.GitHubOpener
}

func (Stage) Name() string    { return release.GHSA }
func (Stage) Needs() []string { return []string{release.Publish} }
func (Stage) Summary() string {
	return "the draft GitHub security advisory gets every line's ranges, the severity and credits, and is published"
}

// Skip: the GitHub advisory is optional.
func (Stage) Skip(cfg *config.Config) string {
	if cfg.GHSA == nil {
		return "no [ghsa] configured"
	}
	return ""
}

// Plan names the advisory and the vulnerabilities it gets.
func (Stage) Plan(cfg *config.Config) []string {
	g := cfg.GHSA
	if g == nil {
		return nil
	}
	out := []string{fmt.Sprintf("publish %s of %s (%s)", g.ID, g.Repo, g.API)}
	if m, err := release.AdvisoryModel(cfg); err == nil {
		for _, v := range release.GHSAWant(cfg, m).Vulnerabilities {
			out = append(out, fmt.Sprintf("rust/%s %s, patched %s", v.Package.Name, v.VulnerableVersionRange, or(v.PatchedVersions, "by no line")))
		}
	}
	return out
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func (s Stage) Run(ctx context.Context, r *release.Run) error {
	g := r.Config.GHSA
	m, err := release.AdvisoryModel(r.Config)
	if err != nil {
		return err
	}
	c, err := release.GHSAClient(r, s.GitHub)
	if err != nil {
		return err
	}
	want := release.GHSAWant(r.Config, m)
	if _, err := pipeline.Step(r.Run, readKey, func(res *Read) error {
		a, err := c.Advisory(ctx, g.Repo, g.ID)
		if err != nil {
			return release.GHSAError(r, err)
		}
		res.State = a.State
		switch a.State {
		case "draft", "published":
		default:
			return &pipeline.FindingsError{Findings: []pipeline.Finding{release.GHSAStateFinding(r.Config.GHSA, a)}}
		}
		res.Text = fmt.Sprintf("%s of %s is %s", g.ID, g.Repo, a.State)
		return nil
	}); err != nil {
		return err
	}

	if err := release.AwaitGate(ctx, r); err != nil {
		return err
	}
	if _, err := pipeline.Step(r.Run, publishedKey, func(res *Published) error {
		return publishGHSA(ctx, r, c, want, res)
	}); err != nil {
		return err
	}
	_, err = pipeline.Step(r.Run, verifiedKey, func(res *release.GHSAVerified) error {
		return release.VerifyGHSA(ctx, r, c, want, res)
	})
	return err
}

// The ghsa stage's steps.
var (
	readKey      = pipeline.Key[Read]{Stage: release.GHSA, Step: "read"}
	publishedKey = pipeline.Key[Published]{Stage: release.GHSA, Step: "publish"}
	verifiedKey  = pipeline.Key[release.GHSAVerified]{Stage: release.GHSA, Step: "verify"}
)

// Read is the ghsa stage's first look at the advisory.
type Read struct {
	State string `json:"state,omitempty"`
	Text  string `json:"summary,omitempty"`
}

func (g Read) Summary() string { return g.Text }

// Published is the publish step: when the PATCH that published the
// advisory was sent, and what GitHub answered.
type Published struct {
	PublishedAt       time.Time `json:"published_at,omitzero"`
	GitHubPublishedAt time.Time `json:"github_published_at,omitzero"`
	HTMLURL           string    `json:"html_url,omitempty"`
	Vulnerabilities   int       `json:"vulnerabilities,omitempty"`
	Text              string    `json:"summary,omitempty"`
}

func (g Published) Summary() string { return g.Text }

// Moments: the PATCH that published the advisory is a public write.
// GitHub's own time of publication is what GitHub says, recorded in the
// result only.
func (g Published) Moments() []pipeline.Moment {
	return []pipeline.Moment{{Name: "published_at", At: g.PublishedAt, Public: true}}
}

// publishGHSA looks at the advisory again and, unless it is published as
// the release says already, sends the one PATCH that makes it so.
func publishGHSA(ctx context.Context, r *release.Run, c release.AdvisoryAPI, want github.Update, res *Published) error {
	g := r.Config.GHSA
	cur, err := c.Advisory(ctx, g.Repo, g.ID)
	if err != nil {
		return release.GHSAError(r, err)
	}
	res.HTMLURL = cur.HTMLURL
	diffs := release.GHSADiffs(cur, want)
	if cur.State == "published" && len(diffs) == 0 {
		res.Text = fmt.Sprintf("already published as the release says: %s; nothing written", cur.HTMLURL)
		return nil
	}
	u := want
	// GitHub replaces the credits with the list sent: those the draft has
	// (the reporter of a private report, credited by GitHub) are kept.
	if len(u.Credits) > 0 {
		u.Credits = mergeCredits(cur.Credits, want.Credits)
	}
	if cur.CVEID == nil || *cur.CVEID == "" {
		u.CVEID = release.AliasCVE(r.Config) // "" leaves it unset
	}
	if cur.State == "published" {
		// Someone edited it after it was published: never overwritten
		// silently, as a post with other content is not.
		if !r.Mode.Force {
			return &pipeline.RerunError{From: release.GHSA, Force: true, Err: fmt.Errorf("%s is published, but %s: compare it on GitHub (%s); a re-run with --force sets it as the release says",
				g.ID, strings.Join(diffs, "; "), cur.HTMLURL)}
		}
		r.Warnf("%s is published with other content (%s): setting it as the release says (--force)", g.ID, strings.Join(diffs, "; "))
		u.State = ""
	}
	if err := r.Gate.Allow("publish the GitHub security advisory " + g.ID); err != nil {
		return err
	}
	start := r.Now()
	a, err := c.Update(ctx, g.Repo, g.ID, u)
	if err != nil {
		return release.GHSAError(r, err)
	}
	pipeline.Checkpoint("ghsa.patched")
	res.PublishedAt = start.UTC()
	if a.PublishedAt != nil {
		res.GitHubPublishedAt = a.PublishedAt.UTC()
	}
	res.HTMLURL, res.Vulnerabilities = a.HTMLURL, len(a.Vulnerabilities)
	res.Text = fmt.Sprintf("published %s with %d vulnerable range(s): %s", g.ID, len(a.Vulnerabilities), a.HTMLURL)
	return nil
}

// mergeCredits is have, then each of want it lacks.
func mergeCredits(have, want []github.Credit) []github.Credit {
	out := append([]github.Credit(nil), have...)
	for _, w := range want {
		found := false
		for _, c := range have {
			found = found || (strings.EqualFold(c.Login, w.Login) && c.Type == w.Type)
		}
		if !found {
			out = append(out, w)
		}
	}
	return out
}
