package stages

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// terminal records what a run draws on a terminal's live line, in order.
type terminal struct {
	mu  sync.Mutex
	raw strings.Builder
	// want is closed once the output holds text.
	text string
	want chan struct{}
}

func (t *terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.raw.Write(p)
	if t.want != nil && strings.Contains(t.raw.String(), t.text) {
		close(t.want)
		t.want = nil
	}
	return len(p), nil
}

// when closes seen once the output holds text.
func (t *terminal) when(text string, seen chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.text, t.want = text, seen
}

// live is every live line drawn whose text starts with prefix: each draw
// follows the clearing of the one before, and the lines printed above it.
func (t *terminal) live(prefix string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, seg := range strings.Split(t.raw.String(), "\r\033[J") {
		if i := strings.LastIndex(seg, "\n"); i >= 0 {
			seg = seg[i+1:]
		}
		if strings.HasPrefix(seg, prefix) && (len(out) == 0 || out[len(out)-1] != seg) {
			out = append(out, seg)
		}
	}
	return out
}

// From T0 the live line says what the publishes are doing: per line, the
// versions the registry took, those the index shows and the total, from
// the first moment, while the index still lags the uploads, and the time
// since T0.
func TestPublishShowsEachLineUploadedAndVisibleFromT0(t *testing.T) {
	w := newPublishWorld(t)
	w.idx.hidden = map[string]int{"demo-core@1.13.1": 40, "demo@1.12.5": 40} // 2 s of polls
	tty := &terminal{}
	w.r.Out = &pipeline.Reporter{Out: tty, TTY: true, Clock: w.clock}
	advance(t, w.clock, pollFast)
	w.clock.Set(fakeT0)
	if err := w.publish(t); err != nil {
		t.Fatalf("publish: %v", err)
	}
	shown := tty.live("publish ")
	if len(shown) == 0 || shown[0] != "publish T0+0s: 1.13 0 uploaded, 0/2 visible · 1.12 0 uploaded, 0/1 visible" {
		t.Fatalf("at T0 the live line showed %q, want every line at 0", shown)
	}
	// Uploaded, not yet in the index (40 looks, 2 s): said as such, with
	// the seconds since T0 the index takes.
	for _, want := range []string{"1.12 1 uploaded, 0/1 visible", "1.13 1 uploaded, 0/2 visible", "publish T0+2s: "} {
		if !slices.ContainsFunc(shown, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("the live line never showed %q:\n%s", want, strings.Join(shown, "\n"))
		}
	}
	if last := shown[len(shown)-1]; !strings.HasSuffix(last, ": 1.13 2 uploaded, 2/2 visible · 1.12 1 uploaded, 1/1 visible") {
		t.Errorf("the last live line is %q, want every version uploaded and visible", last)
	}
}

// stageFunc is a stage of a test: its name, what it needs, what it does.
type stageFunc struct {
	name  string
	needs []string
	run   func(ctx context.Context, r *pipeline.Run) error
}

func (s stageFunc) Name() string                                   { return s.name }
func (s stageFunc) Summary() string                                { return "" }
func (s stageFunc) Needs() []string                                { return s.needs }
func (s stageFunc) Run(ctx context.Context, r *pipeline.Run) error { return s.run(ctx, r) }

// From T0 until the registry has taken the first upload, the push waits
// for it: the live line says so, beside the publishes, and stops saying
// it once the registry has answered.
func TestThePushWaitingForTheRegistryIsOnTheLiveLine(t *testing.T) {
	r, _, _ := fakeRun(t, &pipeline.Config{Embargo: pipeline.EmbargoSection{ID: "DEMO-SA-2026-001", At: fakeT0}, Window: time.Hour}, fakeT0.Add(time.Second), nil)
	tty := &terminal{}
	r.Out = &pipeline.Reporter{Out: tty, TTY: true, Clock: r.Gate.Clock, Order: []string{"push", "publish"}}
	waiting := "push: waiting for the registry to take the first upload"
	shownWaiting := make(chan struct{})
	tty.when(waiting, shownWaiting)
	err := execute(t, r, pipeline.Selection{},
		stageFunc{name: "push", run: func(ctx context.Context, r *pipeline.Run) error {
			_, err := awaitRegistry(ctx, r, "pushed")
			return err
		}},
		stageFunc{name: "publish", run: func(ctx context.Context, r *pipeline.Run) error {
			r.Out.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: "publish", Msg: "publish T0+1s: 1.13 0 uploaded, 0/2 visible"})
			select {
			case <-shownWaiting:
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Minute): // a guard against a hang, not a timing
				return errors.New("the push's wait for the registry never showed")
			}
			r.Settle(registryTakes, nil)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	shown := tty.live("p")
	i := slices.Index(shown, waiting+" · publish T0+1s: 1.13 0 uploaded, 0/2 visible")
	if i < 0 {
		t.Fatalf("the live line showed\n%s\nwant the push waiting beside the publish", strings.Join(shown, "\n"))
	}
	if !slices.Contains(shown[i+1:], "publish T0+1s: 1.13 0 uploaded, 0/2 visible") {
		t.Errorf("the live line showed\n%s\nwant the push's wait gone from it once the registry took the upload", strings.Join(shown, "\n"))
	}
}
