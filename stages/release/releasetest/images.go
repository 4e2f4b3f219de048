package releasetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/oci"
)

// Images is the image registries: what each reference resolves to,
// and the copies made, each stamped with the clock's time.
type Images struct {
	mu     sync.Mutex
	clock  *pipeline.FakeClock
	Refs   map[string]string // reference -> digest
	copies []ImageCopy
	// Lands, when set, is what a copy Lands instead of the source's
	// digest, as when the source changed underneath.
	Lands string
}

type ImageCopy struct {
	At       time.Time
	Src, Dst string
}

func NewImages(clock *pipeline.FakeClock, refs map[string]string) *Images {
	return &Images{clock: clock, Refs: refs}
}

func (f *Images) Resolve(_ context.Context, ref string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.Refs[ref]
	if !ok {
		return "", fmt.Errorf("%s: %w", ref, oci.ErrNotFound)
	}
	return d, nil
}

func (f *Images) Copy(_ context.Context, src, dst string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.Refs[src]
	if !ok {
		return "", fmt.Errorf("%s: %w", src, oci.ErrNotFound)
	}
	if f.Lands != "" {
		d = f.Lands
	}
	f.Refs[dst] = d
	f.copies = append(f.copies, ImageCopy{At: f.clock.Now(), Src: src, Dst: dst})
	return d, nil
}

func (f *Images) Copied() []ImageCopy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.copies)
}
