package engine

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotpath/hotpath/config"
)

// policyConfig is a test config with one upstream "app" at addr, the
// top-level YAML top, and routes (YAML list items under routes:).
func policyConfig(t testing.TB, addr, top, routes string) string {
	t.Helper()
	return fmt.Sprintf("%s\nupstreams:\n  - name: app\n    endpoints: [{address: %s}]\nroutes:\n%s", top, addr, routes)
}

// testClock is a wall clock for the cache that tests move forward.
type testClock struct {
	base time.Time
	off  atomic.Int64
}

func newTestClock() *testClock               { return &testClock{base: time.Now()} }
func (c *testClock) Now() time.Time          { return c.base.Add(time.Duration(c.off.Load())) }
func (c *testClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// startServerClock starts a server whose cache runs on clk.
func startServerClock(t testing.TB, cfg *config.Config, clk *testClock) *Server {
	t.Helper()
	srv, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if clk != nil {
		srv.clock = clk.Now
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// rawClient is one keep-alive client connection for raw requests.
type rawClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func newClient(t *testing.T, srv *Server) *rawClient {
	c := dial(t, srv)
	return &rawClient{t: t, c: c, br: bufio.NewReader(c)}
}

// do sends method path with extra header lines ("Name: value") and returns
// the response with its body read.
func (cl *rawClient) do(method, path string, hdrs ...string) (*http.Response, string) {
	cl.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: example.com\r\n", method, path)
	for _, h := range hdrs {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	resp := roundTrip(cl.t, cl.c, cl.br, b.String(), method)
	return resp, readBody(cl.t, resp)
}

func (cl *rawClient) get(path string, hdrs ...string) (*http.Response, string) {
	cl.t.Helper()
	return cl.do("GET", path, hdrs...)
}

func statsOf(srv *Server, route string) RoutePolicyStats {
	for _, s := range srv.PolicyStats() {
		if s.Route == route {
			return s
		}
	}
	return RoutePolicyStats{}
}

func okHandler(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }

func TestRateLimit(t *testing.T) {
	up := newHTTPUpstream(t, okHandler)
	// A burst of 3 and a rate far too slow to refill during the test: the
	// outcome does not depend on timing.
	srv := startServer(t, testConfig(t, policyConfig(t, up.addr, "", `
  - name: api
    path: /*p
    upstream: app
    rate_limit: {rate: 1, per: 1h, burst: 3, key: ["header:X-Api-Key"], policy_name: per-key}
`)))
	cl := newClient(t, srv)
	for i := 0; i < 3; i++ {
		resp, body := cl.get("/x", "X-Api-Key: alice")
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		if got, want := resp.Header.Get("RateLimit-Policy"), `"per-key";q=3;w=10800`; got != want {
			t.Errorf("RateLimit-Policy %q, want %q", got, want)
		}
		if got, want := resp.Header.Get("RateLimit"), fmt.Sprintf(`"per-key";r=%d;`, 2-i); !strings.HasPrefix(got, want) {
			t.Errorf("RateLimit %q, want prefix %q", got, want)
		}
		if resp.Header.Get("Retry-After") != "" {
			t.Error("Retry-After on an allowed response")
		}
	}
	resp, body := cl.get("/x", "X-Api-Key: alice")
	if resp.StatusCode != 429 || body != "429 Too Many Requests\n" {
		t.Fatalf("over the limit: %d %q", resp.StatusCode, body)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "3600" {
		t.Errorf("Retry-After %q, want 3600 (one request per hour)", ra)
	}
	if !strings.HasPrefix(resp.Header.Get("RateLimit"), `"per-key";r=0;t=`) || resp.Header.Get("RateLimit-Policy") == "" {
		t.Errorf("429 RateLimit fields: %v", resp.Header)
	}
	// Another key has its own bucket; a missing key is a key of its own.
	if resp, _ := cl.get("/x", "X-Api-Key: bob"); resp.StatusCode != 200 {
		t.Errorf("bob: %d", resp.StatusCode)
	}
	if resp, _ := cl.get("/x"); resp.StatusCode != 200 {
		t.Errorf("no key: %d", resp.StatusCode)
	}
	if got := up.reqs.Load(); got != 5 {
		t.Errorf("upstream saw %d requests, want 5", got)
	}
	if st := statsOf(srv, "api"); st.RateLimited != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestRateLimitRejectsBodyAndKeepsConnection(t *testing.T) {
	up := newHTTPUpstream(t, okHandler)
	srv := startServer(t, testConfig(t, policyConfig(t, up.addr, "", `
  - path: /*p
    upstream: app
    rate_limit: {rate: 1, per: 1h, burst: 1, key: [route]}
`)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	post := "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
	if resp := roundTrip(t, c, br, post, "POST"); resp.StatusCode != 200 || readBody(t, resp) != "ok" {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	resp := roundTrip(t, c, br, post, "POST")
	if resp.StatusCode != 429 {
		t.Fatalf("second: %d", resp.StatusCode)
	}
	readBody(t, resp)
	// The rejected request's body was discarded, not parsed as a request.
	resp = roundTrip(t, c, br, "GET /p HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
	if resp.StatusCode != 429 {
		t.Fatalf("third: %d", resp.StatusCode)
	}
}

func TestRateLimitShadow(t *testing.T) {
	up := newHTTPUpstream(t, okHandler)
	srv := startServer(t, testConfig(t, policyConfig(t, up.addr, "", `
  - name: shadowed
    path: /*p
    upstream: app
    rate_limit: {rate: 1, per: 1h, burst: 1, shadow: true}
`)))
	cl := newClient(t, srv)
	for i := 0; i < 4; i++ {
		resp, _ := cl.get("/")
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
		if resp.Header.Get("RateLimit") != "" {
			t.Errorf("shadow mode sent RateLimit fields: %v", resp.Header)
		}
	}
	if st := statsOf(srv, "shadowed"); st.ShadowLimited != 3 || st.RateLimited != 0 {
		t.Errorf("stats %+v, want 3 shadow-limited", st)
	}
}

func TestRateLimitClientIPBehindTrustedProxies(t *testing.T) {
	seen := make(chan string, 16)
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("X-Forwarded-For")
		okHandler(w, r)
	})
	route := `
  - path: /*p
    upstream: app
    rate_limit: {rate: 1, per: 1h, burst: 1, key: [client_ip]}
`
	t.Run("trusted peer", func(t *testing.T) {
		srv := startServer(t, testConfig(t, policyConfig(t, up.addr, `trusted_proxies: ["127.0.0.0/8"]`, route)))
		cl := newClient(t, srv)
		for _, tc := range []struct {
			xff  string
			want int
		}{{"192.0.2.1", 200}, {"192.0.2.1", 429}, {"192.0.2.2", 200}, {"192.0.2.9, 192.0.2.2", 429}} {
			if resp, _ := cl.get("/", "X-Forwarded-For: "+tc.xff); resp.StatusCode != tc.want {
				t.Errorf("XFF %s: %d, want %d", tc.xff, resp.StatusCode, tc.want)
			}
		}
		if got := <-seen; got != "192.0.2.1, 127.0.0.1" {
			t.Errorf("upstream X-Forwarded-For %q: a trusted peer's list is appended to", got)
		}
		<-seen
	})
	t.Run("untrusted peer", func(t *testing.T) {
		srv := startServer(t, testConfig(t, policyConfig(t, up.addr, `trusted_proxies: ["10.0.0.0/8"]`, route)))
		cl := newClient(t, srv)
		if resp, _ := cl.get("/", "X-Forwarded-For: 192.0.2.1"); resp.StatusCode != 200 {
			t.Fatalf("first: %d", resp.StatusCode)
		}
		// A forged X-Forwarded-For does not buy a new bucket.
		if resp, _ := cl.get("/", "X-Forwarded-For: 192.0.2.2"); resp.StatusCode != 429 {
			t.Fatalf("second: %d", resp.StatusCode)
		}
		if got := <-seen; got != "127.0.0.1" {
			t.Errorf("upstream X-Forwarded-For %q: an untrusted peer's list must be replaced", got)
		}
	})
}

func TestRateLimitSurvivesReload(t *testing.T) {
	up := newHTTPUpstream(t, okHandler)
	yaml := func(burst int) string {
		return policyConfig(t, up.addr, "", fmt.Sprintf(`
  - name: api
    path: /*p
    upstream: app
    rate_limit: {rate: 1, per: 1h, burst: %d}
`, burst))
	}
	srv := startServer(t, testConfig(t, yaml(2)))
	cl := newClient(t, srv)
	status := func() int { resp, _ := cl.get("/"); return resp.StatusCode }
	for i, want := range []int{200, 200, 429} {
		if got := status(); got != want {
			t.Fatalf("request %d: %d, want %d", i, got, want)
		}
	}
	if err := srv.Reload(testConfig(t, yaml(2))); err != nil {
		t.Fatal(err)
	}
	if got := status(); got != 429 {
		t.Fatalf("after a reload with the same rate_limit: %d, want 429 (buckets kept)", got)
	}
	if st := statsOf(srv, "api"); st.RateLimited != 2 {
		t.Errorf("counters not kept across the reload: %+v", st)
	}
	if err := srv.Reload(testConfig(t, yaml(3))); err != nil {
		t.Fatal(err)
	}
	if got := status(); got != 200 {
		t.Fatalf("after a reload with a new rate_limit: %d, want 200 (new buckets)", got)
	}
}

func TestMaxInFlight(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int64
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/block":
			started.Add(1)
			<-release
			okHandler(w, r)
		case "/reset":
			// Close the connection without a response: 502.
			c, _, _ := w.(http.Hijacker).Hijack()
			_ = c.Close()
		default:
			okHandler(w, r)
		}
	})
	srv := startServer(t, testConfig(t, policyConfig(t, up.addr, "", `
  - name: limited
    path: /*p
    upstream: app
    max_in_flight: 2
`)))
	inFlight := func() int { return statsOf(srv, "limited").InFlight }

	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", srv.Addr())
			if err != nil {
				codes <- 0
				return
			}
			defer c.Close()
			_, _ = io.WriteString(c, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				codes <- 0
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			codes <- resp.StatusCode
		}()
	}
	eventually(t, 5*time.Second, func() bool { return started.Load() == 2 }, "two requests never reached the upstream")
	cl := newClient(t, srv)
	resp, body := cl.get("/fast")
	if resp.StatusCode != 503 || body != "503 Service Unavailable\n" {
		t.Fatalf("third request while full: %d %q", resp.StatusCode, body)
	}
	close(release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("blocked request answered %d", c)
		}
	}
	eventually(t, 5*time.Second, func() bool { return inFlight() == 0 }, "slots not released after completion")
	if resp, _ := cl.get("/fast"); resp.StatusCode != 200 {
		t.Fatalf("after release: %d", resp.StatusCode)
	}

	// Upstream failures release their slot: more failures than slots, and
	// none of them is refused for lack of one.
	for i := 0; i < 5; i++ {
		if resp, _ := cl.get("/reset"); resp.StatusCode != 502 {
			t.Fatalf("reset %d: %d, want 502", i, resp.StatusCode)
		}
	}
	eventually(t, 5*time.Second, func() bool { return inFlight() == 0 }, "slots leaked by upstream failures")

	// Clients that disconnect mid-request release their slot too.
	release2 := make(chan struct{})
	up2 := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		select {
		case <-release2:
		case <-r.Context().Done():
		}
	})
	defer close(release2)
	srv2 := startServer(t, testConfig(t, policyConfig(t, up2.addr, "", `
  - name: limited
    path: /*p
    upstream: app
    max_in_flight: 2
`)))
	started.Store(0)
	for i := 0; i < 4; i++ {
		c := dial(t, srv2)
		_, _ = io.WriteString(c, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
		eventually(t, 5*time.Second, func() bool { return started.Load() == int64(i+1) }, "request did not reach the upstream")
		_ = c.Close()
		eventually(t, 5*time.Second, func() bool { return statsOf(srv2, "limited").InFlight == 0 }, "slot leaked by a client disconnect")
	}
	if st := statsOf(srv, "limited"); st.InFlightFull != 1 {
		t.Errorf("stats %+v", st)
	}
}
