package engine

import (
	"bytes"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

const benchResponse = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"

// allocFreeUpstream answers every keep-alive request with benchResponse
// without allocating per request, so that malloc counts measure the gateway.
func allocFreeUpstream(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	conns := make(chan net.Conn, 64)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				resp := []byte(benchResponse)
				have := 0
				for {
					n, err := c.Read(buf[have:])
					if err != nil {
						return
					}
					have += n
					for {
						i := bytes.Index(buf[:have], []byte("\r\n\r\n"))
						if i < 0 {
							break
						}
						if _, err := c.Write(resp); err != nil {
							return
						}
						copy(buf, buf[i+4:have])
						have -= i + 4
					}
				}
			}()
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		<-done
		close(conns)
		for c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// proxyLoop sends n keep-alive requests through the gateway on one
// connection and reads every response; it allocates nothing per request.
func proxyLoop(tb testing.TB, c net.Conn, n int) {
	req := []byte("GET /bench HTTP/1.1\r\nHost: bench\r\nUser-Agent: hotpath-bench\r\nAccept: */*\r\n\r\n")
	buf := make([]byte, 4096)
	var want int
	for i := 0; i < n; i++ {
		if _, err := c.Write(req); err != nil {
			tb.Fatal(err)
		}
		got := 0
		for want == 0 || got < want {
			m, err := c.Read(buf[got:])
			if err != nil {
				tb.Fatalf("request %d: %v", i, err)
			}
			got += m
			if want == 0 {
				if j := bytes.Index(buf[:got], []byte("\r\n\r\nhello")); j >= 0 {
					want = j + 9 // the gateway's response has a fixed length
				}
			}
		}
	}
}

func benchServer(tb testing.TB) net.Conn {
	up := allocFreeUpstream(tb)
	cfg := testConfig(tb, proxyTo(up))
	cfg.Workers = 1
	cfg.Timeouts.ClientIdle = time.Minute
	srv := startServer(tb, cfg)
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// mallocsPerRequest runs n proxied requests and returns runtime mallocs per
// request (the whole process: client, gateway and upstream, the first two
// allocation-free).
func mallocsPerRequest(tb testing.TB, c net.Conn, n int) float64 {
	proxyLoop(tb, c, 1000) // warm up: pools, buffers, idle stacks
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	proxyLoop(tb, c, n)
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n)
}

// BenchmarkProxyKeepAlive measures one proxied keep-alive request end to
// end on 127.0.0.1 (client → gateway → upstream → back), with mallocs per
// request over the whole run.
func BenchmarkProxyKeepAlive(b *testing.B) {
	c := benchServer(b)
	proxyLoop(b, c, 1000)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	proxyLoop(b, c, b.N)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "mallocs/req")
}

// TestProxyAllocations checks that a steady-state proxied request allocates
// nothing (on average, over many requests). HOTPATH_ALLOC_REQUESTS raises
// the count (the benchmark report uses 100000).
func TestProxyAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	n := 20000
	if s := os.Getenv("HOTPATH_ALLOC_REQUESTS"); s != "" {
		n = atoiOr(s, n)
	}
	c := benchServer(t)
	got := mallocsPerRequest(t, c, n)
	t.Logf("%.4f mallocs per proxied request over %d requests", got, n)
	if got > 0.05 {
		t.Errorf("%.3f mallocs per proxied request, want < 0.05", got)
	}
}

func atoiOr(s string, def int) int {
	n := 0
	for _, c := range strings.TrimSpace(s) {
		if c < '0' || c > '9' {
			return def
		}
		n = n*10 + int(c-'0')
	}
	return n
}
