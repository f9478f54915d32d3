// Package proctest runs a command's main as a child process of its own
// test binary, for the tests that need a process of their own: resource
// limits (ulimit), signals, crashes. The test binary re-runs itself with
// an environment variable set, and the package's TestMain hands control to
// the command's run function when it sees it:
//
//	func TestMain(m *testing.M) {
//		proctest.RunIfChild("HOTECHO_CHILD", func(args []string) int { return run(args, ...) })
//		os.Exit(m.Run())
//	}
//
//	p := proctest.Start(t, "HOTECHO_CHILD", proctest.Options{OpenFiles: 64}, "-addr", "127.0.0.1:0")
//	line := p.WaitStdout(t, "listening on")
package proctest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RunIfChild runs main with the process's arguments and exits with its
// code when the environment variable env is set: the process is a child
// that Start made. Otherwise it returns at once.
func RunIfChild(env string, main func(args []string) int) {
	if os.Getenv(env) == "" {
		return
	}
	os.Exit(main(os.Args[1:]))
}

// Options shape the child process.
type Options struct {
	// OpenFiles, when positive, is the child's RLIMIT_NOFILE (soft and
	// hard, as `ulimit -n` sets them).
	OpenFiles int
}

// Proc is a running child.
type Proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	lines  chan string // stdout lines
	done   chan struct{}
	err    error
}

// Start runs the test binary as a child with env set and args; the child
// is killed when the test ends.
func Start(t *testing.T, env string, opts Options, args ...string) *Proc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	if opts.OpenFiles > 0 {
		script := fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, opts.OpenFiles)
		cmd = exec.Command("/bin/sh", append([]string{"-c", script, self}, args...)...)
	} else {
		cmd = exec.Command(self, args...)
	}
	cmd.Env = append(os.Environ(), env+"=1")
	p := &Proc{cmd: cmd, lines: make(chan string, 64), done: make(chan struct{})}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.stderr.Write(b)
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, out)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.Exited() {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// WaitStdout returns the first stdout line containing s, failing the test
// after 10 s or when the child exits first.
func (p *Proc) WaitStdout(t *testing.T, s string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case line := <-p.lines:
			if strings.Contains(line, s) {
				return line
			}
		case <-p.done:
			t.Fatalf("child exited (%v) before printing %q; stderr:\n%s", p.err, s, p.Stderr())
		case <-deadline:
			t.Fatalf("child printed no %q in 10 s; stderr:\n%s", s, p.Stderr())
		}
	}
}

// WaitStderr polls until the child's stderr contains s, failing after 10 s.
func (p *Proc) WaitStderr(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Stderr(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("child's stderr has no %q after 10 s:\n%s", s, p.Stderr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stderr returns what the child wrote to stderr so far.
func (p *Proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Exited reports whether the child has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and returns the exit code, failing after 10 s.
func (p *Proc) Stop(t *testing.T) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("child did not stop after SIGTERM; stderr:\n%s", p.Stderr())
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("child: %v", p.err)
	}
	return 0
}
