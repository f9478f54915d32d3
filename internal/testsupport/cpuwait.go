package testsupport

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// CPUWait measures how long some task waited for a CPU during a stretch of
// a test (/proc/pressure/cpu, "some"): on a starved machine (a whole suite
// on 2 busy cores) every figure that depends on the scheduler is late, so
// a test that asserts one checks it only when the machine was quiet.
type CPUWait struct {
	stalled time.Duration
	start   time.Time
	ok      bool
}

// StartCPUWait starts measuring.
func StartCPUWait() CPUWait {
	s, ok := cpuStalled()
	return CPUWait{stalled: s, start: time.Now(), ok: ok}
}

// Share returns the share of the wall time since StartCPUWait during which
// some task waited for a CPU, and whether the kernel reports it (false:
// the share is unknown, 0).
func (w CPUWait) Share() (float64, bool) {
	s, ok := cpuStalled()
	if !w.ok || !ok {
		return 0, false
	}
	return float64(s-w.stalled) / float64(time.Since(w.start)), true
}

// Busy reports whether some task waited for a CPU more than share of the
// time since StartCPUWait (false when the kernel does not say).
func (w CPUWait) Busy(share float64) bool {
	s, ok := w.Share()
	return ok && s > share
}

// cpuStalled is the time during which some task waited for a CPU since
// boot ("some total", in microseconds), and whether the kernel reports it.
func cpuStalled() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "some ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "total="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				return time.Duration(n) * time.Microsecond, err == nil
			}
		}
	}
	return 0, false
}
