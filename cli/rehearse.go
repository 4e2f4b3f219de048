package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox"
	"github.com/async-rs/embargo/sandbox/demo"
	"github.com/async-rs/embargo/sandbox/github"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/vault"
)

func (a *app) rehearseCommand() *cobra.Command {
	var keep bool
	var in time.Duration
	cmd := &cobra.Command{
		Use:   "rehearse",
		Short: "The whole pipeline for real, against a sandbox world, with T0 = now",
		Long: `Rehearse the release: the very same stages, the real cargo publish,
against a sandbox world built on this machine under <state>/rehearsal/: a
mirror of the public repository and a crates.io-compatible registry seeded
from the real index with every package the release's resolution needs (a
repository that commits no Cargo.lock has one resolved against the real
registry first, read only). The real targets are only read, never written,
and no token variable is read, but one: when the real registry wants a token
to be read (a private registry), registry.token_env's reads it, and only that.

What it packages and uploads are the real bytes: a sealed release is held to
its seal, and cargo keeps an alternative registry's real index URL, which it
writes into the packages, reaching the sandbox through a proxy of the
rehearsal's that answers for the real registry and sends it nothing.`,
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			start := a.clock.Now().UTC()
			dir := filepath.Join(a.stateDir(cfg), "rehearsal", start.Format("20060102T150405Z"))
			// The only secret a rehearsal may read: the real registry's
			// token, asked for by the seed only if the real index wants a
			// token to be read; what is printed is scrubbed of it.
			secrets := pipeline.NewSecrets(a.getenv)
			out := a.reporter(secrets)
			// A rehearsal that fails before its stages run leaves nothing
			// under the state directory (unless --keep): the world it began
			// to build is of no use to anyone. One whose stages ran keeps
			// its world on failure, for inspection, and says so below.
			ran := false
			defer func() {
				if err == nil || ran {
					return
				}
				if ctx.Err() != nil {
					// Stopped by the operator: no error of the world's
					// building is of interest, only that it was stopped.
					err = &codeError{code: ExitFailed, err: errors.New("the rehearsal was interrupted while its sandbox world was being built: nothing was written outside it\nnext: `embargo rehearse` rehearses again, in a new sandbox world")}
				}
				if a.g.json {
					// The report is the last line whatever ended the rehearsal.
					out.Emit(pipeline.Event{Kind: pipeline.EventReport, Data: map[string]any{"report": map[string]any{"ok": false, "error": err.Error()}}})
				}
				w := a.stdout
				if a.g.json {
					w = a.stderr
				}
				if keep {
					fmt.Fprintf(w, "\nthe sandbox world, as far as it was built, is kept in %s\n", dir)
					return
				}
				os.RemoveAll(dir)
				if ctx.Err() != nil && !a.g.quiet {
					fmt.Fprintf(w, "\nthe rehearsal was stopped; the sandbox world it had begun in %s was removed (--keep keeps it)\n", dir)
				}
			}()
			if err := makeStateDir(cfg, a.stateDir(cfg)); err != nil {
				return err
			}
			out.Emit(pipeline.Event{Kind: pipeline.EventInfo, Msg: "building the sandbox world in " + dir})
			// What the resolution needs comes from the real registry, read
			// only, before the sandbox exists. Its scratch (a vault and a
			// CARGO_HOME) is not part of the world: removed once read.
			resolve := filepath.Join(dir, "resolve")
			set, err := release.ReleaseCrates(ctx, cfg, a.stateDir(cfg), resolve)
			os.RemoveAll(resolve)
			if err != nil {
				return err
			}
			for _, p := range set.Pinned {
				how := "the one the release keeps for its held tip"
				if p.Resolved {
					how = "one resolved against " + cfg.Registry.Index + ", read only"
				}
				out.Emit(pipeline.Event{Kind: pipeline.EventInfo, Msg: fmt.Sprintf("line %s: no Cargo.lock committed; rehearsed with %s: %d registry package(s)", p.Line, how, p.Packages)})
			}
			blog := ""
			if cfg.Blog != nil {
				blog = cfg.ResolveRemote(cfg.Blog.Repo)
			}
			world, err := sandbox.Start(ctx, sandbox.Options{
				Dir: dir, Public: cfg.ResolveRemote(cfg.Source.Public), Blog: blog,
				Index: cfg.Registry.Index, CratesIO: cfg.Registry.Name == "crates-io",
				Crates: set.Crates, Released: set.Released, Locked: set.Locked,
				RealToken: func() string {
					tok, _ := secrets.Get(cfg.Registry.TokenEnv)
					return tok
				},
				RealTokenSource: fmt.Sprintf("%s (registry.token_env in %s)", cfg.Registry.TokenEnv, cfg.Path),
				GHSA:            ghsaDraft(cfg), GHSARepo: ghsaRepo(cfg),
				TrustedPublishing: cfg.Registry.TrustedPublishing,
				// The built-in example's blog is deployed by a site of its
				// own, which the rehearsal can stand up for its copy.
				BlogSite: demo.Site(cfg.Dir),
				// A release with [announce] mails the world's server,
				// signed with the world's key.
				Mail: cfg.Announce != nil, Now: start,
			})
			if err != nil {
				return err
			}
			defer world.Close()
			if world.ReadWithToken {
				out.Emit(pipeline.Event{Kind: pipeline.EventInfo, Msg: fmt.Sprintf("the real index %s wants a token to be read: the sandbox was seeded from it with %s, read only; the rehearsal's stages never see it",
					cfg.Registry.Index, cfg.Registry.TokenEnv)})
			}
			for _, w := range world.Warnings {
				out.Emit(pipeline.Event{Kind: pipeline.EventWarn, Msg: w})
			}
			if s := world.Seeded; s.Packages > 0 {
				out.Emit(pipeline.Event{Kind: pipeline.EventInfo, Msg: fmt.Sprintf("sandbox registry seeded from %s: %d package(s) copied (%d version(s), %d .crate file(s)) in %s",
					cfg.Registry.Index, s.Packages, s.Versions, s.Crates, pipeline.HumanDuration(s.Took.Round(time.Millisecond)))})
			}
			// The rehearsal's preflight packages with exactly these
			// lockfiles, as the release will.
			state := filepath.Join(dir, "state")
			for _, p := range set.Pinned {
				if err := release.PinLockfile(state, p.Line, p.Held, p.Data); err != nil {
					return err
				}
			}
			// A sealed release is rehearsed as sealed: what it packages and
			// uploads must be the sealed bytes.
			sealed, err := release.HoldRehearsalToSeal(a.stateDir(cfg), state)
			if err != nil {
				return fmt.Errorf("read the release's seal: %w", err)
			}
			if sealed != nil {
				out.Emit(pipeline.Event{Kind: pipeline.EventInfo, Msg: fmt.Sprintf("the release was sealed at %s: the rehearsal holds every package it makes and uploads to the sealed sha256",
					sealed.SealedAt.UTC().Format("2006-01-02 15:04:05Z"))})
			}

			// The rehearsal's own T0: now, or a few seconds ahead to watch
			// the gate count down.
			rc := *cfg
			rc.Embargo.At = start.Add(in).Truncate(time.Second)
			if in > 0 {
				rc.Embargo.At = rc.Embargo.At.Add(time.Second)
			}
			ran = true
			sandbox := &release.Sandbox{Public: world.Public, RegistryIndex: world.Registry.IndexURL(), RegistryToken: world.Token, Blog: world.Blog,
				PostSite: world.BlogURL, OIDCURL: world.Registry.OIDCURL(), OIDCRequestToken: world.Registry.OIDCRequestToken()}
			if world.GitHub != nil {
				sandbox.GitHubAPI, sandbox.GitHubToken = world.GitHub.URL, world.GitHubToken
			}
			if world.Mail != nil {
				sandbox.MailAddr, sandbox.MailTLS, sandbox.SigningKey = world.Mail.Server.Addr(), world.Mail.Server.ClientTLS(), world.Mail.Key
			}
			if world.Proxy != nil {
				sandbox.RegistryProxy, sandbox.RegistryProxyCA = world.Proxy.URL, world.Proxy.CAFile
			}
			runErr := a.runIn(ctx, &rc, state, pipeline.Selection{}, sandbox)
			// Stopped by the operator, it has nothing to show: what was
			// public in its sandbox so far is said with the interruption.
			var se *pipeline.StageError
			stopped := errors.As(runErr, &se) && se.Interrupted
			if !a.g.json && !a.g.quiet && !stopped {
				a.rehearsalReport(ctx, &rc, world, filepath.Join(state, "journal.json"), dir+"-announcement.eml")
			}
			// With --json the report is the last line of stdout: what
			// became of the world goes to stderr.
			w := a.stdout
			if a.g.json {
				w = a.stderr
			}
			switch {
			case keep && stopped:
				fmt.Fprintf(w, "\nthe rehearsal was stopped; its sandbox world is kept in %s\n", dir)
			case keep:
				fmt.Fprintf(w, "\nthe sandbox world is kept in %s\n", dir)
			case runErr == nil || stopped:
				// A rehearsal stopped by the operator is of no use to
				// inspect: its world goes as a finished one's does.
				world.Close()
				what := "the sandbox world"
				if stopped {
					what = "the rehearsal was stopped; its sandbox world"
				}
				if err := os.RemoveAll(dir); err != nil {
					fmt.Fprintf(w, "\n%s in %s could not all be removed: %v\n", what, dir, err)
				} else if !a.g.quiet {
					fmt.Fprintf(w, "\n%s in %s was removed (--keep keeps it)\n", what, dir)
				}
			default:
				fmt.Fprintf(w, "\nthe rehearsal failed; its world is kept for inspection in %s\n", dir)
			}
			return runErr
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the sandbox world and print where")
	cmd.Flags().DurationVar(&in, "in", 0, "put the rehearsal's T0 this far ahead, to watch the countdown")
	return cmd
}

// rehearsalReport says what would have been made public. The
// announcement the world's mail server received is written to
// announcement, which outlives the world.
func (a *app) rehearsalReport(ctx context.Context, cfg *config.Config, world *sandbox.Rehearsal, journal, announcement string) {
	w := a.stdout
	fmt.Fprintf(w, "\nrehearsal: what would be public\n")
	refs, err := vault.ListRemote(ctx, world.Public, nil)
	if err == nil {
		for _, rel := range cfg.Releases {
			br := refs["refs/heads/"+rel.PublicBranch]
			tg := refs["refs/tags/"+rel.Tag]
			fmt.Fprintf(w, "  git       %-14s %s   tag %s -> %s\n", rel.PublicBranch, vault.Short(br.Hash), rel.Tag, vault.Short(tg.Commit))
		}
	}
	var published []string
	for _, req := range world.Registry.Requests() {
		if req.Method == "PUT" && req.Status == 200 && req.Crate != "" {
			published = append(published, fmt.Sprintf("%s@%s (%s)", req.Crate, req.Version, req.Time.UTC().Format("15:04:05.000")))
		}
	}
	sort.Strings(published)
	for _, p := range published {
		fmt.Fprintf(w, "  registry  %s\n", p)
	}
	a.rehearsalMail(world, announcement, release.Announcement)
	// The notice comes last, after the post and the GitHub advisory it
	// links to, as it went: said after them, whichever return ends this.
	defer a.rehearsalMail(world, "", release.NoticeMail)
	if world.GitHub != nil && cfg.GHSA != nil {
		if adv, ok := world.GitHub.Advisory(cfg.GHSA.Repo, cfg.GHSA.ID); ok {
			fmt.Fprintf(w, "  github    %s %s, %d vulnerable range(s)\n", cfg.GHSA.ID, adv.State, len(adv.Vulnerabilities))
		}
	}
	if cfg.Blog == nil || world.Blog == "" {
		return
	}
	j, err := pipeline.ReadJournal(journal)
	if err != nil {
		return
	}
	rendered, _ := pipeline.Load(j, release.PostRenderedKey)
	post, url := rendered.Post, rendered.URL
	if post == "" {
		return
	}
	// What the blog's branch holds in the sandbox now: the post is there
	// only if the advisory stage pushed it (or found it there).
	blogRefs, err := vault.ListRemote(ctx, world.Blog, nil)
	tip := blogRefs["refs/heads/"+cfg.Blog.Branch].Hash
	if state, _ := j.StageState(release.Advisory); err != nil || tip.IsZero() || state != pipeline.StateDone {
		return
	}
	at := ""
	for _, st := range j.Steps(release.Advisory) {
		for _, m := range st.FirstMoments() {
			if m.Public {
				at = " (" + m.At.UTC().Format("15:04:05.000") + ")"
			}
		}
	}
	fmt.Fprintf(w, "  blog      %s on %s at %s%s, for %s\n", post, cfg.Blog.Branch, vault.Short(tip), at, url)
	if cfg.Blog.Feed != "" {
		fmt.Fprintf(w, "  feed      %s: the entry %s\n", cfg.Blog.Feed, url)
	}
}

// ghsaDraft is the draft the rehearsal's sandbox GitHub holds: the one the
// maintainers prepared on GitHub, as the config says it is (its summary the
// title, its CVE the alias), so that a rehearsal never reads GitHub. nil
// without [ghsa].
func ghsaDraft(cfg *config.Config) *github.Draft {
	if cfg.GHSA == nil {
		return nil
	}
	return &github.Draft{GHSAID: cfg.GHSA.ID, Summary: cfg.Advisory.Title, Description: cfg.Description, CVEID: release.AliasCVE(cfg)}
}

func ghsaRepo(cfg *config.Config) string {
	if cfg.GHSA == nil {
		return ""
	}
	return cfg.GHSA.Repo
}

// rehearsalMail says what the world's mail server received of kind: each
// mail, and for the announcement the key that signed it, that its
// signature verifies (in the body and the attached copy), and where it is
// written.
func (a *app) rehearsalMail(world *sandbox.Rehearsal, announcement string, kind release.MailKind) {
	if world.Mail == nil {
		return
	}
	w := a.stdout
	for _, m := range world.Mail.Server.Messages() {
		msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			continue
		}
		id := msg.Header.Get("Message-Id")
		if !strings.Contains(id, "."+string(kind)+"@") {
			continue
		}
		fmt.Fprintf(w, "  mail      %s to %s (%s), queued as %s\n", id, strings.Join(m.To, ", "), m.At.UTC().Format("15:04:05.000"), m.QueueID)
		if kind != release.Announcement {
			continue
		}
		if _, err := world.Mail.VerifyAnnouncement(m.Data); err != nil {
			fmt.Fprintf(w, "            !! the announcement's signature does not verify: %v\n", err)
		} else {
			fmt.Fprintf(w, "            clearsigned by the rehearsal's key %s: the signature verifies, in the body and the attached copy\n", world.Mail.Fingerprint)
		}
		if err := os.WriteFile(announcement, m.Data, 0o644); err != nil {
			fmt.Fprintf(w, "            !! the announcement could not be written: %v\n", err)
			continue
		}
		fmt.Fprintf(w, "            written to %s\n", announcement)
	}
}
