package engine

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hotpath/hotpath/config"
)

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// blockLoops parks every event loop of srv in an Execute'd task until the
// returned func is called, so that what happens meanwhile on the sockets
// arrives in one batch of events.
func blockLoops(t *testing.T, srv *Server) (release func()) {
	t.Helper()
	gate := make(chan struct{})
	var parked sync.WaitGroup
	srv.loopsMap.Range(func(_, v any) bool {
		parked.Add(1)
		_ = v.(*loop).el.Execute(context.Background(), runnable(func() {
			parked.Done()
			<-gate
		}))
		return true
	})
	parked.Wait()
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return release
}

// TestNoStaleEventWhenClientLeaves: a client that goes away while its
// upstream's response is arriving. The upstream connection cannot be
// reused and is closed; its own event, in the same batch, must not be
// reported by gnet as an event of a stale connection (issue 18: a dozen
// such warnings per load run). Upstream connections are closed after the
// batch (up.drop).
func TestNoStaleEventWhenClientLeaves(t *testing.T) {
	respond := make(chan struct{})
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		if _, err := readRequestHead(r); err != nil {
			return
		}
		<-respond
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		_, _ = io.Copy(io.Discard, r)
	})
	var logs syncBuffer
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Workers = 1
	srv, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	c := dial(t, srv)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() bool { return up.conns.Load() == 1 && strings.Contains(up.received(), "\r\n\r\n") }, "request not forwarded")
	release := blockLoops(t, srv)
	// The loop is parked (blockLoops waited for it), so its state can be
	// read here: the client's and the upstream's descriptors.
	var fds []int
	srv.loopsMap.Range(func(_, v any) bool {
		lp := v.(*loop)
		for _, d := range lp.downs {
			fds = append(fds, d.c.Fd())
		}
		for _, u := range lp.ups {
			fds = append(fds, u.c.Fd())
		}
		return true
	})
	if len(fds) != 2 {
		t.Fatalf("%d connections on the loop, want the client and its upstream", len(fds))
	}
	_ = c.Close() // first in the batch: the client leaves
	close(respond)
	waitReadable(t, fds) // both events are ready: the next epoll_wait returns them together
	release()
	eventually(t, 5*time.Second, func() bool { return srv.active.Load() == 0 }, "client connection not closed")
	// One more round trip through the loop, so the batch has been handled.
	c2 := dial(t, srv)
	_ = c2.Close()
	if strings.Contains(logs.String(), "stale connection") {
		t.Fatalf("gnet saw an event of a stale connection:\n%s", logs.String())
	}
}

// waitReadable polls until every descriptor is readable (data or EOF).
func waitReadable(t *testing.T, fds []int) {
	t.Helper()
	pfds := make([]unix.PollFd, len(fds))
	for i, fd := range fds {
		pfds[i] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ready := 0
		for i := range pfds {
			pfds[i].Revents = 0
			if n, _ := unix.Poll(pfds[i:i+1], 10); n == 1 {
				ready++
			}
		}
		if ready == len(pfds) {
			return
		}
	}
	t.Fatal("descriptors never became readable")
}

// TestConnectionCap: at limits.max_connections the gateway stops accepting;
// the connection accepted at the boundary is closed at once and counted,
// the connections it holds are served, and it accepts again once some
// close. The metrics the docs name move.
func TestConnectionCap(t *testing.T) {
	up := newRecordingUpstream(t, "app")
	cfg := testConfig(t, "limits: {max_connections: 2}\n"+proxyTo(up.addr))
	cfg.Workers = 1
	srv := startServer(t, cfg)
	open := func() (net.Conn, *bufio.Reader) {
		c := dial(t, srv)
		return c, bufio.NewReader(c)
	}
	a, ar := open()
	b, br := open()
	for _, x := range []struct {
		c net.Conn
		r *bufio.Reader
	}{{a, ar}, {b, br}} {
		resp := roundTrip(t, x.c, x.r, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
		readBody(t, resp)
	}
	// The third is accepted and closed at once: the budget is spent.
	c3, r3 := open()
	_, _ = io.WriteString(c3, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := r3.ReadByte(); err == nil {
		t.Fatal("the connection over the cap was served")
	}
	waitMetrics(t, srv, []metricWant{
		{"hotpath_downstream_connections_max", nil, 2},
		{"hotpath_downstream_connections_refused_total", nil, 1},
		{"hotpath_accept_pauses_total", nil, 1},
		{"hotpath_accept_paused_loops", nil, 1},
	})
	// The ones it holds are still served.
	resp := roundTrip(t, a, ar, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
	if readBody(t, resp); resp.StatusCode != 200 {
		t.Fatalf("held connection: %d", resp.StatusCode)
	}
	// One closes: the loop accepts again.
	_ = b.Close()
	waitMetrics(t, srv, []metricWant{{"hotpath_accept_paused_loops", nil, 0}})
	c4, r4 := open()
	resp = roundTrip(t, c4, r4, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
	if readBody(t, resp); resp.StatusCode != 200 {
		t.Fatalf("after the cap: %d", resp.StatusCode)
	}
}

// TestSecondInstanceRefused: a second gateway on an address another one
// listens on would share it through SO_REUSEPORT and split its traffic
// between two configs. It is refused, unless the hand-over is deliberate.
func TestSecondInstanceRefused(t *testing.T) {
	first := startServer(t, testConfig(t, `routes: [{path: /, direct: {body: first}}]`))
	y := "workers: 1\nlisteners: [{address: " + first.Addr() + "}]\nroutes: [{path: /, direct: {body: second}}]\n"
	parse := func() *config.Config {
		cfg, err := config.Parse("second.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	second, err := New(parse(), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Start(); err == nil || !strings.Contains(err.Error(), "another process is listening there") {
		_ = second.Close()
		t.Fatalf("second Start: %v, want a refusal naming the address in use", err)
	}
	handover, err := New(parse(), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithHandover())
	if err != nil {
		t.Fatal(err)
	}
	if err := handover.Start(); err != nil {
		t.Fatalf("Start with WithHandover: %v", err)
	}
	_ = handover.Close()
}

// TestRestartAfterStop: a new instance starts at once on the address of
// one that just stopped, although the old one's connections linger in the
// kernel (FIN_WAIT): only a listening socket counts as another process.
func TestRestartAfterStop(t *testing.T) {
	first := startServer(t, testConfig(t, `routes: [{path: /, direct: {body: first}}]`))
	c := dial(t, first)
	resp := roundTrip(t, c, bufio.NewReader(c), "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
	readBody(t, resp)
	addr := first.Addr()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// c stays open: the server's side of it is half-closed, not gone.
	cfg, err := config.Parse("again.yaml", []byte("workers: 1\nlisteners: [{address: "+addr+"}]\nroutes: [{path: /, direct: {body: again}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Start(); err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	_ = again.Close()
}
