package engine

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// TestEveryListenerServes proxies through each of two listeners, over
// several connections each so that every event loop accepts on both.
func TestEveryListenerServes(t *testing.T) {
	up := newHTTPUpstream(t, echoHandler)
	cfg := testConfig(t, proxyTo(up.addr))
	// One worker count (the top-level workers) for the loops that serve
	// both.
	cfg.Listeners = append(cfg.Listeners, cfg.Listeners[0])
	srv := startServer(t, cfg)
	if srv.loops != cfg.Workers {
		t.Fatalf("loops = %d, want %d from workers", srv.loops, cfg.Workers)
	}
	addrs := srv.Addrs()
	if len(addrs) != 2 || addrs[0] == addrs[1] {
		t.Fatalf("Addrs() = %v, want two distinct addresses", addrs)
	}
	for _, a := range addrs {
		for i := 0; i < 4; i++ {
			c, err := net.DialTimeout("tcp", a, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			resp := roundTrip(t, c, bufio.NewReader(c), "GET /x HTTP/1.1\r\nHost: h\r\n\r\n", "GET")
			body := readBody(t, resp)
			if resp.StatusCode != 200 || resp.Header.Get("X-Seen-Path") != "/x" {
				t.Fatalf("%s: status %d %q", a, resp.StatusCode, body)
			}
			_ = c.Close()
		}
	}
}
