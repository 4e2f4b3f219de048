package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/stages/release"
)

func forecast(t *testing.T, n release.PublishCount, trusted bool, window time.Duration) string {
	t.Helper()
	cfg := &config.Config{Window: window, Registry: config.RegistrySection{Name: "crates-io", Index: config.DefaultRegistryIndex, TrustedPublishing: trusted}}
	var b bytes.Buffer
	writePublishForecast(&b, cfg, n)
	return b.String()
}

func TestPlanSaysTheRateLimitDoesNotBiteWithinTheBursts(t *testing.T) {
	out := forecast(t, release.PublishCount{Versions: 30, NewCrates: 5, Lines: 6}, false, 6*time.Hour)
	if !strings.Contains(out, "30 new version(s)") || !strings.Contains(out, "does not bite") || strings.Contains(out, "ways out") {
		t.Errorf("a release within the bursts:\n%s", out)
	}
}

// Eight lines of eight crates: 64 versions, 34 beyond the burst of 30 at
// one a minute.
func TestPlanPredictsThePublishUnderTheRateLimitAndNamesTheWaysOut(t *testing.T) {
	out := forecast(t, release.PublishCount{Versions: 64, Lines: 8}, false, 6*time.Hour)
	for _, want := range []string{"64 new version(s)", "about 34m after T0", "whole lines first", "help@crates.io", "trusted_publishing = true", "likely", "not documented"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "WARNING") {
		t.Errorf("34 minutes fit a 6-hour window:\n%s", out)
	}
}

func TestPlanWarnsWhenThePublishWouldNotFitTheWindow(t *testing.T) {
	// 12 new crates: 7 beyond the burst of 5, one every 10 minutes.
	out := forecast(t, release.PublishCount{Versions: 10, NewCrates: 12, Lines: 2}, true, time.Hour)
	if !strings.Contains(out, "about 1h10m after T0") || !strings.Contains(out, "WARNING: that does not fit the window of 1h") {
		t.Errorf("a publish of 70 minutes in a window of 1h:\n%s", out)
	}
	if !strings.Contains(out, "this release uses Trusted Publishing") {
		t.Errorf("plan does not say what Trusted Publishing likely changes for this release:\n%s", out)
	}
}

func TestPlanLeavesAnotherRegistrysRateLimitAlone(t *testing.T) {
	cfg := &config.Config{Window: time.Hour, Registry: config.RegistrySection{Name: "company", Index: "sparse+https://crates.example.com/index/"}}
	var b bytes.Buffer
	writePublishForecast(&b, cfg, release.PublishCount{Versions: 100, Lines: 4})
	if !strings.Contains(b.String(), "is not crates.io") || strings.Contains(b.String(), "WARNING") {
		t.Errorf("another registry:\n%s", b.String())
	}
}
