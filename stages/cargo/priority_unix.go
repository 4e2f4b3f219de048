//go:build unix

package cargo

import "syscall"

// yieldTo lowers the priority of a started cargo publish. At T0 every line
// starts one at once, beside the push's POST and embargo's own polling of
// the index; on a runner with two cores the uploads' start-up would
// otherwise delay the first public write and the moment a dependency is
// seen. cargo only waits on the network once started: it loses nothing.
func yieldTo(pid int) { _ = syscall.Setpriority(syscall.PRIO_PROCESS, pid, 10) }
