package engine

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hotpath/hotpath/config"
)

// gatedUpstream answers each request only when the test releases it, and
// records the order requests arrived in (by their X-Client header).
type gatedUpstream struct {
	*httpUpstream
	release chan struct{}
	mu      sync.Mutex
	order   []string
}

func newGatedUpstream(t *testing.T) *gatedUpstream {
	g := &gatedUpstream{release: make(chan struct{})}
	g.httpUpstream = newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.order = append(g.order, r.Header.Get("X-Client"))
		g.mu.Unlock()
		select {
		case <-g.release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, r.Header.Get("X-Client"))
	})
	t.Cleanup(func() { close(g.release) })
	return g
}

func (g *gatedUpstream) seen() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.order...)
}

// queued returns the number of live entries in the server's wait queues.
func queued(srv *Server) int {
	n := 0
	srv.loopsMap.Range(func(_, v any) bool {
		lp := v.(*loop)
		done := make(chan struct{})
		_ = lp.el.Execute(context.Background(), runnable(func() {
			defer close(done)
			for _, q := range lp.pending.listed {
				for i := 0; i < q.n; i++ {
					if q.live(q.at(i)) {
						n++
					}
				}
			}
		}))
		<-done
		return true
	})
	return n
}

// pendingServer is a one-loop gateway in front of up with max_conns 1.
func pendingServer(t *testing.T, up string, maxPending int, pending time.Duration) *Server {
	return startServer(t, pendingConfig(t, up, maxPending, pending))
}

func pendingConfig(t *testing.T, up string, maxPending int, pending time.Duration) *config.Config {
	cfg := testConfig(t, proxyTo(up))
	cfg.Workers = 1 // pools and queues are per loop
	cfg.Upstreams[0].Pool.MaxConns = 1
	cfg.Upstreams[0].Pool.MaxPending = maxPending
	cfg.Timeouts.Pending = pending
	cfg.Timeouts.UpstreamHeader = 30 * time.Second
	return cfg
}

type clientResult struct {
	name   string
	status int
	body   string
}

// sendAsync sends one request as client name and reports its response.
func sendAsync(t *testing.T, srv *Server, name string, out chan<- clientResult) {
	c := dial(t, srv)
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(c, "GET /%s HTTP/1.1\r\nHost: x\r\nX-Client: %s\r\n\r\n", name, name); err != nil {
		t.Error(err)
		return
	}
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			out <- clientResult{name: name, status: -1, body: err.Error()}
			return
		}
		body := readBodyErr(resp)
		out <- clientResult{name: name, status: resp.StatusCode, body: body}
	}()
}

func readBodyErr(resp *http.Response) string {
	defer resp.Body.Close()
	var b []byte
	buf := make([]byte, 512)
	for {
		n, err := resp.Body.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			return string(b)
		}
	}
}

// TestMaxConnsQueue: with max_conns 1 and a slow upstream, three clients
// are served one after another in arrival order, every one with 200.
func TestMaxConnsQueue(t *testing.T) {
	up := newGatedUpstream(t)
	srv := pendingServer(t, up.addr, 16, 30*time.Second)
	out := make(chan clientResult, 3)
	sendAsync(t, srv, "a", out)
	eventually(t, 10*time.Second, func() bool { return len(up.seen()) == 1 }, "a not proxied")
	sendAsync(t, srv, "b", out)
	eventually(t, 10*time.Second, func() bool { return queued(srv) == 1 }, "b not queued")
	sendAsync(t, srv, "c", out)
	eventually(t, 10*time.Second, func() bool { return queued(srv) == 2 }, "c not queued")
	for _, want := range []string{"a", "b", "c"} {
		up.release <- struct{}{}
		r := <-out
		if r.name != want || r.status != 200 || r.body != want {
			t.Fatalf("got %+v, want 200 %q", r, want)
		}
	}
	if got := fmt.Sprint(up.seen()); got != "[a b c]" {
		t.Fatalf("upstream saw %s, want [a b c]", got)
	}
	if n := up.conns.Load(); n != 1 {
		t.Fatalf("upstream saw %d connections, want 1 (max_conns, reused)", n)
	}
}

// TestMaxConnsQueueLimits: a request beyond max_pending, or one that waits
// longer than timeouts.pending, is answered 503; max_pending 0 refuses at
// once.
func TestMaxConnsQueueLimits(t *testing.T) {
	t.Run("queue full", func(t *testing.T) {
		up := newGatedUpstream(t)
		srv := pendingServer(t, up.addr, 1, 30*time.Second)
		out := make(chan clientResult, 3)
		sendAsync(t, srv, "a", out)
		eventually(t, 10*time.Second, func() bool { return len(up.seen()) == 1 }, "a not proxied")
		sendAsync(t, srv, "b", out)
		eventually(t, 10*time.Second, func() bool { return queued(srv) == 1 }, "b not queued")
		sendAsync(t, srv, "c", out)
		if r := <-out; r.name != "c" || r.status != 503 {
			t.Fatalf("got %+v, want 503 for c", r)
		}
		for _, want := range []string{"a", "b"} {
			up.release <- struct{}{}
			if r := <-out; r.name != want || r.status != 200 {
				t.Fatalf("got %+v, want 200 for %s", r, want)
			}
		}
	})
	t.Run("deadline", func(t *testing.T) {
		up := newGatedUpstream(t)
		srv, clk := startServerLoopClock(t, pendingConfig(t, up.addr, 16, 100*time.Millisecond))
		out := make(chan clientResult, 2)
		sendAsync(t, srv, "a", out)
		eventually(t, 10*time.Second, func() bool { return len(up.seen()) == 1 }, "a not proxied")
		sendAsync(t, srv, "b", out)
		eventually(t, 10*time.Second, func() bool { return queued(srv) == 1 }, "b not queued")
		expire(t, srv, clk, 100*time.Millisecond)
		if r := <-out; r.name != "b" || r.status != 503 {
			t.Fatalf("got %+v, want 503 for b after timeouts.pending", r)
		}
		up.release <- struct{}{}
		if r := <-out; r.name != "a" || r.status != 200 {
			t.Fatalf("got %+v, want 200 for a", r)
		}
	})
	t.Run("no queue", func(t *testing.T) {
		up := newGatedUpstream(t)
		srv := pendingServer(t, up.addr, 0, 30*time.Second)
		out := make(chan clientResult, 2)
		sendAsync(t, srv, "a", out)
		eventually(t, 10*time.Second, func() bool { return len(up.seen()) == 1 }, "a not proxied")
		sendAsync(t, srv, "b", out)
		if r := <-out; r.name != "b" || r.status != 503 {
			t.Fatalf("got %+v, want 503 for b with max_pending 0", r)
		}
		up.release <- struct{}{}
		if r := <-out; r.name != "a" || r.status != 200 {
			t.Fatalf("got %+v, want 200 for a", r)
		}
	})
}

// TestMaxConnsQueueClientLeaves: a waiting client that disconnects leaves
// no trace; the next waiter gets the connection.
func TestMaxConnsQueueClientLeaves(t *testing.T) {
	up := newGatedUpstream(t)
	srv := pendingServer(t, up.addr, 16, 30*time.Second)
	out := make(chan clientResult, 3)
	sendAsync(t, srv, "a", out)
	eventually(t, 10*time.Second, func() bool { return len(up.seen()) == 1 }, "a not proxied")
	gone := dial(t, srv)
	_, _ = fmt.Fprintf(gone, "GET /gone HTTP/1.1\r\nHost: x\r\nX-Client: gone\r\n\r\n")
	eventually(t, 10*time.Second, func() bool { return queued(srv) == 1 }, "gone not queued")
	sendAsync(t, srv, "c", out)
	eventually(t, 10*time.Second, func() bool { return queued(srv) == 2 }, "c not queued")
	_ = gone.Close()
	eventually(t, 10*time.Second, func() bool { return queued(srv) == 1 }, "closed client still queued")
	for _, want := range []string{"a", "c"} {
		up.release <- struct{}{}
		if r := <-out; r.name != want || r.status != 200 {
			t.Fatalf("got %+v, want 200 for %s", r, want)
		}
	}
	if got := fmt.Sprint(up.seen()); got != "[a c]" {
		t.Fatalf("upstream saw %s, want [a c]", got)
	}
}
