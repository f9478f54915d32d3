package engine

import (
	"bufio"
	"os"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

// TestEpollFDLayout pins the gnet v2.10.0 internals that pause-read relies
// on (conn.loop.poller.fd and eventloop.listeners): if a gnet upgrade moves
// them, this fails instead of the engine silently losing backpressure.
func TestEpollFDLayout(t *testing.T) {
	up := newHTTPUpstream(t, echoHandler)
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	readBody(t, roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET"))
	var lp *loop
	eventually(t, 2*time.Second, func() bool {
		srv.loopsMap.Range(func(_, v any) bool { lp = v.(*loop); return false })
		return lp != nil
	}, "no loop registered")
	if lp.epfd < 0 {
		t.Fatal("epoll descriptor not found: gnet's internal layout changed; update pause.go")
	}
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(lp.epfd))
	if err != nil || link != "anon_inode:[eventpoll]" {
		t.Fatalf("fd %d is %q (%v), want an epoll instance", lp.epfd, link, err)
	}
	if len(lp.lnfd) == 0 {
		t.Fatal("listener descriptors not found: gnet's internal layout changed; update pause.go")
	}
}

// TestIdleConnectionSmall: an idle keep-alive connection holds its h1conn
// and nothing of an exchange (doc.go; issue 11's goal was at most 1 KB of
// RSS per idle connection, gnet's share included).
func TestIdleConnectionSmall(t *testing.T) {
	if n := unsafe.Sizeof(h1conn{}); n > 160 {
		t.Errorf("h1conn is %d bytes; an idle connection should stay near 128", n)
	}
}
