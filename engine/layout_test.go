package engine

import (
	"bufio"
	"os"
	"strconv"
	"testing"
	"time"
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
