package publish

import (
	"slices"
	"strings"
	"testing"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// From T0 the live line says what the publishes are doing: per line, the
// versions the registry took, those the index shows and the total, from
// the first moment, while the index still lags the uploads, and the time
// since T0.
func TestPublishShowsEachLineUploadedAndVisibleFromT0(t *testing.T) {
	t.Parallel()
	w := releasetest.NewPublishWorld(t)
	w.Idx.Hidden = map[string]int{"demo-core@1.13.1": 40, "demo@1.12.5": 40} // 2 s of polls
	tty := &releasetest.Terminal{}
	w.R.Out = &pipeline.Reporter{Out: tty, TTY: true, Clock: w.Clock}
	releasetest.Advance(t, w.Clock, pollFast)
	w.Clock.Set(releasetest.T0)
	if err := publishAlone(t, w); err != nil {
		t.Fatalf("publish: %v", err)
	}
	shown := tty.Live("publish ")
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
