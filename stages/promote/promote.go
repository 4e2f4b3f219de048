// Package promote is the stage that copies pre-built container images
// from a private repository to their public names at T0, by digest.
package promote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/oci"
	"github.com/async-rs/embargo/stages/release"
)

// Stage copies pre-built container images from a private repository to
// their public names at T0. Images are named by digest on both sides, so
// what becomes public is exactly what was built and checked, whichever
// machine runs the copy.
type Stage struct {
	Images release.ImagesOpener
}

func (Stage) Name() string { return release.Promote }

// Needs: the sources are checked before T0; the copies wait for the gate.
func (Stage) Needs() []string { return []string{release.Preflight} }
func (Stage) Summary() string {
	return "copy pre-built images to their public names, by digest; target digests verified"
}

// Skip: promote is optional.
func (Stage) Skip(cfg *config.Config) string {
	if len(cfg.Images) == 0 {
		return "no [[image]] configured"
	}
	return ""
}

// Plan lists the copies.
func (Stage) Plan(cfg *config.Config) []string {
	out := make([]string, len(cfg.Images))
	for i, im := range cfg.Images {
		out[i] = fmt.Sprintf("%s -> %s", shortRef(im.From), im.To)
	}
	return out
}

// promoteJobs bounds the copies running at once: images are independent,
// and at T0 only uploads should be left to do.
const promoteJobs = 4

func (s Stage) Run(ctx context.Context, r *release.Run) error {
	images := r.Config.Images
	client := s.Images(oci.Options{})
	// Where the targets write no image (a rehearsal, whose sandbox world
	// has no image registry to copy into), the registries are only read.
	dry := !r.Targets.Images

	digests := make([]string, len(images))
	if _, err := pipeline.Step(r.Run, imagesFoundKey, func(res *ImagesFound) error {
		var problems []string
		for i, im := range images {
			d, err := sourceDigest(ctx, client, i, im)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			digests[i] = d
		}
		if len(problems) > 0 {
			return errors.New(strings.Join(problems, "; "))
		}
		res.Digests = digests
		return nil
	}); err != nil {
		return err
	}

	if err := release.AwaitGate(ctx, r); err != nil {
		return err
	}
	if !dry {
		// A credential the registry refuses leaves the images private.
		if _, err := release.AwaitRegistry(ctx, r, "copied"); err != nil {
			return err
		}
	}
	var (
		wg   sync.WaitGroup
		errs = make([]error, len(images)) // one slot per image: no lock
		jobs = make(chan struct{}, promoteJobs)
	)
	for i, im := range images {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jobs <- struct{}{}
			defer func() { <-jobs }()
			_, errs[i] = pipeline.Step(r.Run, imageCopiedKey(im.To), func(res *ImageCopied) error {
				return promoteImage(ctx, r, client, im, digests[i], dry, res)
			})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if dry {
		r.Note("rehearsal: the image registries were only read")
		return nil
	}

	_, err := pipeline.Step(r.Run, imagesPublicKey, func(res *ImagesPublic) error {
		var wrong []string
		for i, im := range images {
			got, err := client.Resolve(ctx, im.To)
			switch {
			case err != nil:
				wrong = append(wrong, err.Error())
			case got != digests[i]:
				wrong = append(wrong, fmt.Sprintf("%s is at %s, expected %s", im.To, shortDigest(got), shortDigest(digests[i])))
			default:
				res.add(im.To, got)
			}
		}
		if len(wrong) > 0 {
			res.Digests = nil
			return fmt.Errorf("public images are not as copied: %s", strings.Join(wrong, "; "))
		}
		return nil
	})
	return err
}

// The promote stage's steps.
var (
	imagesFoundKey  = pipeline.Key[ImagesFound]{Stage: release.Promote, Step: "sources"}
	imagesPublicKey = pipeline.Key[ImagesPublic]{Stage: release.Promote, Step: "verify"}
)

// imageCopiedKey is the step copying the image to its public name to.
func imageCopiedKey(to string) pipeline.Key[ImageCopied] {
	return pipeline.Key[ImageCopied]{Stage: release.Promote, Step: "copy " + to}
}

// ImagesFound is promote's sources step: each source image's digest, as
// pinned (in [[image]] order).
type ImagesFound struct {
	Digests []string `json:"digests"`
}

func (i ImagesFound) Summary() string {
	if len(i.Digests) == 0 {
		return ""
	}
	return fmt.Sprintf("%d source images present at their pinned digests", len(i.Digests))
}

// ImageCopied is the copy of one image: its digest, and when it was
// copied, or what a rehearsal would have done.
type ImageCopied struct {
	Digest   string    `json:"digest"`
	Previous string    `json:"previous,omitempty"` // what the target named before
	CopiedAt time.Time `json:"copied_at,omitzero"`
	// WouldCopy is a rehearsal's: the copy it did not make.
	WouldCopy bool   `json:"would_copy,omitempty"`
	Text      string `json:"summary,omitempty"`
}

func (i ImageCopied) Summary() string { return i.Text }

// Moments: the copy is a public write.
func (i ImageCopied) Moments() []pipeline.Moment {
	return []pipeline.Moment{{Name: "copied_at", At: i.CopiedAt, Public: true}}
}

// ImagesPublic is promote's verify step: each public image's digest.
type ImagesPublic struct {
	Digests map[string]string `json:"digests"` // by public name
}

func (i ImagesPublic) Summary() string {
	if len(i.Digests) == 0 {
		return ""
	}
	return fmt.Sprintf("%d images public at their pinned digests", len(i.Digests))
}

func (i *ImagesPublic) add(name, digest string) {
	if i.Digests == nil {
		i.Digests = map[string]string{}
	}
	i.Digests[name] = digest
}

// sourceDigest checks that image i's source exists at its pinned digest
// (a read of the private repository, allowed at any time).
func sourceDigest(ctx context.Context, client release.ImageRegistry, i int, im config.Image) (string, error) {
	want, err := oci.PinnedDigest(im.From)
	if err != nil {
		return "", fmt.Errorf("image[%d].from: %w", i+1, err)
	}
	if strings.Contains(im.To, "@") {
		if to, err := oci.PinnedDigest(im.To); err == nil && to != want {
			return "", fmt.Errorf("image[%d].to names digest %s, but from is %s: a copy keeps the digest", i+1, shortDigest(to), shortDigest(want))
		}
	}
	got, err := client.Resolve(ctx, im.From)
	switch {
	case errors.Is(err, oci.ErrNotFound):
		return "", fmt.Errorf("source image %s does not exist (or these credentials cannot see it): push it to the private repository, or fix image[%d].from", im.From, i+1)
	case err != nil:
		return "", fmt.Errorf("source image of image[%d]: %w", i+1, err)
	case got != want:
		return "", fmt.Errorf("source image %s resolves to %s", im.From, got)
	}
	return want, nil
}

// promoteImage makes im.To resolve to digest: it looks at the target first
// and copies only when it is not there yet, asking the gate right before
// the copy.
func promoteImage(ctx context.Context, r *release.Run, client release.ImageRegistry, im config.Image, digest string, dry bool, res *ImageCopied) error {
	res.Digest = digest
	cur, err := client.Resolve(ctx, im.To)
	switch {
	case err == nil && cur == digest:
		res.Text = fmt.Sprintf("%s already at %s: nothing copied", im.To, shortDigest(digest))
		return nil
	case err != nil && !errors.Is(err, oci.ErrNotFound):
		if !dry {
			return fmt.Errorf("read target %s: %w", im.To, err)
		}
		// A public name that does not exist yet may be unreadable without
		// the release credentials, which a rehearsal does not use.
		r.Warnf("cannot read %s (%v); a release must be able to", im.To, err)
	case err == nil:
		// A public release tag that already names other bytes is never
		// silently moved, as a published crate version is never replaced.
		res.Previous = cur
		if !dry {
			return fmt.Errorf("%s already exists at %s, not %s: refusing to move a public release tag; pick another tag in [[image]] to, or move it by hand",
				im.To, shortDigest(cur), shortDigest(digest))
		}
		r.Warnf("%s is at %s, not %s: the release would refuse to move it", im.To, shortDigest(cur), shortDigest(digest))
	}
	if dry {
		res.WouldCopy = true
		res.Text = fmt.Sprintf("would copy %s to %s (rehearsal: nothing written)", shortRef(im.From), im.To)
		return nil
	}
	if err := r.Gate.Allow("copy image " + shortRef(im.From) + " to " + im.To); err != nil {
		return err
	}
	start := r.Now()
	got, err := client.Copy(ctx, im.From, im.To)
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", shortRef(im.From), im.To, err)
	}
	pipeline.Checkpoint("promote.copied")
	if got != digest {
		return fmt.Errorf("copied %s to %s, but the source served %s", shortRef(im.From), im.To, got)
	}
	res.CopiedAt = start.UTC()
	res.Text = fmt.Sprintf("copied %s to %s", shortDigest(digest), im.To)
	return nil
}

// shortDigest is sha256: and 12 hex digits, as people read them.
func shortDigest(d string) string {
	if algo, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return algo + ":" + hex[:12]
	}
	return d
}

// shortRef shortens the digest of a pinned reference.
func shortRef(ref string) string {
	if repo, d, ok := strings.Cut(ref, "@"); ok {
		return repo + "@" + shortDigest(d)
	}
	return ref
}
