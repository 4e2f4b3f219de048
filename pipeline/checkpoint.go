package pipeline

import (
	"os"
	"strings"
	"syscall"
)

// CheckpointEnv names crash points for the crash-recovery tests: when a
// checkpoint's name is listed in it, the process kills itself with SIGKILL
// there, exactly as an operator's kill -9 or a lost runner would.
const CheckpointEnv = "EMBARGO_TEST_KILL_AT"

// Checkpoint marks a point between two effects where a crash must be
// survivable.
func Checkpoint(name string) {
	list := os.Getenv(CheckpointEnv)
	if list == "" {
		return
	}
	for _, n := range strings.Split(list, ",") {
		if n == name {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
}
