package engine

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// gateVariants are routes with the gate on, for the allocation test and
// the benchmark: a cached JWT, an API key, a cached Basic credential
// (verified once by the worker pool), header edits with request IDs.
func gateVariants(tb testing.TB) []struct{ name, route, hdr string } {
	tok := hs256(tb, testSecret, jwt.MapClaims{"sub": "alice", "scope": "read", "exp": time.Now().Add(time.Hour).Unix()})
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	htpasswd := filepath.Join(tb.TempDir(), "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("alice:"+string(hash)+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	return []struct{ name, route, hdr string }{
		{"none", "", ""},
		{"jwt", fmt.Sprintf(`
    auth:
      jwt:
        keys: [{alg: HS256, secret: %q}]
        claims_to_headers: {sub: X-User-Id}
        required_claims: {scope: read}`, testSecret), "Authorization: Bearer " + tok + "\r\n"},
		{"api_key", `
    auth:
      api_key: {name_header: X-Consumer, keys: [{name: a, key: key-a}]}`, "X-Api-Key: key-a\r\n"},
		{"basic", fmt.Sprintf(`
    auth:
      basic: {htpasswd_file: %s, user_header: X-User}`, htpasswd), "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret")) + "\r\n"},
		{"headers", `
    request_id: true
    headers:
      request: {set: {X-Env: prod, X-Client: "${client_ip}"}, remove: [Accept]}
      response: {set: {Server: hotpath}, remove: [Content-Type]}`, ""},
	}
}

func gateBenchServer(tb testing.TB, route string) net.Conn {
	up := allocFreeUpstream(tb)
	cfg := testConfig(tb, proxyTo(up)+route)
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

// proxyLoopWith is proxyLoop with extra request header lines.
func proxyLoopWith(tb testing.TB, c net.Conn, n int, extra string) {
	req := []byte("GET /bench HTTP/1.1\r\nHost: bench\r\nUser-Agent: hotpath-bench\r\nAccept: */*\r\n" + extra + "\r\n")
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
				if !bytes.HasPrefix(buf[:got], []byte("HTTP/1.1 200")) && got > 12 {
					tb.Fatalf("request %d: %q", i, buf[:got])
				}
				if j := bytes.Index(buf[:got], []byte("\r\n\r\nhello")); j >= 0 {
					want = j + 9
				}
			}
		}
	}
}

// TestProxyAllocationsGate checks that a request through a route with the
// gate on (a JWT or Basic credential answered from the loop's cache, an
// API key, header edits with a generated request ID) allocates nothing in
// steady state.
func TestProxyAllocationsGate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, v := range gateVariants(t)[1:] {
		t.Run(v.name, func(t *testing.T) {
			c := gateBenchServer(t, v.route)
			if v.name != "headers" {
				// The route really checks: no credential, no proxying.
				_, _ = c.Write([]byte("GET /bench HTTP/1.1\r\nHost: bench\r\n\r\n"))
				buf := make([]byte, 512)
				n, _ := c.Read(buf)
				if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 401")) {
					t.Fatalf("without a credential: %q", buf[:n])
				}
			}
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

// BenchmarkProxyGate measures a proxied keep-alive request through a
// route without the gate, with a (cached) JWT, an API key, a (cached)
// Basic credential, and header edits with request IDs.
func BenchmarkProxyGate(b *testing.B) {
	for _, v := range gateVariants(b) {
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
