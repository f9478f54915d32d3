package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// versioned is an upstream whose body names how many requests it has
// answered ("v1", "v2", ...), with the Cache-Control the test sets.
type versioned struct {
	n    atomic.Int64
	cc   atomic.Value // string
	fail atomic.Int64 // answer this status instead while non-zero
	gate atomic.Value // chan struct{}: wait on it before answering, if set
}

func newVersioned(t *testing.T, cc string) (*versioned, *httpUpstream) {
	v := &versioned{}
	v.cc.Store(cc)
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if g, _ := v.gate.Load().(chan struct{}); g != nil {
			<-g
		}
		if s := v.fail.Load(); s != 0 {
			w.WriteHeader(int(s))
			_, _ = io.WriteString(w, "upstream error")
			return
		}
		n := v.n.Add(1)
		w.Header()["Date"] = nil // tests move the cache's clock; a real Date would age entries
		if cc := v.cc.Load().(string); cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = fmt.Fprintf(w, "v%d", n)
	})
	return v, up
}

// waitStored waits until route has stored n responses and they are visible
// to lookups. A response reaches the client just before its exchange stores
// it (same loop callback), and ristretto applies sets asynchronously; a
// fresh entry is covered meanwhile (the open flight, then the flights'
// recent list), but a test that moves the clock past it needs it stored.
func waitStored(t *testing.T, srv *Server, route string, n int64) {
	t.Helper()
	eventually(t, 5*time.Second, func() bool { return statsOf(srv, route).CacheStored >= n }, "response not stored")
	if c := srv.sharedCache(); c != nil {
		c.Sync()
	}
}

const cacheRoute = `
  - name: cached
    path: /*p
    upstream: app
    cache: {stale_while_revalidate: 0s, stale_if_error: 0s}
`

func TestCacheHitMissAndHead(t *testing.T) {
	_, up := newVersioned(t, "max-age=60")
	srv := startServer(t, testConfig(t, policyConfig(t, up.addr, "", cacheRoute)))
	cl := newClient(t, srv)

	resp, body := cl.get("/a?x=1")
	if body != "v1" || resp.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("first: %q %v", body, resp.Header)
	}
	resp, body = cl.get("/a?x=1")
	if body != "v1" || resp.Header.Get("X-Cache") != "HIT" || resp.Header.Get("Age") == "" || resp.ContentLength != 2 {
		t.Fatalf("second: %q %v", body, resp.Header)
	}
	if resp.Header.Get("Via") != "1.1 hotpath" || resp.Header.Get("Cache-Control") != "max-age=60" {
		t.Errorf("hit head: %v", resp.Header)
	}
	resp, body = cl.do("HEAD", "/a?x=1")
	if body != "" || resp.Header.Get("X-Cache") != "HIT" || resp.ContentLength != 2 {
		t.Fatalf("HEAD: %q %v", body, resp.Header)
	}
	// Another query string is another resource.
	if _, body := cl.get("/a?x=2"); body != "v2" {
		t.Fatalf("other query: %q", body)
	}
	// HTTP/1.0 clients get hits too, and keep-alive when they ask for it.
	c := dial(t, srv)
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		resp = roundTrip(t, c, br, "GET /a?x=1 HTTP/1.0\r\nHost: example.com\r\nConnection: keep-alive\r\n\r\n", "GET")
		if body := readBody(t, resp); body != "v1" || resp.Header.Get("X-Cache") != "HIT" || resp.Close {
			t.Fatalf("HTTP/1.0 request %d: %q %v close=%v", i, body, resp.Header, resp.Close)
		}
	}
	// Pipelined hits are answered in order.
	_, _ = io.WriteString(c, "GET /a?x=1 HTTP/1.0\r\nHost: example.com\r\nConnection: keep-alive\r\n\r\nGET /a?x=2 HTTP/1.0\r\nHost: example.com\r\n\r\n")
	for _, want := range []string{"v1", "v2"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); body != want {
			t.Fatalf("pipelined: %q, want %q", body, want)
		}
	}
	if got := up.reqs.Load(); got != 2 {
		t.Errorf("upstream saw %d requests, want 2", got)
	}
}

func TestCacheNotStored(t *testing.T) {
	for _, tc := range []struct {
		name string
		cc   string
		hdr  string
	}{
		{"no-store", "no-store", ""},
		{"private", "private, max-age=60", ""},
		{"request no-store", "max-age=60", "Cache-Control: no-store"},
		{"authorization", "max-age=60", "Authorization: Bearer x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, up := newVersioned(t, tc.cc)
			srv := startServer(t, testConfig(t, policyConfig(t, up.addr, "", cacheRoute)))
			cl := newClient(t, srv)
			var hdrs []string
			if tc.hdr != "" {
				hdrs = append(hdrs, tc.hdr)
			}
			for i := 1; i <= 2; i++ {
				if _, body := cl.get("/r", hdrs...); body != "v"+strconv.Itoa(i) {
					t.Fatalf("request %d: %q", i, body)
				}
			}
		})
	}
}

func TestCacheInvalidationAndPurge(t *testing.T) {
	_, up := newVersioned(t, "max-age=60")
	srv := startServer(t, testConfig(t, policyConfig(t, up.addr, "", cacheRoute)))
	cl := newClient(t, srv)
	get := func(path string) string { _, b := cl.get(path); return b }
	for i, want := range []struct{ path, body string }{{"/p/1", "v1"}, {"/p/1", "v1"}, {"/q/1", "v2"}} {
		if got := get(want.path); got != want.body {
			t.Fatalf("fill %d: %q, want %q", i, got, want.body)
		}
	}
	waitStored(t, srv, "cached", 2)
	// RFC 9111 §4.4: a successful unsafe request invalidates its URL.
	if resp, _ := cl.do("POST", "/p/1", "Content-Length: 0"); resp.StatusCode != 200 {
		t.Fatalf("POST %d", resp.StatusCode)
	}
	if got := get("/p/1"); got != "v4" {
		t.Fatalf("after POST: %q, want a fresh fetch", got)
	}
	waitStored(t, srv, "cached", 3)
	if err := srv.PurgeCache("example.com", "/q/"); err != nil {
		t.Fatal(err)
	}
	if got := get("/q/1"); got != "v5" {
		t.Fatalf("after purge: %q", got)
	}
	if got := get("/p/1"); got != "v4" {
		t.Fatalf("purge of /q/ touched /p/: %q", got)
	}
	_ = srv.PurgeCache("EXAMPLE.com", "")
	if got := get("/p/1"); got != "v6" {
		t.Fatalf("after host purge: %q", got)
	}
	_ = srv.PurgeCacheURL("example.com", "/p/1", "")
	if got := get("/p/1"); got != "v7" {
		t.Fatalf("after URL purge: %q", got)
	}
	plain := startServer(t, testConfig(t, proxyTo(up.addr)))
	if err := plain.PurgeCache("x", "/"); err != ErrNoCache {
		t.Errorf("purge without a cache: %v", err)
	}
}

// TestCacheCoalescing sends concurrent misses for one key: one goes
// upstream, the others are parked (not blocking their loops: the test's
// other requests keep being served) and answered from its response.
func TestCacheCoalescing(t *testing.T) {
	v, up := newVersioned(t, "max-age=60")
	gate := make(chan struct{})
	v.gate.Store(gate)
	cfg := testConfig(t, policyConfig(t, up.addr, "cache: {coalesce_wait: 1m}", cacheRoute+`
  - name: ping
    path: /ping
    direct: {body: pong}
`))
	cfg.Timeouts.UpstreamHeader = time.Minute // the gate holds the leader's fetch
	srv := startServerClock(t, cfg, newTestClock())
	const n = 8
	var wg sync.WaitGroup
	bodies := make(chan string, n)
	xcache := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", srv.Addr())
			if err != nil {
				bodies <- err.Error()
				return
			}
			defer c.Close()
			_, _ = io.WriteString(c, "GET /hot HTTP/1.1\r\nHost: example.com\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				bodies <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			bodies <- string(b)
			xcache <- resp.Header.Get("X-Cache")
		}()
	}
	eventually(t, 5*time.Second, func() bool {
		return up.reqs.Load() == 1 && statsOf(srv, "cached").CacheWaiting == n-1
	}, "expected one upstream request and n-1 parked")
	// Parked requests hold no loop: both loops keep answering.
	for i := 0; i < 4; i++ {
		if _, body := newClient(t, srv).get("/ping"); body != "pong" {
			t.Fatalf("loop blocked while requests are parked: %q", body)
		}
	}
	close(gate)
	wg.Wait()
	close(bodies)
	close(xcache)
	for b := range bodies {
		if b != "v1" {
			t.Errorf("body %q, want v1", b)
		}
	}
	var miss, hit int
	for x := range xcache {
		switch x {
		case "MISS":
			miss++
		case "HIT":
			hit++
		}
	}
	if miss != 1 || hit != n-1 {
		t.Errorf("X-Cache: %d MISS, %d HIT", miss, hit)
	}
	if got := up.reqs.Load(); got != 1 {
		t.Errorf("upstream saw %d requests, want 1", got)
	}
	if st := statsOf(srv, "cached"); st.CacheWaiting != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestCacheCoalescedLeaderNotStorable: when the leader's response cannot be
// stored, every waiter goes upstream on its own.
func TestCacheCoalescedLeaderNotStorable(t *testing.T) {
	v, up := newVersioned(t, "private")
	gate := make(chan struct{})
	v.gate.Store(gate)
	cfg := testConfig(t, policyConfig(t, up.addr, "cache: {coalesce_wait: 1m}", cacheRoute))
	cfg.Timeouts.UpstreamHeader = time.Minute
	srv := startServerClock(t, cfg, newTestClock())
	const n = 4
	var wg sync.WaitGroup
	got := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", srv.Addr())
			if err != nil {
				got <- err.Error()
				return
			}
			defer c.Close()
			_, _ = io.WriteString(c, "GET /private HTTP/1.1\r\nHost: example.com\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				got <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			got <- resp.Status + " " + string(b)
		}()
	}
	eventually(t, 5*time.Second, func() bool { return statsOf(srv, "cached").CacheWaiting == n-1 }, "waiters not parked")
	close(gate)
	wg.Wait()
	close(got)
	seen := map[string]bool{}
	for g := range got {
		if !strings.HasPrefix(g, "200 OK v") || seen[g] {
			t.Errorf("response %q (each request must get its own private response)", g)
		}
		seen[g] = true
	}
	if r := up.reqs.Load(); r != n {
		t.Errorf("upstream saw %d requests, want %d", r, n)
	}
}

func TestCacheLargeObjectStreamedNotStored(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if r.URL.Path == "/length" {
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		}
		_, _ = w.Write(big) // /chunked: net/http chunks it
	})
	srv := startServer(t, testConfig(t, policyConfig(t, up.addr, "cache: {max_bytes: 4MiB, max_object_bytes: 64KiB}", cacheRoute)))
	cl := newClient(t, srv)
	for _, path := range []string{"/length", "/chunked"} {
		for i := 0; i < 2; i++ {
			resp, body := cl.get(path)
			if body != string(big) {
				t.Fatalf("%s: got %d bytes, want %d", path, len(body), len(big))
			}
			if x := resp.Header.Get("X-Cache"); x != "MISS" {
				t.Fatalf("%s request %d: X-Cache %s: a body over max_object_bytes must not be stored", path, i, x)
			}
		}
	}
	if got := up.reqs.Load(); got != 4 {
		t.Errorf("upstream saw %d requests, want 4", got)
	}
}

// TestCacheChunkedAndCloseDelimitedStored: responses of unknown length are
// captured too, and re-framed for the client.
func TestCacheChunkedAndCloseDelimitedStored(t *testing.T) {
	var n atomic.Int64
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		for {
			if _, err := readRequestHead(r); err != nil {
				return
			}
			switch n.Add(1) {
			case 1:
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n")
			default:
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nConnection: close\r\n\r\nclosed-body")
				return
			}
		}
	})
	srv := startServer(t, testConfig(t, policyConfig(t, up.addr, "", cacheRoute)))
	cl := newClient(t, srv)
	for _, tc := range []struct{ path, want string }{
		{"/chunked", "abcdef"}, {"/chunked", "abcdef"}, {"/close", "closed-body"}, {"/close", "closed-body"},
	} {
		if _, body := cl.get(tc.path); body != tc.want {
			t.Fatalf("%s: %q, want %q", tc.path, body, tc.want)
		}
	}
	if got := n.Load(); got != 2 {
		t.Errorf("upstream answered %d requests, want 2", got)
	}
}

func TestCacheStaleWhileRevalidate(t *testing.T) {
	clk := newTestClock()
	v, up := newVersioned(t, "max-age=10")
	srv := startServerClock(t, testConfig(t, policyConfig(t, up.addr, "", `
  - name: cached
    path: /*p
    upstream: app
    cache: {stale_while_revalidate: 30s, stale_if_error: 0s}
`)), clk)
	cl := newClient(t, srv)
	if _, body := cl.get("/swr"); body != "v1" {
		t.Fatalf("fill: %q", body)
	}
	waitStored(t, srv, "cached", 1)
	clk.Advance(15 * time.Second) // stale, inside stale-while-revalidate
	gate := make(chan struct{})
	v.gate.Store(gate)
	// While the refresh is held at the upstream, stale responses keep
	// coming at once: nobody waits for it.
	for i := 0; i < 4; i++ {
		resp, body := cl.get("/swr")
		if body != "v1" || resp.Header.Get("X-Cache") != "STALE" {
			t.Fatalf("stale request %d: %q %v", i, body, resp.Header)
		}
	}
	eventually(t, 5*time.Second, func() bool { return up.reqs.Load() == 2 }, "no background refresh")
	v.gate.Store((chan struct{})(nil))
	close(gate)
	eventually(t, 5*time.Second, func() bool {
		resp, body := cl.get("/swr")
		return body == "v2" && resp.Header.Get("X-Cache") == "HIT"
	}, "refreshed entry never served")
	if got := up.reqs.Load(); got != 2 {
		t.Errorf("upstream saw %d requests, want 2 (exactly one refresh)", got)
	}
	if st := statsOf(srv, "cached"); st.Refreshes != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestCacheStaleIfError(t *testing.T) {
	clk := newTestClock()
	v, up := newVersioned(t, "max-age=10")
	srv := startServerClock(t, testConfig(t, policyConfig(t, up.addr, "", `
  - name: cached
    path: /*p
    upstream: app
    cache: {stale_while_revalidate: 0s, stale_if_error: 60s}
`)), clk)
	cl := newClient(t, srv)
	if _, body := cl.get("/sie"); body != "v1" {
		t.Fatalf("fill: %q", body)
	}
	waitStored(t, srv, "cached", 1)
	clk.Advance(20 * time.Second)
	v.fail.Store(503)
	for i := 0; i < 2; i++ {
		resp, body := cl.get("/sie")
		if resp.StatusCode != 200 || body != "v1" || resp.Header.Get("X-Cache") != "STALE" {
			t.Fatalf("5xx upstream, request %d: %d %q %v", i, resp.StatusCode, body, resp.Header)
		}
	}
	// Past stale-if-error the error goes through.
	clk.Advance(60 * time.Second)
	if resp, body := cl.get("/sie"); resp.StatusCode != 503 || body != "upstream error" {
		t.Fatalf("past stale-if-error: %d %q", resp.StatusCode, body)
	}
	if st := statsOf(srv, "cached"); st.StaleOnError != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestCacheStaleIfErrorUpstreamDown(t *testing.T) {
	clk := newTestClock()
	var fail atomic.Bool
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		for {
			if _, err := readRequestHead(r); err != nil {
				return
			}
			if fail.Load() {
				return // close without a response: 502
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nCache-Control: max-age=10\r\nContent-Length: 4\r\n\r\ngood")
		}
	})
	srv := startServerClock(t, testConfig(t, policyConfig(t, up.addr, "", `
  - name: cached
    path: /*p
    upstream: app
    cache: {stale_while_revalidate: 0s, stale_if_error: 60s}
`)), clk)
	cl := newClient(t, srv)
	if _, body := cl.get("/down"); body != "good" {
		t.Fatalf("fill: %q", body)
	}
	waitStored(t, srv, "cached", 1)
	clk.Advance(30 * time.Second)
	fail.Store(true)
	resp, body := cl.get("/down")
	if resp.StatusCode != 200 || body != "good" || resp.Header.Get("X-Cache") != "STALE" {
		t.Fatalf("upstream down: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, _ := cl.get("/other"); resp.StatusCode != 502 {
		t.Fatalf("uncached resource: %d, want 502", resp.StatusCode)
	}
}

// TestCacheWaitBounded: a parked request whose coalesce_wait ends goes
// upstream on its own while the leader is still stuck; a parked client
// that disconnects is forgotten. The cache's clock is frozen, so the
// leader's flight never becomes overdue (which would make a newcomer the
// new leader instead of parking it); the parked request's own deadline runs
// on the loop clock.
func TestCacheWaitBounded(t *testing.T) {
	stuck := make(chan struct{})
	var n atomic.Int64
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if n.Add(1) == 1 {
			<-stuck // the leader's fetch hangs
		}
		_, _ = io.WriteString(w, "body")
	})
	defer close(stuck)
	start := func(wait string) *Server {
		cfg := testConfig(t, policyConfig(t, up.addr, "cache: {coalesce_wait: "+wait+"}", cacheRoute))
		cfg.Timeouts.UpstreamHeader = time.Minute
		srv := startServerClock(t, cfg, newTestClock())
		leader := dial(t, srv)
		_, _ = io.WriteString(leader, "GET /slow HTTP/1.1\r\nHost: example.com\r\n\r\n")
		eventually(t, 5*time.Second, func() bool { return n.Load() == 1 }, "leader did not reach the upstream")
		return srv
	}

	srv := start("1m")
	gone := dial(t, srv)
	_, _ = io.WriteString(gone, "GET /slow HTTP/1.1\r\nHost: example.com\r\n\r\n")
	eventually(t, 5*time.Second, func() bool { return statsOf(srv, "cached").CacheWaiting == 1 }, "not parked")
	_ = gone.Close()
	eventually(t, 5*time.Second, func() bool { return statsOf(srv, "cached").CacheWaiting == 0 }, "a closed client stays parked")

	n.Store(0)
	srv = start("200ms")
	resp, body := newClient(t, srv).get("/slow")
	if resp.StatusCode != 200 || body != "body" || resp.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("after coalesce_wait: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if got := n.Load(); got != 2 {
		t.Errorf("upstream saw %d requests, want 2", got)
	}
	if st := statsOf(srv, "cached"); st.CacheWaiting != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A client revalidating its copy of a cached response gets 304 Not
// Modified from the cache, without the body and without going upstream.
func TestCacheAnswersConditionalRequests(t *testing.T) {
	lm := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", lm)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "the body")
	})
	srv := startServer(t, testConfig(t, policyConfig(t, up.addr, "", cacheRoute)))
	cl := newClient(t, srv)
	if resp, body := cl.get("/doc"); body != "the body" || resp.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("fill: %q %v", body, resp.Header)
	}
	waitStored(t, srv, "cached", 1)
	for _, tc := range []struct {
		name   string
		method string
		hdrs   []string
		status int
		body   string
	}{
		{"etag matches", "GET", []string{`If-None-Match: "v1"`}, 304, ""},
		{"weak etag in a list", "GET", []string{`If-None-Match: "x", W/"v1"`}, 304, ""},
		{"etag differs", "GET", []string{`If-None-Match: "v0"`}, 200, "the body"},
		{"etag differs, date matches", "GET", []string{`If-None-Match: "v0"`, "If-Modified-Since: " + lm}, 200, "the body"},
		{"not modified since", "GET", []string{"If-Modified-Since: " + lm}, 304, ""},
		{"modified since", "GET", []string{"If-Modified-Since: " + time.Now().Add(-2*time.Hour).UTC().Format(http.TimeFormat)}, 200, "the body"},
		{"HEAD", "HEAD", []string{`If-None-Match: "v1"`}, 304, ""},
		{"no validators", "GET", nil, 200, "the body"},
	} {
		resp, body := cl.do(tc.method, "/doc", tc.hdrs...)
		if resp.StatusCode != tc.status || body != tc.body || resp.Header.Get("X-Cache") != "HIT" {
			t.Fatalf("%s: %d %q X-Cache %q, want %d %q HIT", tc.name, resp.StatusCode, body, resp.Header.Get("X-Cache"), tc.status, tc.body)
		}
		if tc.status == 304 && (resp.Header.Get("ETag") != `"v1"` || resp.Header.Get("Content-Type") != "") {
			t.Errorf("%s: 304 fields %v", tc.name, resp.Header)
		}
	}
	if n := up.reqs.Load(); n != 1 {
		t.Errorf("upstream saw %d requests, want 1", n)
	}
}

// A background refresh is conditional on the stored validators: an
// upstream answering 304 freshens the stored response, body kept.
func TestCacheRefreshRevalidates(t *testing.T) {
	clk := newTestClock()
	var full, notMod, conditional atomic.Int64
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil // the test moves the cache's clock
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") != "" {
			conditional.Add(1)
		}
		if r.Header.Get("If-None-Match") == `"v1"` {
			notMod.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "original body")
	})
	srv := startServerClock(t, testConfig(t, policyConfig(t, up.addr, "", `
  - name: cached
    path: /*p
    upstream: app
    cache: {stale_while_revalidate: 30s, stale_if_error: 0s}
`)), clk)
	cl := newClient(t, srv)
	if resp, body := cl.get("/r"); body != "original body" || resp.StatusCode != 200 {
		t.Fatalf("fill: %d %q", resp.StatusCode, body)
	}
	waitStored(t, srv, "cached", 1)
	clk.Advance(15 * time.Second) // stale, inside stale-while-revalidate
	// The client's own validator must not reach the upstream: the refresh
	// asks with the stored one.
	if resp, body := cl.get("/r", `If-None-Match: "other"`); body != "original body" || resp.Header.Get("X-Cache") != "STALE" {
		t.Fatalf("stale: %q %v", body, resp.Header)
	}
	eventually(t, 5*time.Second, func() bool { return statsOf(srv, "cached").Revalidated == 1 }, "no revalidation")
	waitStored(t, srv, "cached", 2)
	clk.Advance(5 * time.Second) // 20 s after the fill: fresh only through the 304
	resp, body := cl.get("/r")
	if body != "original body" || resp.Header.Get("X-Cache") != "HIT" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("after the 304: %q %v", body, resp.Header)
	}
	if full.Load() != 1 || notMod.Load() != 1 || conditional.Load() != 1 {
		t.Errorf("upstream: %d full, %d conditional, %d not modified; want 1, 1, 1", full.Load(), conditional.Load(), notMod.Load())
	}
}

// A cache miss whose client sends validators or a Range still fills the
// cache: the leader's upstream request carries neither, so the upstream
// answers the whole 200.
func TestCacheLeaderDropsConditionalAndRange(t *testing.T) {
	var sawConditional atomic.Int64
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" || r.Header.Get("Range") != "" {
			sawConditional.Add(1)
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader("0123456789"))
	})
	srv := startServer(t, testConfig(t, policyConfig(t, up.addr, "", cacheRoute)))
	cl := newClient(t, srv)
	for i, tc := range []struct {
		path, hdr string
	}{
		{"/etag", `If-None-Match: "v1"`},
		{"/range", "Range: bytes=2-4"},
	} {
		resp, body := cl.get(tc.path, tc.hdr)
		if resp.StatusCode != 200 || body != "0123456789" || resp.Header.Get("X-Cache") != "MISS" {
			t.Fatalf("%d: miss with %q: %d %q %v", i, tc.hdr, resp.StatusCode, body, resp.Header)
		}
		waitStored(t, srv, "cached", int64(i+1))
		if resp, body := cl.get(tc.path); body != "0123456789" || resp.Header.Get("X-Cache") != "HIT" {
			t.Fatalf("%d: then %q %v, want a HIT", i, body, resp.Header)
		}
	}
	if n := sawConditional.Load(); n != 0 {
		t.Errorf("the upstream saw %d conditional or Range requests", n)
	}
	if n := up.reqs.Load(); n != 2 {
		t.Errorf("upstream saw %d requests, want 2", n)
	}
}

// A Range on a hit is served from the stored body: 206 with the part, 416
// past the end, the whole response when If-Range does not match.
func TestCacheServesRanges(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"v1"`)
		_, _ = io.WriteString(w, "0123456789")
	})
	srv := startServer(t, testConfig(t, policyConfig(t, up.addr, "", cacheRoute)))
	cl := newClient(t, srv)
	if _, body := cl.get("/r"); body != "0123456789" {
		t.Fatalf("fill: %q", body)
	}
	waitStored(t, srv, "cached", 1)
	for _, tc := range []struct {
		name   string
		method string
		hdrs   []string
		status int
		body   string
		crange string
	}{
		{"part", "GET", []string{"Range: bytes=2-4"}, 206, "234", "bytes 2-4/10"},
		{"suffix", "GET", []string{"Range: bytes=-2"}, 206, "89", "bytes 8-9/10"},
		{"if-range matches", "GET", []string{"Range: bytes=0-0", `If-Range: "v1"`}, 206, "0", "bytes 0-0/10"},
		{"if-range differs", "GET", []string{"Range: bytes=0-0", `If-Range: "v0"`}, 200, "0123456789", ""},
		{"past the end", "GET", []string{"Range: bytes=10-"}, 416, "", "bytes */10"},
		{"several", "GET", []string{"Range: bytes=0-0,2-2"}, 200, "0123456789", ""},
		{"HEAD", "HEAD", []string{"Range: bytes=2-4"}, 200, "", ""},
		{"validator wins", "GET", []string{"Range: bytes=2-4", `If-None-Match: "v1"`}, 304, "", ""},
	} {
		resp, body := cl.do(tc.method, "/r", tc.hdrs...)
		if resp.StatusCode != tc.status || body != tc.body || resp.Header.Get("Content-Range") != tc.crange ||
			resp.Header.Get("X-Cache") != "HIT" {
			t.Fatalf("%s: %d %q Content-Range %q X-Cache %q; want %d %q %q HIT", tc.name, resp.StatusCode, body,
				resp.Header.Get("Content-Range"), resp.Header.Get("X-Cache"), tc.status, tc.body, tc.crange)
		}
	}
	if n := up.reqs.Load(); n != 1 {
		t.Errorf("upstream saw %d requests, want 1", n)
	}
}
