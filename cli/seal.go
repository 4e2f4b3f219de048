package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/async-rs/embargo/bundle"
	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/internal/durable"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/seal"
	"github.com/async-rs/embargo/stages/vault"
)

func (a *app) sealCommand() *cobra.Command {
	var push bool
	cmd := &cobra.Command{
		Use:   "seal",
		Short: "Freeze the release after a clean preflight (and push the encrypted bundle)",
		Long: `Run the preflight and, if it is clean, freeze the release in <state>/seal.json:
the held tips and tags, the sha256 of every .crate, the cargo that made them,
the Cargo.lock cargo resolved for a repository that commits none, the
digests of the config, the description and the rendered advisory. From
then on, run refuses a release that differs (a branch that moved, a changed
config, a crate that packages to other bytes) before anything is public.

With --push, the git objects of the held branches and tags, the .crate files,
the pinned lockfiles, the rendered advisory and seal.json are encrypted with age to [seal]
recipients and pushed as one OCI artifact to [seal] oci; the printed
REPOSITORY@sha256:... is what a CI runner releases from:
  embargo run --bundle REPOSITORY@sha256:...`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			if push {
				// The section's values were checked with the config.
				if cfg.Seal == nil {
					return &pipeline.UsageError{Msg: fmt.Sprintf("--push needs a [seal] section in %s: oci, recipients, identity_env", cfg.Path)}
				}
			}
			return a.seal(cmd.Context(), cfg, push)
		},
	}
	cmd.Flags().BoolVar(&push, "push", false, "also push the encrypted bundle to [seal] oci and print its REPOSITORY@sha256:...")
	return cmd
}

func (a *app) seal(ctx context.Context, cfg *config.Config, push bool) (err error) {
	state := a.stateDir(cfg)
	// Sealing records nothing but the seal.
	s, err := a.checkedPreflight(ctx, cfg, "sealed", true)
	if err != nil {
		return err
	}
	defer s.close()
	defer func() {
		if err != nil && a.g.json {
			// The report is the last line whatever ended the seal.
			s.run.Out.Emit(pipeline.Event{Kind: pipeline.EventReport, Data: map[string]any{"sealed": false, "error": err.Error()}})
		}
	}()

	m, err := bundle.Manifest(s.run)
	if err != nil {
		return err
	}
	manifest, err := m.Marshal()
	if err != nil {
		return err
	}
	// The bytes the seal names are kept beside it first, so that a
	// difference found later can be shown file by file.
	if err := release.KeepSealed(s.run, m); err != nil {
		return err
	}
	path := release.SealPath(state)
	if err := durable.WriteFile(path, manifest, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	crates := 0
	for _, l := range m.Lines {
		crates += len(l.Crates)
	}
	s.run.Out.Emit(pipeline.Event{Kind: pipeline.EventDone, Stage: "seal",
		Msg: fmt.Sprintf("%s sealed in %s: %d line(s), %d crate(s), %s", m.ID, path, len(m.Lines), crates, m.Cargo)})
	for _, l := range m.Lines {
		msg := fmt.Sprintf("line %s: %s at %s, tag %s", l.Line, l.Branch, vault.ShortHex(l.Held), l.Tag)
		if l.PinnedLock != "" {
			msg += fmt.Sprintf(", Cargo.lock pinned (sha256 %s; the repository commits none)", vault.ShortHex(l.PinnedLock))
		}
		s.run.Out.Emit(pipeline.Event{Kind: pipeline.EventInfo, Stage: "seal", Msg: msg})
	}
	if !push {
		if a.g.json {
			s.run.Out.Emit(pipeline.Event{Kind: pipeline.EventReport, Data: map[string]any{"sealed": true, "seal": path}})
		}
		return nil
	}

	b, err := bundle.Gather(ctx, s.run, a.clients, m, manifest)
	if err != nil {
		return err
	}
	start := time.Now()
	ref, err := seal.Push(ctx, cfg.Seal.OCI, b, cfg.Seal.Recipients, seal.Options{})
	if err != nil {
		return err
	}
	s.run.Out.Emit(pipeline.Event{Kind: pipeline.EventDone, Stage: "seal",
		Msg: fmt.Sprintf("bundle pushed in %s, encrypted to %d recipient(s); release it with: embargo run --bundle %s", pipeline.HumanDuration(time.Since(start).Round(time.Millisecond)), len(cfg.Seal.Recipients), ref)})
	if a.g.json {
		s.run.Out.Emit(pipeline.Event{Kind: pipeline.EventReport, Data: map[string]any{"sealed": true, "seal": path, "bundle": ref}})
	} else {
		// Last, alone on its line: what scripts take.
		fmt.Fprintln(a.stdout, ref)
	}
	return nil
}

// bundleRun is a pulled bundle, restored into the state directory once
// the run holds its lock (app.pulled until then).
type bundleRun struct {
	digest   name.Digest
	identity []age.Identity
	bundle   *seal.Bundle
}

// pullBundle fetches the bundle of `run --bundle`, by digest, and decrypts
// it with the identity [seal] identity_env names. The description file the
// config names is restored beside it when missing (a runner needs only the
// config); everything else waits for the state directory's lock.
func (a *app) pullBundle(ctx context.Context, ref string) (*bundleRun, error) {
	d, err := seal.ParseRef(ref)
	if err != nil {
		return nil, &pipeline.UsageError{Msg: err.Error()}
	}
	// The whole config is checked before anything is pulled or written;
	// only the description may be missing, since the bundle carries it.
	cfg, err := config.LoadAwaitingDescription(a.g.config)
	if err != nil {
		return nil, a.configMissing(err)
	}
	if cfg.Seal == nil {
		return nil, &pipeline.UsageError{Msg: fmt.Sprintf("--bundle needs [seal] identity_env in %s: the environment variable holding the age identity that opens the bundle", a.g.config)}
	}
	env := cfg.Seal.IdentityEnv
	secret, ok := a.getenv(env)
	if !ok || strings.TrimSpace(secret) == "" {
		return nil, fmt.Errorf("environment variable %s is not set: it must hold the age identity (AGE-SECRET-KEY-1...) of one of the bundle's recipients", env)
	}
	ids, err := seal.ParseIdentity(secret)
	if err != nil {
		return nil, fmt.Errorf("environment variable %s: %v (value not shown)", env, err)
	}
	b, err := seal.Pull(ctx, d.String(), ids, seal.Options{})
	if errors.Is(err, seal.ErrWrongIdentity) {
		return nil, fmt.Errorf("the age identity in %s does not match the recipients of bundle %s: set it to the identity of one of the [seal] recipients the bundle was sealed for (value not shown)", env, d)
	}
	if err != nil {
		return nil, err
	}
	m, err := seal.ParseManifest(b.Manifest)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", d, err)
	}
	if desc := cfg.Advisory.Description; desc != "" && m.Description.Path == desc {
		p := cfg.Resolve(desc)
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			if seal.Sha256(b.Description) != m.Description.Sha256 {
				return nil, fmt.Errorf("bundle %s: its description does not match its seal", d)
			}
			if err := durable.WriteFile(p, b.Description, 0o644); err != nil {
				return nil, err
			}
		}
	}
	return &bundleRun{digest: d, identity: ids, bundle: b}, nil
}

// openBundle runs under the state directory's lock, before the stages: a
// pulled bundle is restored into it, with the journal stored beside the
// bundle when there is none here; in a directory restored from a bundle
// the journal is then mirrored to the registry at every stage.
func (a *app) openBundle(ctx context.Context, s *session) (*bundle.Mirror, error) {
	r := s.run
	cfg := r.Config
	if pulled := a.pulled; pulled != nil {
		ref := pulled.digest.String()
		m, err := bundle.Restore(cfg, r.StateDir, ref, pulled.bundle)
		if err != nil {
			return nil, err
		}
		r.Out.Emit(pipeline.Event{Kind: pipeline.EventInfo, Msg: fmt.Sprintf("bundle %s restored: %d held branch(es), sealed %s",
			ref, len(m.Lines), m.SealedAt.UTC().Format("2006-01-02 15:04:05Z"))})
		jpath := filepath.Join(r.StateDir, "journal.json")
		if _, err := os.Stat(jpath); errors.Is(err, os.ErrNotExist) {
			j, ok, err := seal.PullJournal(ctx, pulled.digest, pulled.identity, seal.Options{})
			switch {
			case err != nil:
				r.Out.Emit(pipeline.Event{Kind: pipeline.EventWarn, Msg: fmt.Sprintf("the journal stored beside the bundle is unreadable (%v): starting a new one; every stage re-checks the world", err)})
			case ok:
				if err := durable.WriteFile(jpath, j, 0o600); err != nil {
					return nil, err
				}
				journal, err := pipeline.OpenJournal(jpath, embargoOf(cfg), a.stageNames(), s.secrets.Scrub)
				if err != nil {
					os.Remove(jpath)
					r.Out.Emit(pipeline.Event{Kind: pipeline.EventWarn, Msg: fmt.Sprintf("the journal stored beside the bundle is not usable (%v): starting a new one; every stage re-checks the world", err)})
					break
				}
				r.Journal = journal
				r.Out.Emit(pipeline.Event{Kind: pipeline.EventInfo, Msg: "journal of the last run restored from " + seal.JournalTag(pulled.digest).String()})
			}
		}
	}
	ref, ok := release.BundleRef(r.StateDir)
	if !ok || cfg.Seal == nil {
		return nil, nil
	}
	d, err := seal.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	warn := func(msg string) { r.Out.Emit(pipeline.Event{Kind: pipeline.EventWarn, Msg: msg}) }
	return bundle.StartMirror(ctx, filepath.Join(r.StateDir, "journal.json"), d, cfg.Seal.Recipients, warn), nil
}
