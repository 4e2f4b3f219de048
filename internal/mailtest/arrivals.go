package mailtest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Arrivals are the times aiosmtpd delivered its messages, by its own
// clock (the Maildir files' modification times), oldest first: a test
// compares them with T0.
func (a *Aiosmtpd) Arrivals(tb testing.TB) []time.Time {
	tb.Helper()
	entries, err := os.ReadDir(filepath.Join(a.maildir, "new"))
	if err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	var out []time.Time
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, info.ModTime())
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}
