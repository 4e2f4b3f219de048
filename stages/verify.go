package stages

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/index"
)

// Verify proves, at or after T0 and before T0 + window, that everything the
// release made public is live: every published .crate downloads with its
// sealed checksum, the post answers at its URL, the feed has its entry.
// It only reads, so `embargo run --only verify` can be repeated at will.
type Verify struct{}

func (Verify) Name() string { return "verify" }

// Needs: everything else is done.
func (Verify) Needs() []string { return []string{"push", "promote", "publish", "advisory", "ghsa"} }
func (Verify) Summary() string {
	return "everything live before T0 + window: sealed crates downloadable, the post at its URL, the feed entry; the timeline"
}

// Plan says what is checked, and by when.
func (Verify) Plan(cfg *pipeline.Config) []string {
	out := []string{"every published .crate downloaded and compared with its sealed sha256"}
	if cfg.Blog != nil {
		if m, err := AdvisoryModel(cfg); err == nil {
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

func (Verify) Run(ctx context.Context, r *pipeline.Run) error {
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

	reg := openRegistry(ctx, r)
	for _, rel := range r.Config.Releases {
		_, err := pipeline.Step(r, "crates "+rel.Line, func(res *CratesVerified) error {
			return verifyCrates(ctx, r, reg, rel, res)
		})
		fail(err)
	}

	if r.Config.Blog == nil {
		r.Infof("no [blog] in the config: there is no post or feed to check")
	} else {
		m, out, err := AdvisoryOutputs(ctx, r)
		if err != nil {
			fail(fmt.Errorf("render the advisory: %w", err))
		} else {
			blog := &blogTip{r: r}
			if r.Config.Blog.Feed != "" {
				_, err := pipeline.Step(r, "feed", func(res *FeedVerified) error {
					return verifyFeed(ctx, r, blog, m, res)
				})
				fail(err)
			}
			if _, err := pipeline.Step(r, "post", func(res *PostVerified) error {
				return verifyPost(ctx, r, blog, m, out, res)
			}); err != nil {
				errs = append(errs, err)
			}
		}
	}

	if r.Config.GHSA != nil {
		_, err := pipeline.Step(r, "ghsa", func(res *GHSAVerified) error { return verifyPublishedGHSA(ctx, r, res) })
		fail(err)
	}

	if _, err := pipeline.Step(r, "timeline", func(res *Timeline) error {
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
	idx CrateReader
	dl  string // config.json's dl
	err error
}

func openRegistry(ctx context.Context, r *pipeline.Run) *registryReader {
	idx, err := clients.Registry(r)
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
func verifyCrates(ctx context.Context, r *pipeline.Run, reg *registryReader, rel pipeline.Release, res *CratesVerified) error {
	s, sealedOK, err := releaseSealed(r, rel)
	if err != nil {
		return err
	}
	order := s.Order
	if !sealedOK {
		var err error
		if order, err = lineVersions(r, rel); err != nil {
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
		name, version := splitNV(nv)
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
			return pipeline.RerunFrom("publish", err) // publish uploads what is missing
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
func lineVersions(r *pipeline.Run, rel pipeline.Release) ([]string, error) {
	if checked, _ := CheckedLine(r, rel); len(checked.Crates) > 0 {
		return checked.Crates, nil
	}
	next := "run `embargo run --only preflight` first, so that the journal names them"
	v, err := openVault(r)
	if err != nil {
		return nil, fmt.Errorf("line %s: the journal does not name its crates, and the vault cannot be read (%v): %s", rel.Line, err, next)
	}
	held, ok := v.Held(rel.Branch)
	if !ok {
		return nil, fmt.Errorf("line %s: the journal does not name its crates, and the vault has no held branch %s: %s", rel.Line, rel.Branch, next)
	}
	crates, err := lineCrates(v, rel, held)
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
