package bundle

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/seal"
)

// Mirror stores the journal beside the bundle, so that a re-run on another
// fresh runner continues where this one stopped. It is for speed and audit
// only (every stage re-checks the world), so a failure to store is a
// warning, and after T0 it never holds a stage up: it runs in the
// background, coalescing, and is flushed when the run ends.
type Mirror struct {
	path       string
	bundle     name.Digest
	recipients []string
	warn       func(string)
	ctx        context.Context

	mu     sync.Mutex // one push at a time
	last   []byte
	warned bool
	kick   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// StartMirror starts storing the journal file at path beside bundle,
// encrypted to recipients; warn is told, once, that a store failed. The
// stores outlive ctx's cancellation (an interrupted run still leaves its
// journal), not its values.
func StartMirror(ctx context.Context, path string, bundle name.Digest, recipients []string, warn func(string)) *Mirror {
	m := &Mirror{
		path: path, bundle: bundle, recipients: recipients, warn: warn,
		ctx: context.WithoutCancel(ctx), kick: make(chan struct{}, 1), done: make(chan struct{}),
	}
	go m.work()
	return m
}

func (m *Mirror) work() {
	defer close(m.done)
	for range m.kick {
		m.store()
	}
}

// Bounds of one store: mirrorTimeout in all; a store made before T0 ends
// mirrorMargin before T0 at the latest.
const (
	mirrorTimeout = 30 * time.Second
	mirrorMargin  = 2 * time.Second
)

func (m *Mirror) store() { m.storeWithin(mirrorTimeout) }

// storeWithin pushes the journal file if it changed since the last push.
func (m *Mirror) storeWithin(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := os.ReadFile(m.path)
	if err != nil || bytes.Equal(b, m.last) {
		return
	}
	ctx, cancel := context.WithTimeout(m.ctx, d)
	defer cancel()
	if err := seal.PushJournal(ctx, m.bundle, b, m.recipients, seal.Options{}); err != nil {
		if !m.warned {
			m.warned = true
			m.warn(fmt.Sprintf("the journal could not be stored beside the bundle (%v); a re-run elsewhere re-checks the world instead", err))
		}
		return
	}
	m.last = b
}

// StageBoundary stores the journal as the next stage starts (it is an
// Engine's BeforeStage): at once while T0 is far enough, in the background
// after, so that it never delays a public write.
func (m *Mirror) StageBoundary(r *pipeline.Run) {
	if left := r.Gate.T0.Sub(r.Now()); left > mirrorMargin {
		m.storeWithin(min(left-mirrorMargin, mirrorTimeout))
		return
	}
	select {
	case m.kick <- struct{}{}:
	default: // one is pending already and will read the newest journal
	}
}

// Flush stores the final journal and waits for it. A nil Mirror (a run
// not restored from a bundle) has nothing to flush.
func (m *Mirror) Flush() {
	if m == nil {
		return
	}
	m.once.Do(func() {
		close(m.kick)
		<-m.done
		m.store()
	})
}
