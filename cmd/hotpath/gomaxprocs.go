package main

import (
	"os"
	"runtime"
)

// spareP keeps one P (GOMAXPROCS) more than the event loops, unless the
// GOMAXPROCS environment variable sets it. Each loop holds a P while it
// runs and is often in a syscall (read, write, epoll_wait); when no P is
// idle, the runtime's sysmon takes the P of a loop whose syscall lasts
// longer than 20 µs and hands it to another thread, which finds nothing to
// do and sleeps, and the loop must get a P back when the syscall returns:
// futex wake-ups and thread switches on every such syscall. With an idle P
// sysmon leaves a syscalling P alone (for up to 10 ms). Measured on a
// 2-core VM with the gateway pinned to one CPU (bench/README.md, pinning):
// less CPU per proxied request and fewer context switches. The extra P
// costs nothing while idle and never adds a loop: the loops were counted
// before.
func spareP(loops int) (int, bool) {
	if os.Getenv("GOMAXPROCS") != "" || loops <= 0 {
		return runtime.GOMAXPROCS(0), false
	}
	if p := runtime.GOMAXPROCS(0); p > loops {
		return p, false
	}
	runtime.GOMAXPROCS(loops + 1)
	return loops + 1, true
}
