package loadgen

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// spareFiles are the descriptors a run needs besides its sockets and epoll
// instances: standard streams, the reachability probe, report files, a
// pprof client, the Go runtime's own.
const spareFiles = 64

// checkFileLimit makes sure the process may open conns sockets and loops
// epoll instances besides spareFiles: it raises the soft RLIMIT_NOFILE
// toward the hard limit when needed, and returns a *FieldError on
// Connections when even the hard limit is too low.
func checkFileLimit(conns, loops int) error {
	need := uint64(conns) + uint64(loops) + spareFiles
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return nil // cannot tell: let the sockets say
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max >= need || lim.Max == unix.RLIM_INFINITY {
		raised := lim
		raised.Cur = lim.Max
		if lim.Max == unix.RLIM_INFINITY {
			raised.Cur = need
		}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &raised); err == nil {
			return nil
		}
	}
	most := int64(lim.Max) - int64(loops) - spareFiles
	return &FieldError{
		Field: "Connections", Value: fmt.Sprint(conns),
		Want: fmt.Sprintf("at most %d: the open-file limit is %d (soft %d); raise the hard limit (ulimit -Hn, systemd LimitNOFILE) or use fewer connections",
			max(most, 0), lim.Max, lim.Cur),
	}
}
