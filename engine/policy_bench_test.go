package engine

import (
	"bytes"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// Cache hits end to end: client → gateway (answered from the cache on the
// loop) → client, on one keep-alive connection. allocFreeUpstream answers
// the single miss; its response has no Cache-Control, so the route's
// default_ttl (60s) keeps it fresh for the whole run.

var hitPolicies = []struct {
	name, route, req string
}{
	{"cache", `
  - path: /*p
    upstream: app
    cache: {}
`, "GET /bench HTTP/1.1\r\nHost: bench\r\nUser-Agent: hotpath-bench\r\nAccept: */*\r\n\r\n"},
	// Every policy on the route: rate limit (keyed on the client address)
	// and in-flight limit before the lookup, a compressing route (the
	// client's gzip variant, fields added on the hit).
	{"all_policies", `
  - path: /*p
    upstream: app
    rate_limit: {rate: 1000000000, burst: 1000000, key: [client_ip, "header:User-Agent"]}
    max_in_flight: 1000
    cache: {}
    compression: {}
`, "GET /bench HTTP/1.1\r\nHost: bench\r\nUser-Agent: hotpath-bench\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n"},
}

func cacheBenchConn(tb testing.TB, route string) net.Conn {
	up := allocFreeUpstream(tb)
	cfg := testConfig(tb, policyConfig(tb, up, "", route))
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

// hitLoop sends n requests on c and reads each response; it allocates
// nothing per request. A response ends with the body "hello" (the Age
// field's width may change during a run, so lengths are not assumed).
func hitLoop(tb testing.TB, c net.Conn, req []byte, n int) {
	buf := make([]byte, 4096)
	end := []byte("\r\n\r\nhello")
	for i := 0; i < n; i++ {
		if _, err := c.Write(req); err != nil {
			tb.Fatal(err)
		}
		got := 0
		for !bytes.HasSuffix(buf[:got], end) {
			m, err := c.Read(buf[got:])
			if err != nil {
				tb.Fatalf("request %d: %v", i, err)
			}
			got += m
		}
		if i == 0 && n > 1 && !bytes.Contains(buf[:got], []byte("X-Cache: HIT")) {
			tb.Fatalf("not a cache hit:\n%s", buf[:got])
		}
	}
}

// TestCacheHitAllocations checks that a steady-state cache hit allocates
// nothing in the gateway. Ristretto records accesses in 64-slot batches and
// allocates a new batch once per 64 lookups (cache.TestHitDoesNotAllocate),
// so the average is about 1/64 per hit, not 0; the bound leaves room for
// that and nothing else. HOTPATH_ALLOC_REQUESTS raises the count.
func TestCacheHitAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	n := 20000
	if s := os.Getenv("HOTPATH_ALLOC_REQUESTS"); s != "" {
		n = atoiOr(s, n)
	}
	for _, tc := range hitPolicies {
		t.Run(tc.name, func(t *testing.T) {
			c := cacheBenchConn(t, tc.route)
			req := []byte(tc.req)
			hitLoop(t, c, req, 1)    // the miss that fills the cache
			hitLoop(t, c, req, 2000) // warm up
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			hitLoop(t, c, req, n)
			runtime.ReadMemStats(&after)
			got := float64(after.Mallocs-before.Mallocs) / float64(n)
			t.Logf("%.4f mallocs per cache hit over %d requests", got, n)
			if got > 0.05 {
				t.Errorf("%.3f mallocs per cache hit, want < 0.05 (ristretto's batches: ~0.016)", got)
			}
		})
	}
}

// BenchmarkCacheHit measures a cache hit end to end on 127.0.0.1 (compare
// BenchmarkProxyKeepAlive, the same request proxied), with mallocs per
// request over the whole run.
func BenchmarkCacheHit(b *testing.B) {
	for _, tc := range hitPolicies {
		b.Run(tc.name, func(b *testing.B) {
			c := cacheBenchConn(b, tc.route)
			req := []byte(tc.req)
			hitLoop(b, c, req, 1)
			hitLoop(b, c, req, 1000)
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			hitLoop(b, c, req, b.N)
			b.StopTimer()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "mallocs/req")
		})
	}
}
