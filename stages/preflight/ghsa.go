package preflight

import (
	"context"
	"fmt"
	"strings"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/templates"
)

// checkGHSA is preflight's look at the draft: that it exists, can be
// published, and says what the advisory says.
func checkGHSA(ctx context.Context, r *release.Run, open release.GitHubOpener, m *templates.Model, afterT0 bool, res *GHSAChecked, add func(subject, fix, format string, args ...any)) error {
	g := r.Config.GHSA
	c, err := release.GHSAClient(r, open)
	if err != nil {
		if fs := pipeline.AsFindings(err); fs != nil {
			add(fs[0].Subject, fs[0].Fix, "%s", fs[0].Msg)
			return nil
		}
		return err
	}
	a, err := c.Advisory(ctx, g.Repo, g.ID)
	if err != nil {
		f, ok := release.GHSAFinding(r, err)
		if !ok {
			return err
		}
		add(f.Subject, f.Fix, "%s", f.Msg)
		return nil
	}
	res.State, res.HTMLURL = a.State, a.HTMLURL
	res.Text = fmt.Sprintf("%s of %s is a %s", g.ID, g.Repo, a.State)
	switch a.State {
	case "draft":
	case "published":
		if !afterT0 && !r.Mode.Late {
			add("ghsa.id", "the advisory is public: treat the embargo as broken and follow the policy; to release the rest now, confirm with `embargo run --late`",
				"LEAK: the GitHub advisory %s is already published before T0 (%s)", g.ID, a.HTMLURL)
			return nil
		}
		if !afterT0 {
			// As for a version already on the registry: the embargo is
			// over, and the rest goes out now.
			r.Warnf("the GitHub advisory %s is already published before T0; --late: the embargo is over, the rest is released now", g.ID)
			r.Gate.OpenNow("the GitHub advisory is already published: " + g.ID)
		}
		if diffs := release.GHSADiffs(a, release.GHSAWant(r.Config, m)); len(diffs) > 0 {
			add("ghsa.id", "compare it on GitHub; `embargo run --from ghsa --force` sets it as the release says",
				"%s is published already, but %s", g.ID, strings.Join(diffs, "; "))
		} else {
			res.Text = fmt.Sprintf("%s is published already as the release says: nothing to do", g.ID)
		}
	default:
		f := release.GHSAStateFinding(r.Config.GHSA, a)
		add(f.Subject, f.Fix, "%s", f.Msg)
	}
	if strings.TrimSpace(a.Summary) != strings.TrimSpace(m.Title) {
		add("ghsa.id", fmt.Sprintf("make them the same: the draft's title on GitHub, or advisory.title in %s", r.Config.Path),
			"the draft's summary %q is not advisory.title %q", a.Summary, m.Title)
	}
	cve := release.AliasCVE(r.Config)
	switch {
	case a.CVEID != nil && *a.CVEID != "" && cve == "":
		add("advisory.aliases", fmt.Sprintf("add %q to advisory.aliases in %s", *a.CVEID, r.Config.Path),
			"the draft has the CVE %s, which advisory.aliases does not list", *a.CVEID)
	case a.CVEID != nil && *a.CVEID != "" && !strings.EqualFold(*a.CVEID, cve):
		add("advisory.aliases", fmt.Sprintf("correct advisory.aliases in %s, or the CVE of the draft on GitHub", r.Config.Path),
			"the draft's CVE is %s, advisory.aliases says %s", *a.CVEID, cve)
	case cve != "" && (a.CVEID == nil || *a.CVEID == ""):
		res.CVEID = cve
		r.Infof("the draft %s has no CVE: the release sets it to %s, from advisory.aliases", g.ID, cve)
	}
	return nil
}
