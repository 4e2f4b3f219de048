package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages"
	"github.com/async-rs/embargo/stages/release"
)

func (a *app) notifyCommand() *cobra.Command {
	var shortNotice bool
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Send the distros pre-notice, to the private recipients only, 14 days to 72 hours before T0",
		Long: `Send the distros pre-notice through announce.smtp to announce.private,
and to nobody else: the advisory, the planned T0, the affected and patched
versions, and every line's held fixes (the held branch's commits the
public branch lacks) attached as git format-patch patches, tagged [vs] as
the linux-distros list asks; encrypted to announce.private_pubkey_file
when it is set.

It sends only between 14 days and 72 hours before T0 (plan prints the
window): earlier the list may publish before T0, and after T0 the embargo
is over. Under 72 hours before T0 it refuses unless --short-notice: the
distributions get less time than the policy gives them, which is still
better than no notice.

The journal records the server's acceptance (its time, the Message-ID,
the reply and queue id): a second notify sends nothing unless --force,
and plan, status and check show when the distros were notified.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			if err := release.NotifyConfigured(cfg); err != nil {
				return err
			}
			now := a.clock.Now()
			// Sent already: said whatever the window, and nothing is sent.
			if sent, ok := release.DistrosNotified(a.readJournal(cfg)); ok && !a.force {
				fmt.Fprintf(a.stdout, "the distros were notified at %s already (T0 - %s): %s to %s, %s\nnothing sent; `embargo notify --force` sends the notice again, with the same Message-ID\n",
					sent.AcceptedAt.UTC().Format("2006-01-02 15:04:05Z"), pipeline.HumanDuration(cfg.T0().Sub(sent.AcceptedAt).Round(time.Minute)),
					sent.MessageID, strings.Join(sent.To, ", "), sent.Reply)
				return nil
			}
			if err := release.DistrosWindowOpen(cfg, now, shortNotice); err != nil {
				return &codeError{code: ExitFailed, err: err}
			}
			s, err := a.open(cfg, a.stateDir(cfg), "journal.json", release.Releasing)
			if err != nil {
				return err
			}
			defer s.close()
			// The journal holds the notice beside the release's stages.
			j, err := pipeline.OpenJournal(filepath.Join(s.run.StateDir, "journal.json"), embargoOf(cfg), append(a.stageNames(), release.Notify), s.secrets.Scrub)
			if err != nil {
				return err
			}
			s.run.Journal = j
			err = release.Engine([]release.Stage{stages.Notify(a.clients)}, s.run.Release).Execute(cmd.Context(), s.run.Run, pipeline.Selection{})
			s.run.Out.ClearLive()
			var se *pipeline.StageError
			if errors.As(err, &se) {
				// The stage said its error as it ended.
				return &codeError{code: ExitFailed, err: fmt.Errorf("the distros pre-notice was not sent: %w", se.Err), silent: pipeline.AsFindings(se.Err) != nil}
			}
			if err != nil {
				return err
			}
			if sent, ok := release.DistrosNotified(j); ok {
				fmt.Fprintf(a.stdout, "\ndistros notified at %s (T0 - %s): %s to %s\n  %s\n",
					sent.AcceptedAt.UTC().Format("2006-01-02 15:04:05Z"), pipeline.HumanDuration(cfg.T0().Sub(sent.AcceptedAt).Round(time.Minute)),
					sent.MessageID, strings.Join(sent.To, ", "), sent.Reply)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&shortNotice, "short-notice", false, "send though fewer than 72 hours are left before T0: the distributions get less time than the policy gives them, which is better than no notice")
	cmd.Flags().BoolVar(&a.force, "force", false, "send the notice again though the journal records it accepted, or may have been (same Message-ID)")
	return cmd
}
