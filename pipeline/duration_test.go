package pipeline

import (
	"testing"
	"time"
)

// Durations read as people write them: days for days, no trailing zero
// units, and what is under a minute as precise as it was rounded.
func TestHumanDurationPrintsDaysAndNoTrailingZeros(t *testing.T) {
	for d, want := range map[time.Duration]string{
		16925*time.Hour + 35*time.Minute + time.Second: "705d5h35m",
		72 * time.Hour:                  "3d",
		74*time.Hour + 30*time.Second:   "3d2h1m",
		6 * time.Hour:                   "6h",
		90 * time.Minute:                "1h30m",
		time.Hour + 5*time.Second:       "1h0m5s",
		10 * time.Minute:                "10m",
		2*time.Minute + 3*time.Second:   "2m3s",
		4422 * time.Millisecond:         "4.422s",
		273 * time.Microsecond:          "273µs",
		0:                               "0s",
		-(6*time.Hour + 30*time.Minute): "-6h30m",
		-(50 * time.Hour):               "-2d2h",
	} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
