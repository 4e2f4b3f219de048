//go:build !unix

package cli

import "os"

// resizeSignals: none on this system; the live line takes the new width
// at its next redraw.
var resizeSignals []os.Signal
