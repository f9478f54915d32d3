package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a server the harness started: a contender or hotecho.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed when the process has exited
	err  error         // the exit status, set before done is closed
}

// pinned returns the command line that runs argv on cpus with taskset, or
// argv itself when cpus is empty or taskset is missing; with a niceness other
// than 0 it runs under nice too.
func pinned(cpus string, niceness int, argv ...string) []string {
	if niceness != 0 {
		if n, err := exec.LookPath("nice"); err == nil {
			argv = append([]string{n, "-n", strconv.Itoa(niceness)}, argv...)
		}
	}
	if cpus == "" {
		return argv
	}
	ts, err := exec.LookPath("taskset")
	if err != nil {
		return argv
	}
	return append([]string{ts, "-c", cpus}, argv...)
}

// startProcess starts argv in its own process group with stdout and stderr
// going to logPath.
func startProcess(name, logPath string, env []string, argv ...string) (*process, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	// Own process group: stop() signals nginx's workers with their master.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: f, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// pid is the process's id (taskset execs the program, so it is the
// program's).
func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, waits up to grace, then kills it.
func (p *process) stop(grace time.Duration) {
	defer p.log.Close()
	if p.exited() {
		return
	}
	pgid := p.pid()
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// logTail returns the last lines of the process's log, for error messages.
func (p *process) logTail() string {
	b, err := os.ReadFile(p.log.Name())
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " / ")
}

// waitListening polls addr until it accepts a TCP connection, the process
// exits, or ctx ends.
func (p *process) waitListening(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("bench: %s exited before listening on %s (%v): %s", p.name, addr, p.err, p.logTail())
		case <-ctx.Done():
			return fmt.Errorf("bench: %s not listening on %s: %w", p.name, addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freePort returns a loopback address whose port was free a moment ago. It
// picks from below the kernel's ephemeral range (32768 and up by default),
// so that the port is not handed to someone else's outgoing connection or
// ":0" listener before the server binds it, as can happen on a busy machine.
func freePort() (string, error) {
	for range 100 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(20000+rand.IntN(12000)))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		return addr, nil
	}
	return "", errors.New("bench: no free port in 20000-31999")
}

// errExited is returned when a contender died during a run.
var errExited = errors.New("server exited")

// cpusExist reports whether every CPU in a taskset list ("1", "0-3",
// "0,2") is below runtime.NumCPU.
func cpusExist(list string) bool {
	for part := range strings.SplitSeq(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b, err2 := strconv.Atoi(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil || a < 0 || b < a || b >= runtime.NumCPU() {
			return false
		}
	}
	return true
}
