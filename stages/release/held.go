package release

import (
	"context"
	"fmt"
	"net/mail"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/vault"
)

// sourcePath is the source repository of cfg, resolved beside the config.
func sourcePath(cfg *config.Config) string { return cfg.Resolve(cfg.Source.Repo) }

// Tagger is the handler, at T0: tags made by any run on any machine are the
// same object.
func Tagger(cfg *config.Config) object.Signature {
	a, err := mail.ParseAddress(cfg.Embargo.Handler)
	if err != nil {
		return vault.Signature(cfg.Embargo.Handler, "", cfg.T0())
	}
	return vault.Signature(a.Name, a.Address, cfg.T0())
}

func Short(h plumbing.Hash) string { return vault.Short(h) }

// HeldKey is the held step of stage, which is about to make the held tips
// public (push, publish).
func HeldKey(stage string) pipeline.Key[HeldTips] {
	return pipeline.Key[HeldTips]{Stage: stage, Step: "held"}
}

// HeldTips is the held step of a stage about to make the held tips
// public: each line's tip, read again.
type HeldTips struct {
	Tips map[string]string `json:"tips"` // by line
}

// Summary is empty: the stage's own steps say what it did with them.
func (h HeldTips) Summary() string { return "" }

func (h *HeldTips) add(line string, tip plumbing.Hash) {
	if h.Tips == nil {
		h.Tips = map[string]string{}
	}
	h.Tips[line] = tip.String()
}

// ReadHeldTips reads the held tips again, for a stage about to make them
// public (done says what it would have done: "pushed", "published"): the
// vault may be new (a fresh runner, a deleted state directory), and the
// branches must not have moved since they were checked, nor since the seal.
func ReadHeldTips(ctx context.Context, r *Run, v HeldBranches, done string) (map[string]plumbing.Hash, error) {
	cfg := r.Config
	held := map[string]plumbing.Hash{}
	if _, err := pipeline.Step(r.Run, HeldKey(r.Stage()), func(res *HeldTips) error {
		if _, _, missing, err := FetchHeld(ctx, r, v); err != nil {
			return err
		} else if len(missing) > 0 {
			return fmt.Errorf("held branch %s is missing from %s", cfg.Releases[missing[0]].Branch, cfg.Source.Repo)
		}
		for _, rel := range cfg.Releases {
			h, _ := v.Held(rel.Branch)
			if checked, ok := CheckedLine(r.Journal, rel.Line); ok && checked.Held != "" && checked.Held != h.String() {
				return pipeline.RerunFrom(Preflight, fmt.Errorf("held branch %s moved since preflight (%s, now %s): preflight must check the new tip",
					rel.Branch, vault.ShortHex(checked.Held), Short(h)))
			}
			held[rel.Line] = h
			res.add(rel.Line, h)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return held, checkSealBeforeWrites(r, held, done)
}

// FetchHeld copies the held branches and any release tags already made from
// the source clone into the vault; missing lists the lines whose branch is
// absent.
func FetchHeld(ctx context.Context, r *Run, v HeldBranches) (branches, tags []string, missing []int, err error) {
	if fromBundle(r.StateDir) {
		return heldFromVault(r, v) // restored from a sealed bundle: no source clone here
	}
	var names []plumbing.ReferenceName
	for _, rel := range r.Config.Releases {
		names = append(names, plumbing.NewBranchReferenceName(rel.Branch), plumbing.NewTagReferenceName(rel.Tag))
	}
	found, err := v.SourceRefs(sourcePath(r.Config), names)
	if err != nil {
		return nil, nil, nil, err
	}
	for i, rel := range r.Config.Releases {
		if _, ok := found[plumbing.NewBranchReferenceName(rel.Branch)]; ok {
			branches = append(branches, rel.Branch)
		} else {
			missing = append(missing, i)
		}
		if _, ok := found[plumbing.NewTagReferenceName(rel.Tag)]; ok {
			tags = append(tags, rel.Tag)
		}
	}
	_, err = v.FetchHeld(ctx, sourcePath(r.Config), branches, tags)
	return branches, tags, missing, err
}

// heldFromVault is FetchHeld for a state directory restored from a bundle:
// the held branches and source tags are already in the vault.
func heldFromVault(r *Run, v HeldBranches) (branches, tags []string, missing []int, err error) {
	for i, rel := range r.Config.Releases {
		if _, ok := v.Held(rel.Branch); ok {
			branches = append(branches, rel.Branch)
		} else {
			missing = append(missing, i)
		}
		if _, ok, _ := v.SourceTag(rel.Tag); ok {
			tags = append(tags, rel.Tag)
		}
	}
	return branches, tags, missing, nil
}
