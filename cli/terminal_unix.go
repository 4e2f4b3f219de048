//go:build unix

package cli

import (
	"os"
	"syscall"
)

// resizeSignals say the terminal was resized.
var resizeSignals = []os.Signal{syscall.SIGWINCH}
