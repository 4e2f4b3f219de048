package release_test

import (
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/stages/release"
)

func calendarConfig(distrosBefore, window time.Duration) *config.Config {
	cfg := &config.Config{Window: window}
	cfg.Embargo.At = time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	if distrosBefore != 0 {
		cfg.Embargo.Distros = cfg.Embargo.At.Add(-distrosBefore)
	}
	return cfg
}

func TestCalendarWarnsOutsideThePolicy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		before, win   time.Duration
		want          []string
		wantNoWarning bool
	}{
		{name: "three days ahead, six hours", before: 72 * time.Hour, win: 6 * time.Hour, wantNoWarning: true},
		{name: "no distros notice", win: 6 * time.Hour, wantNoWarning: true},
		{name: "two days ahead", before: 48 * time.Hour, win: 6 * time.Hour, want: []string{"2d before T0, under the 72 hours"}},
		{name: "after T0", before: -time.Hour, win: 6 * time.Hour, want: []string{"is not before T0"}},
		{name: "fifteen days ahead", before: 15 * 24 * time.Hour, win: 6 * time.Hour, want: []string{"15d before T0, more than the 14 days"}},
		{name: "a 12 hour window", before: 5 * 24 * time.Hour, win: 12 * time.Hour, want: []string{"window is 12h, more than the 6 hours"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := release.CalendarWarnings(calendarConfig(c.before, c.win), nil)
			if c.wantNoWarning {
				if len(got) != 0 {
					t.Errorf("warnings %q, want none", got)
				}
				return
			}
			if len(got) != len(c.want) {
				t.Fatalf("warnings %q, want %d", got, len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q, want it to say %q", got[i], w)
				}
			}
		})
	}
}

func TestCalendarListsTheDatesInOrder(t *testing.T) {
	t.Parallel()
	cfg := calendarConfig(80*time.Hour, 6*time.Hour)
	got := release.Calendar(cfg, nil)
	if len(got) != 3 || got[0].Name != "distros" || got[1].Name != "T0" || got[2].Name != "deadline" {
		t.Fatalf("calendar %+v", got)
	}
	if !got[0].At.Equal(cfg.T0().Add(-80*time.Hour)) || !got[2].At.Equal(cfg.T0().Add(6*time.Hour)) {
		t.Errorf("calendar %+v", got)
	}
	if !strings.Contains(got[0].What, "T0 - 3d8h") {
		t.Errorf("distros entry %q, want its lead", got[0].What)
	}
	if got := release.Calendar(calendarConfig(0, 6*time.Hour), nil); len(got) != 2 || got[0].Name != "T0" {
		t.Errorf("without distros: %+v", got)
	}
}
