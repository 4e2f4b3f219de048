// Package notice is the stage that mails the short notice to
// announce.notice (oss-security) at T0, last of the WG's order: after the
// signed announcement, the blog post and the GitHub advisory, since the
// notice links to both and a reader must find them there.
//
// It converges on the journal as the announcement does
// (release.DeliverOnce): the server's acceptance is recorded, a re-run
// sends nothing recorded as accepted, and a notice whose outcome is
// unknown is never sent again blindly.
package notice

import (
	"context"
	"fmt"
	"strings"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

// Stage mails the notice once the pages it links to are out.
type Stage struct {
	Mail  release.MailOpener
	Index release.IndexOpener
	Blog  release.BlogOpener
}

func (Stage) Name() string { return release.Notice }

// Needs: the versions it names (publish), and the post and the GitHub
// advisory it links to; a stage not configured counts as done.
func (Stage) Needs() []string { return []string{release.Publish, release.Advisory, release.GHSA} }
func (Stage) Summary() string {
	return "the short notice with the excerpt and the links, once the post and the GitHub advisory are out; once"
}

// Skip: the notice is optional.
func (Stage) Skip(cfg *config.Config) string {
	if cfg.Announce == nil {
		return "no [announce] configured: mail the notice to oss-security by hand"
	}
	if len(cfg.Announce.Notice) == 0 {
		return "announce.notice names no list for the notice"
	}
	return ""
}

// Plan names the mail, its recipients and the server.
func (Stage) Plan(cfg *config.Config) []string {
	return release.PlanMail(cfg, release.NoticeMail)
}

// composedKey is the notice stage's first step: the notice composed. The
// next two, the moment it was handed to the server and the server's
// answer, are release.PublicMailSteps.
var composedKey = pipeline.Key[pipeline.Said]{Stage: release.Notice, Step: "compose"}

func (s Stage) Run(ctx context.Context, r *release.Run) error {
	if !r.Selected(release.Gate) {
		if err := release.CheckLateStart(r); err != nil {
			return err
		}
	}
	var m release.Outgoing
	if _, err := pipeline.Step(r.Run, composedKey, func(res *pipeline.Said) error {
		mdl, out, err := release.AdvisoryOutputs(ctx, r, s.Index, s.Blog)
		if err != nil {
			return err
		}
		if m, err = release.ComposeMail(r.Config, release.NoticeMail, mdl, out.Mail.Content, nil); err != nil {
			return err
		}
		*res = pipeline.Said(fmt.Sprintf("%s %s to %s", m.Kind, m.MessageID, strings.Join(m.Envelope.To, ", ")))
		return nil
	}); err != nil {
		return err
	}
	return release.DeliverAtT0(ctx, r, s.Mail, release.Notice, m)
}
