package engine

import (
	"runtime"
	"testing"
)

// edgeVariants are routes with edge protection on, for the allocation
// test and the benchmark: CORS with an allowed origin (exact and
// wildcard), a top-level and a route ip_filter with max_body, and all of
// them.
func edgeVariants() []struct{ name, route, hdr string } {
	const cors = `
    cors: {allow_origins: ["https://app.test", "https://*.example.net"], expose_headers: [X-Total], allow_credentials: true}`
	const filter = `
    ip_filter: {deny: ["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"]}
    max_body_bytes: 1MiB
ip_filter: {deny: ["203.0.113.0/24"]}`
	return []struct{ name, route, hdr string }{
		{"none", "", ""},
		{"cors", cors, "Origin: https://app.test\r\n"},
		{"cors-wildcard", cors, "Origin: https://x.example.net\r\n"},
		{"ip_filter", filter, ""},
		{"all", cors + filter, "Origin: https://x.example.net\r\n"},
	}
}

// TestProxyAllocationsEdge checks that a request through a route with
// edge protection on allocates nothing in steady state.
func TestProxyAllocationsEdge(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, v := range edgeVariants()[1:] {
		t.Run(v.name, func(t *testing.T) {
			c := gateBenchServer(t, v.route)
			proxyLoopWith(t, c, 1000, v.hdr)
			const n = 20000
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			proxyLoopWith(t, c, n, v.hdr)
			runtime.ReadMemStats(&after)
			got := float64(after.Mallocs-before.Mallocs) / n
			t.Logf("%.4f mallocs per request", got)
			if got > 0.05 {
				t.Errorf("%.3f mallocs per request, want < 0.05", got)
			}
		})
	}
}

// BenchmarkProxyEdge measures a proxied keep-alive request end to end
// without edge protection, with CORS, with ip_filter lists and max_body,
// and with all of them.
func BenchmarkProxyEdge(b *testing.B) {
	for _, v := range edgeVariants() {
		b.Run(v.name, func(b *testing.B) {
			c := gateBenchServer(b, v.route)
			proxyLoopWith(b, c, 1000, v.hdr)
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			proxyLoopWith(b, c, b.N, v.hdr)
			b.StopTimer()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "mallocs/req")
		})
	}
}
