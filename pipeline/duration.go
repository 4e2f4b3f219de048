package pipeline

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// HumanDuration is how every duration is shown to the operator: from a day
// up in days, hours and minutes (705d5h35m, never 16925h35m1s), below
// that as Go writes it without the zero units it ends with (6h, 1h30m, not
// 6h0m0s, 1h30m0s), and below a minute as the caller rounded it (4.422s,
// 273µs). JSON and the journal keep Go's form, which scripts parse.
func HumanDuration(d time.Duration) string {
	if d < 0 {
		// The least Duration has no positive counterpart: a nanosecond
		// less is as good (a time minus the zero time saturates to it).
		return "-" + HumanDuration(-max(d, math.MinInt64+1))
	}
	const day = 24 * time.Hour
	if d >= day {
		// Seconds are noise at this scale.
		d = d.Round(time.Minute)
		s := fmt.Sprintf("%dd", d/day)
		if rest := d % day; rest > 0 {
			s += HumanDuration(rest)
		}
		return s
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
