package engine

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hotpath/hotpath/config"
)

// A recycled client connection comes back zeroed, with its address
// buffer emptied.
func TestConnRecycling(t *testing.T) {
	lp := &loop{}
	h := lp.newConn(nil)
	h.clientIP = append(h.clientIP, "127.0.0.1"...)
	h.closed, h.state, h.dl = true, downClosing, dlLinger
	lp.recycle(h)
	e := lp.newConn(nil)
	if e != h {
		t.Fatal("newConn did not reuse the recycled connection")
	}
	if e.closed || e.state != downIdle || e.dl != dlNone || e.x != nil || e.lp != lp {
		t.Errorf("recycled connection not reset: closed=%v state=%v dl=%v x=%v", e.closed, e.state, e.dl, e.x)
	}
	if len(e.clientIP) != 0 || cap(e.clientIP) == 0 {
		t.Errorf("address buffer not kept empty: %d/%d", len(e.clientIP), cap(e.clientIP))
	}
}

// A released exchange comes back for the next request with its small
// buffers emptied, its policy state kept (each request resets what it
// uses) and its park number carried on (park.go); large buffers are not
// kept, and an exchange due for a redispatch is not reused.
func TestExchangeRecycling(t *testing.T) {
	lp := defaultLoop(t)
	tbl := lp.srv.tbl.Load()
	h := lp.newConn(nil)
	x := lp.newExchange(h)
	if x.cl != h || x.tbl != tbl || x.lp != lp {
		t.Fatal("new exchange not bound to its connection and table")
	}
	x.head = append(make([]byte, 0, 512), "GET / HTTP/1.1\r\n"...)
	x.out = make([]byte, 100, maxKeptBuf+1)
	x.pk = park{kind: parkSlot, seq: 7}
	x.pol = &policyState{peerOK: true}
	lp.releaseExchange(x)
	if x.pk.kind != parkNone || x.u != nil {
		t.Error("a released exchange is still parked or points at its upstream")
	}
	y := lp.newExchange(h)
	if y != x {
		t.Fatal("newExchange did not reuse the released exchange")
	}
	if len(y.head) != 0 || cap(y.head) != 512 {
		t.Errorf("head buffer not kept empty: %d/%d", len(y.head), cap(y.head))
	}
	if y.out != nil {
		t.Errorf("a buffer above maxKeptBuf was kept (cap %d)", cap(y.out))
	}
	if y.pk.seq != 7 {
		t.Errorf("park number %d, want 7 carried on", y.pk.seq)
	}
	if y.pol == nil || y.pol.peerOK {
		t.Error("policy state not kept, or its client address not forgotten")
	}
	lp.redo = append(lp.redo, y)
	lp.releaseExchange(y)
	if len(lp.freeExchanges) != 0 {
		t.Error("an exchange due for a redispatch was reused")
	}
}

// defaultLoop is a bare loop on a server with the default table, for the
// free lists and parks: nothing runs on it.
func defaultLoop(t *testing.T) *loop {
	t.Helper()
	s := &Server{}
	tbl, err := compile(config.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.tbl.Store(tbl)
	return &loop{srv: s}
}

// Connections come and go on one loop, each leaving its down in a
// different state (a parked cache waiter that leaves, a request body cut
// short, a pipelined burst, a local answer, a proxied exchange): every next
// connection, on a recycled down, is answered correctly.
func TestRecycledDownsServeCorrectly(t *testing.T) {
	v, up := newVersioned(t, "max-age=60")
	other := newHTTPUpstream(t, okHandler)
	cfg := testConfig(t, fmt.Sprintf(`
cache: {coalesce_wait: 1m}
upstreams:
  - name: app
    endpoints: [{address: %s}]
  - name: other
    endpoints: [{address: %s}]
routes:
  - name: echo
    path: /echo/*p
    upstream: other
  - name: ping
    path: /ping
    direct: {body: pong}
%s`, up.addr, other.addr, cacheRoute))
	cfg.Workers = 1
	cfg.Timeouts.UpstreamHeader = time.Minute // the gate holds the cache leader
	srv := startServerClock(t, cfg, newTestClock())

	// A cache leader held at the upstream, and a waiter that leaves.
	gate := make(chan struct{})
	v.gate.Store(gate)
	leader := dial(t, srv)
	_, _ = io.WriteString(leader, "GET /hot HTTP/1.1\r\nHost: example.com\r\n\r\n")
	eventually(t, 5*time.Second, func() bool { return up.reqs.Load() == 1 }, "leader not upstream")
	waiter := dial(t, srv)
	_, _ = io.WriteString(waiter, "GET /hot HTTP/1.1\r\nHost: example.com\r\n\r\n")
	eventually(t, 5*time.Second, func() bool { return statsOf(srv, "cached").CacheWaiting == 1 }, "waiter not parked")
	_ = waiter.Close()
	eventually(t, 5*time.Second, func() bool { return statsOf(srv, "cached").CacheWaiting == 0 }, "waiter not gone")

	for i := 0; i < 50; i++ {
		switch i % 4 {
		case 0: // a local answer
			if _, body := newClient(t, srv).get("/ping"); body != "pong" {
				t.Fatalf("conn %d: /ping body %q", i, body)
			}
		case 1: // a request body cut short
			c := dial(t, srv)
			_, _ = io.WriteString(c, "POST /echo/x HTTP/1.1\r\nHost: example.com\r\nContent-Length: 100\r\n\r\nshort")
			_ = c.Close()
		case 2: // pipelined
			c := dial(t, srv)
			var b strings.Builder
			for j := 0; j < 3; j++ {
				fmt.Fprintf(&b, "GET /ping HTTP/1.1\r\nHost: example.com\r\n\r\n")
			}
			_, _ = io.WriteString(c, b.String())
			br := bufio.NewReader(c)
			for j := 0; j < 3; j++ {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("conn %d: pipelined response %d: %v", i, j, err)
				}
				if body := readBody(t, resp); body != "pong" {
					t.Fatalf("conn %d: pipelined body %q", i, body)
				}
			}
			_ = c.Close()
		case 3: // proxied
			resp, _ := newClient(t, srv).get(fmt.Sprintf("/echo/%d", i))
			if resp.StatusCode != 200 {
				t.Fatalf("conn %d: proxied status %d", i, resp.StatusCode)
			}
		}
	}

	close(gate) // the leader completes; the departed waiter must not resume anything
	resp, err := http.ReadResponse(bufio.NewReader(leader), nil)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); body != "v1" {
		t.Fatalf("leader body %q", body)
	}
	if _, body := newClient(t, srv).get("/hot"); body != "v1" {
		t.Fatalf("after the flight: /hot body %q, want the stored v1", body)
	}
	if _, body := newClient(t, srv).get("/ping"); body != "pong" {
		t.Fatalf("after the flight: /ping body %q", body)
	}
	_ = leader.Close()
}
