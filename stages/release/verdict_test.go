package release_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
	"github.com/async-rs/embargo/stages/release/releasetest"
)

// From T0 until the registry has taken the first upload, the push waits
// for it: the live line says so, beside the publishes, and stops saying
// it once the registry has answered.
func TestThePushWaitingForTheRegistryIsOnTheLiveLine(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Embargo: config.EmbargoSection{ID: "DEMO-SA-2026-001", At: releasetest.T0}, Window: time.Hour}
	r, _, _ := releasetest.Run(t, cfg, releasetest.T0.Add(time.Second), nil)
	tty := &releasetest.Terminal{}
	r.Out = &pipeline.Reporter{Out: tty, TTY: true, Clock: r.Gate.Clock, Order: []string{release.Push, release.Publish}}
	waiting := "push: waiting for the registry to take the first upload"
	shownWaiting := make(chan struct{})
	tty.When(waiting, shownWaiting)
	err := releasetest.Execute(t, r, pipeline.Selection{},
		releasetest.Stage{Called: release.Push, Fn: func(r *release.Run) error {
			_, err := release.AwaitRegistry(context.Background(), r, "pushed")
			return err
		}},
		releasetest.Stage{Called: release.Publish, Fn: func(r *release.Run) error {
			r.Out.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: release.Publish, Msg: "publish T0+1s: 1.13 0 uploaded, 0/2 visible"})
			select {
			case <-shownWaiting:
			case <-time.After(time.Minute): // a guard against a hang, not a timing
				return errors.New("the push's wait for the registry never showed")
			}
			// The publish stays on the live line until the push has
			// taken its wait off it: the two stages end in any order.
			pushDone := make(chan struct{})
			tty.When("\r\033[Jpublish T0+1s: 1.13 0 uploaded, 0/2 visible", pushDone)
			r.Settle(release.RegistryTakes, nil)
			select {
			case <-pushDone:
			case <-time.After(time.Minute): // a guard against a hang, not a timing
				return errors.New("the push's wait stayed on the live line after the registry took the upload")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	shown := tty.Live("p")
	i := slices.Index(shown, waiting+" · publish T0+1s: 1.13 0 uploaded, 0/2 visible")
	if i < 0 {
		t.Fatalf("the live line showed\n%s\nwant the push waiting beside the publish", strings.Join(shown, "\n"))
	}
	if !slices.Contains(shown[i+1:], "publish T0+1s: 1.13 0 uploaded, 0/2 visible") {
		t.Errorf("the live line showed\n%s\nwant the push's wait gone from it once the registry took the upload", strings.Join(shown, "\n"))
	}
}
