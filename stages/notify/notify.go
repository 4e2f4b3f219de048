// Package notify sends the distros pre-notice, `embargo notify`: days
// before T0, the advisory, the planned T0, the affected and patched
// versions and every line's held fixes as patches, to the recipients
// [announce] marks private and to nobody else, as the linux-distros list
// asks of reporters (stages/mail composes it).
//
// It runs as a stage of its own, outside the release's pipeline, so that
// its steps are recorded in the journal beside the release's: the
// server's acceptance (SMTP cannot be read back) is what a second notify,
// plan, status and check read. A notice handed over whose outcome is
// unknown (the connection lost after the data, or a notify killed between
// handing it over and recording the reply) is never sent again blindly.
package notify

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/mail"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/templates"
)

// Stage sends the pre-notice.
type Stage struct {
	Vault release.FixesOpener
	Mail  release.MailOpener
}

func (Stage) Name() string    { return release.Notify }
func (Stage) Needs() []string { return nil }
func (Stage) Summary() string {
	return "the distros pre-notice: the advisory, T0 and the held fixes as patches, to announce.private only; once"
}

// composedKey is the notice as composed: what it carries.
var composedKey = pipeline.Key[Composed]{Stage: release.Notify, Step: "compose"}

// Composed is the pre-notice, ready to send.
type Composed struct {
	MessageID string `json:"message_id"`
	// Fixes are each line's held commits, oldest first, by line.
	Fixes     map[string][]string `json:"fixes"`
	Patches   []string            `json:"patches"`
	Encrypted bool                `json:"encrypted,omitempty"`
	// Fingerprint is the signing key's, when the notice is signed.
	Fingerprint string `json:"fingerprint,omitempty"`
	Text        string `json:"summary,omitempty"`
}

func (c Composed) Summary() string { return c.Text }

func (s Stage) Run(ctx context.Context, r *release.Run) error {
	var msg mail.Message
	if _, err := pipeline.Step(r.Run, composedKey, func(res *Composed) (err error) {
		msg, err = s.compose(ctx, r, res)
		return err
	}); err != nil {
		return err
	}
	if r.Now().After(r.Config.T0().Add(-release.DistrosMinLead)) {
		r.Warnf("the pre-notice goes %s before T0, under the 72 hours the policy gives the distributions", pipeline.HumanDuration(r.Config.T0().Sub(r.Now()).Round(time.Minute)))
	}
	k := release.MailSteps[release.DistrosSent]{Handed: release.DistrosHandedKey, Sent: release.DistrosSentKey}
	return release.DeliverOnce(ctx, r, s.Mail, k, release.Delivery{Mail: release.MailOut(release.PreNotice, msg), What: release.PreNotice.What(),
		ForceResendsAccepted: true, Again: "embargo notify", Resend: "embargo notify --force"})
}

// compose reads every line's held fixes and composes the notice.
func (s Stage) compose(ctx context.Context, r *release.Run, res *Composed) (mail.Message, error) {
	cfg := r.Config
	patches, fixes, err := s.heldFixes(ctx, r)
	if err != nil {
		return mail.Message{}, err
	}
	m, err := release.AdvisoryModel(cfg)
	if err != nil {
		return mail.Message{}, err
	}
	// The mail text does not depend on the blog's conventions, and days
	// before T0 the registry's versions are left unread: the notice names
	// no unmaintained series.
	out, err := release.RenderAdvisory(cfg, m, templates.Conventions{}, nil)
	if err != nil {
		return mail.Message{}, err
	}
	adv := release.MailAdvisory(cfg, m, out.Mail.Content)
	var encryptTo []byte
	if f := cfg.Announce.PrivatePubkeyFile; f != "" {
		if encryptTo, err = os.ReadFile(cfg.Resolve(f)); err != nil {
			return mail.Message{}, fmt.Errorf("announce.private_pubkey_file: %w", err)
		}
	}
	// Signed, when the config names the team's key, as of now, when it is
	// sent: the list tells the notice is the team's.
	now := r.Now().UTC()
	var signer mail.Signer
	if cfg.Announce.SigningKeyEnv != "" {
		k, err := release.SigningKey(r, now)
		if err != nil {
			return mail.Message{}, err
		}
		signer, res.Fingerprint = k, k.Fingerprint()
	}
	msg, err := mail.Distros(adv, mail.Header{From: cfg.Announce.From, To: cfg.Announce.Private, Date: now}, cfg.T0(), patches, encryptTo, signer)
	if err != nil {
		if encryptTo != nil {
			return mail.Message{}, fmt.Errorf("announce.private_pubkey_file %s: %w", cfg.Announce.PrivatePubkeyFile, err)
		}
		return mail.Message{}, err
	}
	res.MessageID, res.Fixes, res.Encrypted = msg.MessageID, fixes, encryptTo != nil
	for _, p := range patches {
		res.Patches = append(res.Patches, p.Name)
	}
	how := ""
	if res.Fingerprint != "" {
		how = ", signed with " + res.Fingerprint
	}
	if res.Encrypted {
		how += ", encrypted to " + cfg.Announce.PrivatePubkeyFile
	}
	res.Text = fmt.Sprintf("%s to %s: %d patch(es) of %d line(s)%s", msg.MessageID, strings.Join(msg.To, ", "), len(patches), len(fixes), how)
	return msg, nil
}

// heldFixes are the patches of every line's held fixes, the commits of its
// held branch that its public branch does not have, oldest first, each
// named after its line ("1.13-0001-Stop-polling....patch"), and the
// commits by line.
func (s Stage) heldFixes(ctx context.Context, r *release.Run) ([]mail.Patch, map[string][]string, error) {
	cfg := r.Config
	v, err := s.Vault(release.VaultPath(r.StateDir))
	if err != nil {
		return nil, nil, err
	}
	if _, _, missing, err := release.FetchHeld(ctx, r, v); err != nil {
		return nil, nil, err
	} else if len(missing) > 0 {
		rel := cfg.Releases[missing[0]]
		return nil, nil, fmt.Errorf("held branch %s (release[%d].branch) does not exist in %s: the pre-notice carries every line's fixes; create it, or correct the config", rel.Branch, missing[0]+1, cfg.Source.Repo)
	}
	// Read only, and without a credential: nothing is written to the
	// public remote.
	if err := v.FetchPublic(ctx, r.Targets.Public.URL, nil); err != nil {
		return nil, nil, fmt.Errorf("read the public repository %s (source.public): %w", cfg.Source.Public, err)
	}
	var patches []mail.Patch
	fixes := map[string][]string{}
	for i, rel := range cfg.Releases {
		held, _ := v.Held(rel.Branch)
		public, ok := v.PublicBranch(rel.PublicBranch)
		if !ok {
			return nil, nil, fmt.Errorf("public branch %s (release[%d].public_branch) does not exist in %s", rel.PublicBranch, i+1, cfg.Source.Public)
		}
		if ff, err := v.IsAncestor(public, held); err != nil {
			return nil, nil, err
		} else if !ff {
			return nil, nil, fmt.Errorf("held branch %s does not fast-forward public %s: its patches would not apply to what the distributions have; rebase it onto %s (now %s), then notify", rel.Branch, rel.PublicBranch, rel.PublicBranch, release.Short(public))
		}
		ahead, err := v.Ahead(held, public)
		if err != nil {
			return nil, nil, err
		}
		if len(ahead) == 0 {
			return nil, nil, fmt.Errorf("held branch %s has no commit that public %s lacks: there is no fix to send for release %s (is it public already?)", rel.Branch, rel.PublicBranch, rel.Line)
		}
		slices.Reverse(ahead) // oldest first, as git format-patch numbers them
		commits := make([]*object.Commit, len(ahead))
		for k, h := range ahead {
			if commits[k], err = v.Commit(h); err != nil {
				return nil, nil, fmt.Errorf("read held commit %s of %s: %w", release.Short(h), rel.Branch, err)
			}
			fixes[rel.Line] = append(fixes[rel.Line], h.String())
		}
		line, err := mail.FormatPatch(commits)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range line {
			p.Name = rel.Line + "-" + p.Name
			patches = append(patches, p)
		}
	}
	return patches, fixes, nil
}
