// Package fleettest starts the real servers that fleet tests need
// (redis-server, etcd) as child processes on loopback ports, and stops them
// when the test ends.
//
// A test whose server binary is not on PATH is skipped with a message
// saying what to install, unless HOTPATH_CI=1 is set (as .ci/run does):
// then it fails, so that CI never passes by skipping.
package fleettest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

// need returns the path of the named binary, or skips (fails under
// HOTPATH_CI=1) when it is absent.
func need(t testing.TB, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err == nil {
		return p
	}
	if os.Getenv("HOTPATH_CI") == "1" {
		t.Fatalf("%s not on PATH and HOTPATH_CI=1: .ci/run must install the %s package", bin, pkg)
	}
	t.Skipf("%s not on PATH: install the Debian package %s to run this test", bin, pkg)
	return ""
}

// freePort returns a port the kernel chose for 127.0.0.1, closed again for
// the server to bind (the servers cannot be given port 0 and report it).
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Server is a child server process that a test can kill and start again
// on the same address.
type Server struct {
	t    testing.TB
	name string
	args []string
	bin  string
	// Addr is the client address (host:port).
	Addr  string
	ready func(ctx context.Context) error

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited

	// pid is the process being started, for ready to check that it talks
	// to this process and not another test's server that took the port
	// between freePort and the bind (this one then exits).
	pid int
}

func (s *Server) start() error {
	cmd := exec.Command(s.bin, s.args...)
	out := new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.pid = cmd.Process.Pid
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		err := s.ready(ctx)
		if err == nil {
			s.mu.Lock()
			s.cmd, s.exited = cmd, exited
			s.mu.Unlock()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited: %s", s.name, lastLines(out.String()))
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("%s not ready: %v: %s", s.name, err, lastLines(out.String()))
		case <-time.After(20 * time.Millisecond): // poll interval
		}
	}
}

// Kill stops the server at once (SIGKILL) and waits for it to exit.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Restart starts the server again on the same address (after Kill).
func (s *Server) Restart() {
	s.t.Helper()
	var err error
	for range 20 { // the port may linger a moment after the kill
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // retry the bind
	}
	s.t.Fatalf("restart %s: %v", s.name, err)
}

func lastLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}

func launch(t testing.TB, s *Server, args func() []string) {
	t.Helper()
	var err error
	for range 3 { // a port chosen free may be taken before the server binds it
		s.args = args()
		if err = s.start(); err == nil {
			t.Cleanup(s.Kill)
			return
		}
	}
	t.Fatalf("start %s: %v", s.name, err)
}

// Redis starts redis-server on a free loopback port without persistence.
func Redis(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, name: "redis-server", bin: need(t, "redis-server", "redis-server")}
	s.ready = func(ctx context.Context) error {
		if err := redisPing(ctx, s.Addr); err != nil {
			return err
		}
		info, err := RedisCommand(s.Addr, "INFO server")
		if err != nil {
			return err
		}
		if !strings.Contains(info, fmt.Sprintf("process_id:%d\r\n", s.pid)) {
			return fmt.Errorf("another redis-server answers on %s", s.Addr)
		}
		return nil
	}
	launch(t, s, func() []string {
		port := freePort(t)
		s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		return []string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning"}
	})
	return s
}

// redisPing sends PING in RESP and waits for +PONG.
func redisPing(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// RedisCommand sends one command (inline form, space-separated words) to
// the Redis at addr and returns its raw reply, for INFO and the like.
func RedisCommand(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(head, "$") {
		return head, nil
	}
	var n int
	fmt.Sscanf(head[1:], "%d", &n)
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// Etcd starts a one-member etcd cluster on free loopback ports with its
// data in a temporary directory (kept across Kill and Restart).
func Etcd(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, name: "etcd", bin: need(t, "etcd", "etcd-server")}
	dir := filepath.Join(t.TempDir(), "etcd")
	name := fmt.Sprintf("t%d", time.Now().UnixNano()) // per test: see ready
	s.ready = func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.Addr+"/health", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		if !strings.Contains(b.String(), `"health":"true"`) {
			return fmt.Errorf("health: %s", b.String())
		}
		// The member's name is this launch's: not another test's etcd
		// that took the port first.
		req, _ = http.NewRequestWithContext(ctx, "POST", "http://"+s.Addr+"/v3/cluster/member/list", strings.NewReader("{}"))
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b.Reset()
		_, _ = b.ReadFrom(resp.Body)
		if !strings.Contains(b.String(), `"name":"`+name+`"`) {
			return fmt.Errorf("another etcd answers on %s", s.Addr)
		}
		return nil
	}
	launch(t, s, func() []string {
		client, peer := freePort(t), freePort(t)
		s.Addr = fmt.Sprintf("127.0.0.1:%d", client)
		cu, pu := "http://"+s.Addr, fmt.Sprintf("http://127.0.0.1:%d", peer)
		return []string{"--name", name, "--data-dir", dir,
			"--listen-client-urls", cu, "--advertise-client-urls", cu,
			"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
			"--initial-cluster", name + "=" + pu, "--initial-cluster-state", "new",
			"--logger", "zap", "--log-level", "error"}
	})
	return s
}

// QuietZap is a logger for etcd clients in tests: errors only.
func QuietZap() *zap.Logger {
	return zap.NewNop()
}
