package engine

import (
	"net"
	"testing"
	"time"

	"github.com/hotpath/hotpath/h2"
)

// allocFreeH2Upstream is an h2c upstream that allocates nothing per
// request: package h2's ServerConn over a net.Conn, answering every
// request 200 "hello" (Content-Length 5).
func allocFreeH2Upstream(tb testing.TB) string {
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
			go serveH2Hello(c)
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

func serveH2Hello(c net.Conn) {
	defer c.Close()
	sc := h2.NewServerConn(h2.Limits{MaxConcurrentStreams: 1000}, 1)
	buf := make([]byte, 256<<10)
	hello := []byte("hello")
	have := 0
	now := int64(1)
	for {
		if out := sc.Output(); len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
			sc.ClearOutput()
		}
		n, err := c.Read(buf[have:])
		if err != nil {
			return
		}
		have += n
		now++
		off := 0
		for {
			m, ev := sc.Feed(buf[off:have], now)
			off += m
			if ev.Kind == h2.EventNone {
				break
			}
			switch ev.Kind {
			case h2.EventRequest:
				if !ev.EndStream {
					continue // bodies are not part of this upstream's job
				}
				_ = sc.StartHeaders(ev.Stream, 200)
				sc.FieldString("content-length", "5")
				_ = sc.EndHeaders(false)
				_, _ = sc.WriteData(ev.Stream, hello, true, now)
			case h2.EventData:
				sc.Consumed(ev.Stream, len(ev.Data))
			case h2.EventClose:
				_, _ = c.Write(sc.Output())
				return
			}
		}
		have = copy(buf, buf[off:have])
	}
}

func h2BenchServer(tb testing.TB) net.Conn {
	up := allocFreeH2Upstream(tb)
	cfg := testConfig(tb, h2cProxyTo(up))
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

// TestH2UpstreamAllocations: a steady-state HTTP/1.1 request through an
// h2c upstream allocates nothing (on average over many requests; the
// process's mallocs, client and upstream included, both allocation-free).
func TestH2UpstreamAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c := h2BenchServer(t)
	const n = 20000
	got := mallocsPerRequest(t, c, n)
	t.Logf("%.4f mallocs per request through an h2c upstream over %d requests", got, n)
	if got > 0.05 {
		t.Errorf("%.3f mallocs per request through an h2c upstream, want < 0.05", got)
	}
}

// BenchmarkProxyH2Upstream is BenchmarkProxyKeepAlive with an h2c
// upstream.
func BenchmarkProxyH2Upstream(b *testing.B) {
	c := h2BenchServer(b)
	proxyLoop(b, c, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	proxyLoop(b, c, b.N)
}
