package release

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/go-git/go-git/v5"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/stages/index"
)

// RateLimit is a registry's limit on one account's publishes: a burst of
// new versions then one every VersionEvery, and a burst of new crates then
// one every CrateEvery.
type RateLimit struct {
	VersionBurst int
	VersionEvery time.Duration
	CrateBurst   int
	CrateEvery   time.Duration
}

// CratesIORateLimit is crates.io's default.
var CratesIORateLimit = RateLimit{VersionBurst: 30, VersionEvery: time.Minute, CrateBurst: 5, CrateEvery: 10 * time.Minute}

// Wait is how long after the first upload the limit lets the last one
// through, with full buckets: versions new versions of existing crates
// and crates new crates, the two buckets draining side by side.
func (l RateLimit) Wait(versions, crates int) time.Duration {
	v := time.Duration(max(versions-l.VersionBurst, 0)) * l.VersionEvery
	c := time.Duration(max(crates-l.CrateBurst, 0)) * l.CrateEvery
	return max(v, c)
}

// ReleaseVersions reads, from the held tips in the source clone, the
// versions each line publishes (name@version, publish order), by line.
// A line whose branch is missing is left out: preflight names it.
func ReleaseVersions(cfg *config.Config) (map[string][]string, error) {
	source := cfg.Resolve(cfg.Source.Repo)
	repo, err := git.PlainOpenWithOptions(source, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("open source repository %s: %w", cfg.Source.Repo, err)
	}
	out := map[string][]string{}
	for _, rel := range cfg.Releases {
		ref, _, sel, err := heldWorkspace(repo, rel)
		if err != nil {
			return nil, err
		}
		if ref == nil {
			continue
		}
		for _, cr := range sel {
			out[rel.Line] = append(out[rel.Line], cr.Name+"@"+cr.Version)
		}
	}
	return out, nil
}

// PublishCount is what a release asks of the registry's rate limit: the
// versions not on the registry yet, and how many of them are of crates it
// has no version of.
type PublishCount struct {
	Versions  int `json:"new_versions"`
	NewCrates int `json:"new_crates"`
	Lines     int `json:"lines"`
}

// CountPublishes reads the registry's index idx (read only) for what each
// version of the release is: already there, a new version, or a new crate.
func CountPublishes(ctx context.Context, cfg *config.Config, idx RegistryIndex, byLine map[string][]string) (PublishCount, error) {
	var err error
	var n PublishCount
	known := map[string][]index.Entry{}
	newCrate := map[string]bool{}
	for _, rel := range cfg.Releases {
		if len(byLine[rel.Line]) > 0 {
			n.Lines++
		}
		for _, nv := range byLine[rel.Line] {
			name, version := SplitNV(nv)
			vs, ok := known[name]
			if !ok {
				if vs, err = idx.Versions(ctx, name); err != nil {
					return PublishCount{}, err
				}
				known[name] = vs
			}
			if slices.ContainsFunc(vs, func(e index.Entry) bool { return e.Vers == version }) {
				continue
			}
			if len(vs) == 0 && !newCrate[name] {
				newCrate[name] = true
				n.NewCrates++
				continue
			}
			n.Versions++
		}
	}
	return n, nil
}
