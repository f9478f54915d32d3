package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat. The kernel
// fixes it at 100 for that interface (USER_HZ) whatever CONFIG_HZ is.
const userHZ = 100

// procStat is what the harness reads from one /proc/<pid>/stat.
type procStat struct {
	ppid int
	cpu  time.Duration // utime + stime, all threads
}

// parseProcStat parses the text of /proc/<pid>/stat. The command name (field
// 2) is in parentheses and may itself contain spaces and parentheses, so the
// fields are counted from the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("bench: /proc stat without ')': %.40q", b)
	}
	f := bytes.Fields(b[i+1:])
	// After ')': state(3) ppid(4) … utime(14) stime(15); f[0] is field 3.
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("bench: /proc stat with %d fields after the name", len(f))
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	ut, err2 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err3 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, fmt.Errorf("bench: malformed /proc stat: %.80q", b)
	}
	return procStat{ppid: ppid, cpu: time.Duration(ut+st) * time.Second / userHZ}, nil
}

// treeCPU returns the CPU time (user+system) of pid and all its descendants
// that are alive now, and how many processes that is. Children that already
// exited are not counted (their time went to the parent's cutime); the
// contenders' workers live as long as their master.
func treeCPU(pid int) (time.Duration, int, error) {
	root, err := readProcStat(pid)
	if err != nil {
		return 0, 0, err
	}
	stats := map[int]procStat{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		p, err := strconv.Atoi(filepath.Base(d))
		if err != nil || p == pid {
			continue
		}
		if s, err := readProcStat(p); err == nil {
			stats[p] = s
		}
	}
	children := map[int][]int{}
	for p, s := range stats {
		children[s.ppid] = append(children[s.ppid], p)
	}
	total, n := root.cpu, 1
	queue := children[pid]
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		total += stats[p].cpu
		n++
		queue = append(queue, children[p]...)
	}
	return total, n, nil
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}

// machineBusy returns the CPU time all CPUs spent in processes since boot,
// plus the time the hypervisor stole (user, nice, system and steal from
// /proc/stat). Interrupt time is left out: with IRQ time accounting it is
// charged to no process, so it would look like someone else's work.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, fmt.Errorf("bench: unexpected /proc/stat: %.60q", line)
	}
	var ticks uint64
	// cpu user nice system idle iowait irq softirq steal …
	for _, i := range []int{1, 2, 3, 8} {
		n, err := strconv.ParseUint(string(f[i]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: unexpected /proc/stat: %.60q", line)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// cpuPressure returns /proc/pressure/cpu's "some avg60" as a share (0..1),
// or -1 when the kernel does not report it.
func cpuPressure() float64 {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return -1
	}
	return parseCPUPressure(b)
}

// parseCPUPressure reads "some avg10=1.00 avg60=2.00 avg300=… total=…".
func parseCPUPressure(b []byte) float64 {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	for _, f := range bytes.Fields(line) {
		if v, ok := bytes.CutPrefix(f, []byte("avg60=")); ok {
			if x, err := strconv.ParseFloat(string(v), 64); err == nil {
				return x / 100
			}
		}
	}
	return -1
}
