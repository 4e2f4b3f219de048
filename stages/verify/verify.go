// Package verify is the stage that proves, at or after T0 and before the
// deadline, that everything the release made public is live, and records
// the timeline. It only reads, so it can be run again at will.
package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/index"
	"github.com/async-rs/embargo/stages/release"
)

// Stage proves, at or after T0 and before T0 + window, that everything the
// release made public is live: every published .crate downloads with its
// sealed checksum, the post answers at its URL, the feed has its entry.
// It only reads, so `embargo run --only verify` can be repeated at will.
type Stage struct {
	Registry release.RegistryOpener
	Index    release.IndexOpener
	Vault    release.VaultOpener
	Blog     release.BlogOpener
	GitHub   release.GitHubOpener
}

func (Stage) Name() string { return release.Verify }

// Needs: everything else is done.
func (Stage) Needs() []string {
	return []string{release.Push, release.Promote, release.Publish, release.Announce, release.Advisory, release.GHSA, release.Notice}
}
func (Stage) Summary() string {
	return "everything live before T0 + window: sealed crates downloadable, the post at its URL, the feed entry; the timeline"
}

// Plan says what is checked, and by when.
func (Stage) Plan(cfg *config.Config) []string {
	out := []string{"every published .crate downloaded and compared with its sealed sha256"}
	if cfg.Blog != nil {
		if m, err := release.AdvisoryModel(cfg); err == nil {
			out = append(out, "the post live at "+m.URL)
		}
		if cfg.Blog.Feed != "" {
			out = append(out, "the entry in "+cfg.Blog.Feed+" on the blog's "+cfg.Blog.Branch)
		}
	}
	if cfg.GHSA != nil {
		out = append(out, "the GitHub advisory "+cfg.GHSA.ID+" published with every line's ranges")
	}
	return append(out, fmt.Sprintf("all by %s (T0 + %s)", cfg.Deadline().Format(time.RFC3339), pipeline.HumanDuration(cfg.Window)))
}

// Polling of the post's URL: the blog's own deploy takes from seconds to
// many minutes, so the wait starts short and grows to a minute between
// tries, until the deadline.
var (
	postPollMin    = time.Second
	postPollMax    = time.Minute
	postTryTimeout = 30 * time.Second
	// postReportEvery bounds how long polling goes on without a word.
	postReportEvery = 5 * time.Minute
)

// maxPostBytes bounds the page read at the post's URL.
const maxPostBytes = 16 << 20

func (s Stage) Run(ctx context.Context, r *release.Run) error {
	now := r.Now()
	if early, _ := r.Gate.OpenedEarly(); now.Before(r.Gate.T0) && !early {
		return fmt.Errorf("verify checks what T0 made public, and T0 (%s) is %s away: run it at or after T0",
			r.Gate.T0.UTC().Format(time.RFC3339), pipeline.HumanDuration(r.Gate.T0.Sub(now).Round(time.Second)))
	}
	// Every check runs even when one fails, so one run names every
	// problem. A failure before the post's check is also said at once:
	// the post may then be polled for hours.
	var errs []error
	fail := func(err error) {
		if err != nil {
			r.Warnf("%v", err)
			errs = append(errs, err)
		}
	}

	reg := openRegistry(ctx, r, s.Registry)
	for _, rel := range r.Config.Releases {
		_, err := pipeline.Step(r.Run, cratesVerifiedKey(rel.Line), func(res *CratesVerified) error {
			return verifyCrates(ctx, r, reg, s.Vault, rel, res)
		})
		fail(err)
	}

	if r.Config.Blog == nil {
		r.Infof("no [blog] in the config: there is no post or feed to check")
	} else {
		m, out, err := release.AdvisoryOutputs(ctx, r, s.Index, s.Blog)
		if err != nil {
			fail(fmt.Errorf("render the advisory: %w", err))
		} else {
			blog := &blogTip{r: r}
			if r.Config.Blog.Feed != "" {
				_, err := pipeline.Step(r.Run, feedVerifiedKey, func(res *FeedVerified) error {
					return verifyFeed(ctx, r, blog, m, res)
				})
				fail(err)
			}
			if _, err := pipeline.Step(r.Run, postVerifiedKey, func(res *PostVerified) error {
				return verifyPost(ctx, r, blog, m, out, res)
			}); err != nil {
				errs = append(errs, err)
			}
		}
	}

	if r.Config.GHSA != nil {
		_, err := pipeline.Step(r.Run, ghsaLiveKey, func(res *release.GHSAVerified) error { return release.VerifyPublishedGHSA(ctx, r, s.GitHub, res) })
		fail(err)
	}

	if _, err := pipeline.Step(r.Run, timelineKey, func(res *Timeline) error {
		if r.Config.Blog == nil {
			res.Blog = "not configured: no post or feed checked"
		}
		return timeline(r, res)
	}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// --- crates ---

// registryReader reads the registry's index and downloads its crates, for
// every line; err, when set, is why it cannot, for each line to report.
type registryReader struct {
	idx release.CrateReader
	dl  string // config.json's dl
	err error
}

func openRegistry(ctx context.Context, r *release.Run, open release.RegistryOpener) *registryReader {
	idx, err := open(r.Targets.Registry, release.Clock(r.Gate))
	if err != nil {
		return &registryReader{err: err}
	}
	icfg, err := idx.Config(ctx)
	if err != nil {
		return &registryReader{err: err}
	}
	if icfg.DL == "" {
		return &registryReader{err: fmt.Errorf("the registry's config.json at %s has no dl: there is nowhere to download crates from", idx.URL())}
	}
	// Downloads carry the token when the registry wants it to be read,
	// as the index reads do (index.Client.Download).
	return &registryReader{idx: idx, dl: icfg.DL}
}

// verifyCrates downloads every crate of a line from the registry and
// compares its sha256 with the sealed one, and with the index's.
func verifyCrates(ctx context.Context, r *release.Run, reg *registryReader, openVault release.VaultOpener, rel config.Release, res *CratesVerified) error {
	s, sealedOK, err := release.ReleaseSealed(r, rel)
	if err != nil {
		return err
	}
	order := s.Order
	if !sealedOK {
		var err error
		if order, err = lineVersions(r, openVault, rel); err != nil {
			return err
		}
		r.Warnf("line %s: no sealed checksums in the journal; comparing the downloads with the checksums the index shows instead", rel.Line)
		res.ComparedWith = "index"
	} else {
		res.ComparedWith = "sealed"
	}
	if reg.err != nil {
		return reg.err
	}
	var problems []string
	missing := false
	for _, nv := range order {
		name, version := release.SplitNV(nv)
		e, found, err := reg.idx.Lookup(ctx, name, version)
		if err != nil {
			return err
		}
		if !found {
			problems = append(problems, fmt.Sprintf("%s is not in the registry's index", nv))
			missing = true
			continue
		}
		want := e.Cksum
		if sealedOK {
			want = s.Sha256[nv]
			if e.Cksum != want {
				problems = append(problems, fmt.Sprintf("%s: the index shows sha256 %s, not the sealed %s: stop and investigate", nv, e.Cksum, want))
				continue
			}
		}
		if e.Yanked {
			problems = append(problems, fmt.Sprintf("%s is yanked: users cannot get the fix", nv))
			continue
		}
		h := sha256.New()
		if err := reg.idx.Download(ctx, index.CrateURL(reg.dl, name, version, e.Cksum), h); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", nv, err))
			continue
		}
		got := hex.EncodeToString(h.Sum(nil))
		if got != want {
			problems = append(problems, fmt.Sprintf("%s: the registry serves a .crate with sha256 %s, not the %s %s: stop and investigate", nv, got, res.ComparedWith, want))
			continue
		}
		if res.Sha256 == nil {
			res.Sha256 = map[string]string{}
		}
		res.Sha256[nv] = got
	}
	if len(problems) > 0 {
		err := fmt.Errorf("line %s: %s", rel.Line, strings.Join(problems, "; "))
		if missing {
			return pipeline.RerunFrom(release.Publish, err) // publish uploads what is missing
		}
		return err
	}
	how := "its sealed sha256"
	if !sealedOK {
		how = "the sha256 the index shows (no sealed checksums in the journal)"
	}
	res.Text = fmt.Sprintf("%d crate(s) downloaded from the registry, each with %s", len(order), how)
	return nil
}

// lineVersions lists a line's crates when the journal has no sealed
// checksums: from preflight's record of the line, else from the workspace
// at the held tip in the vault.
func lineVersions(r *release.Run, openVault release.VaultOpener, rel config.Release) ([]string, error) {
	if checked, _ := release.CheckedLine(r.Journal, rel.Line); len(checked.Crates) > 0 {
		return checked.Crates, nil
	}
	next := "run `embargo run --only preflight` first, so that the journal names them"
	v, err := openVault(release.VaultPath(r.StateDir))
	if err != nil {
		return nil, fmt.Errorf("line %s: the journal does not name its crates, and the vault cannot be read (%v): %s", rel.Line, err, next)
	}
	held, ok := v.Held(rel.Branch)
	if !ok {
		return nil, fmt.Errorf("line %s: the journal does not name its crates, and the vault has no held branch %s: %s", rel.Line, rel.Branch, next)
	}
	crates, err := release.LineCrates(v, rel, held)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(crates))
	for i, c := range crates {
		out[i] = c.Name + "@" + c.Version
	}
	return out, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
