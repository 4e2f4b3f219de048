package cli

import (
	"io"
	"os"
	"os/signal"

	"golang.org/x/term"

	"github.com/async-rs/embargo/pipeline"
)

// The terminal a run is watched in: its width, which the live line is cut
// to, and its resizes, after which the live line is drawn again.

// terminalWidth is the width of the terminal w writes to, asked each time
// (a resize changes it), or nil when w is not a terminal's.
func terminalWidth(w io.Writer) func() int {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	return func() int {
		width, _, err := term.GetSize(int(f.Fd()))
		if err != nil {
			return 0
		}
		return width
	}
}

// followResizes redraws r's live line each time the terminal is resized,
// until stop is called. Where the system does not say (resizeSignals is
// empty), the next redraw, within a second for the countdown, is at the
// new width all the same.
func followResizes(r *pipeline.Reporter) (stop func()) {
	if !r.TTY || len(resizeSignals) == 0 {
		return func() {}
	}
	resized := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(resized, resizeSignals...)
	go func() {
		for {
			select {
			case <-resized:
				r.Redraw()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(resized)
		close(done)
	}
}
