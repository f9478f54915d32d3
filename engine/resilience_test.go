package engine

import (
	"bufio"
	"context"
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

	"github.com/hotpath/hotpath/internal/testsupport"
	"github.com/hotpath/hotpath/trie"
)

// killableUpstream is a net/http upstream that can be killed as kill -9
// would (listener and every connection closed at once, requests in flight
// cut off) and started again on the same address.
type killableUpstream struct {
	t    *testing.T
	addr string
	name string
	reqs atomic.Int64

	mu  sync.Mutex
	srv *http.Server
}

func newKillableUpstream(t *testing.T, name string) *killableUpstream {
	k := &killableUpstream{t: t, name: name}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k.addr = ln.Addr().String()
	k.serve(ln)
	t.Cleanup(k.kill)
	return k
}

func (k *killableUpstream) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.reqs.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, k.name)
	})}
	k.mu.Lock()
	k.srv = srv
	k.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// kill closes the listener and every connection at once.
func (k *killableUpstream) kill() {
	k.mu.Lock()
	srv := k.srv
	k.srv = nil
	k.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// restart listens on the same address again.
func (k *killableUpstream) restart() {
	var ln net.Listener
	var err error
	for range 100 { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", k.addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		k.t.Fatal(err)
	}
	k.serve(ln)
}

// loadResult counts what clients saw.
type loadResult struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
}

// steadyLoad runs n keep-alive clients sending GETs until stop is closed.
func steadyLoad(t *testing.T, srv *Server, n int, stop <-chan struct{}) (*loadResult, func()) {
	res := &loadResult{}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := cl.Get("http://" + srv.Addr() + "/x")
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					res.failed.Add(1)
					res.firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				res.ok.Add(1)
			}
		}()
	}
	return res, wg.Wait
}

// waitOK waits until the load has completed n more requests.
func (r *loadResult) waitOK(t *testing.T, n int64) {
	t.Helper()
	target := r.ok.Load() + n
	eventually(t, 20*time.Second, func() bool { return r.ok.Load() >= target }, "load stalled")
}

// TestKillOneEndpointNoErrors (issue 15's goal): with the default config,
// killing one of two endpoints under GET load, and starting it again,
// costs the clients nothing: requests cut off in flight and connects
// refused are retried on the other endpoint, the dead one is ejected, and
// it takes traffic again once it is back.
func TestKillOneEndpointNoErrors(t *testing.T) {
	a, b := newKillableUpstream(t, "a"), newKillableUpstream(t, "b")
	var logs syncBuffer
	srv, err := New(testConfig(t, fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}, {address: %s}]
    health: {passive: {base_ejection: 200ms}}
routes:
  - {path: /*rest, upstream: app}
`, a.addr, b.addr)), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	stop := make(chan struct{})
	res, wait := steadyLoad(t, srv, 8, stop)
	defer func() {
		close(stop)
		wait()
	}()

	res.waitOK(t, 300)
	b.kill()
	res.waitOK(t, 600)
	if n := res.failed.Load(); n != 0 {
		t.Fatalf("%d requests failed after one of two endpoints was killed (first: %v)", n, res.firstErr.Load())
	}
	before := b.reqs.Load()
	b.restart()
	// Once its ejection ends, the endpoint that came back serves again.
	eventually(t, 20*time.Second, func() bool { return b.reqs.Load() > before+20 }, "the restarted endpoint gets no traffic")
	res.waitOK(t, 300)
	if n := res.failed.Load(); n != 0 {
		t.Fatalf("%d requests failed around the restart (first: %v)", n, res.firstErr.Load())
	}
	if a.reqs.Load() == 0 {
		t.Fatal("endpoint a served nothing")
	}
	mfs := scrape(t, srv)
	retries := metricValue(mfs, "hotpath_upstream_retries_total", "upstream", "app", "reason", "connect_failure") +
		metricValue(mfs, "hotpath_upstream_retries_total", "upstream", "app", "reason", "reset")
	if retries == 0 || metricValue(mfs, "hotpath_upstream_ejections_total", "upstream", "app") == 0 {
		t.Fatalf("retries %v, ejections %v: want both counted", retries,
			metricValue(mfs, "hotpath_upstream_ejections_total", "upstream", "app"))
	}
	if metricValue(mfs, "hotpath_endpoint_ejections_total", "upstream", "app", "endpoint", b.addr) == 0 ||
		metricValue(mfs, "hotpath_endpoint_ejections_total", "upstream", "app", "endpoint", a.addr) != 0 {
		t.Errorf("endpoint ejections: b %v, a %v; want b > 0, a 0",
			metricValue(mfs, "hotpath_endpoint_ejections_total", "upstream", "app", "endpoint", b.addr),
			metricValue(mfs, "hotpath_endpoint_ejections_total", "upstream", "app", "endpoint", a.addr))
	}
	deadline := time.Now().Add(10 * time.Second)
	for l := logs.String(); !strings.Contains(l, "endpoint ejected by passive health checks") || !strings.Contains(l, "endpoint back from ejection"); l = logs.String() {
		if time.Now().After(deadline) {
			t.Fatalf("the ejection and the return are not logged:\n%s", l)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHangingEndpointCostsItsRequestsOnly: an endpoint that accepts
// connections and never answers holds only the requests sent to it before
// passive health ejected it (consecutive_failures, 3 by default), each
// bounded by timeouts.upstream_header and then retried elsewhere.
func TestHangingEndpointCostsItsRequestsOnly(t *testing.T) {
	good := newKillableUpstream(t, "good")
	var hung atomic.Int64
	heard := make(chan struct{}, 4)
	hang := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		if _, err := readRequestHead(r); err != nil {
			return
		}
		hung.Add(1)
		select {
		case heard <- struct{}{}:
		default:
		}
		_, _ = io.Copy(io.Discard, r) // never answers
	})
	cfg := testConfig(t, fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}, {address: %s}]
routes:
  - {path: /*rest, upstream: app}
`, good.addr, hang.addr))
	cfg.Timeouts.UpstreamHeader = 200 * time.Millisecond
	srv, clk := startServerLoopClock(t, cfg)
	expireOn(t, srv, clk, 200*time.Millisecond, heard) // a hung request times out as it arrives
	client := httpClient(t)
	for i := range 20 {
		resp, err := client.Get("http://" + srv.Addr() + "/x")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != 200 || body != "good" {
			t.Fatalf("request %d: %d %q, want 200 from the good endpoint", i, resp.StatusCode, body)
		}
	}
	if n := hung.Load(); n > 3 {
		t.Fatalf("the hanging endpoint got %d requests, want at most 3 (then ejected)", n)
	}
}

// TestRetryNonIdempotentOnlyBeforeSending: a POST is retried on another
// endpoint when its connect was refused (nothing was sent), but not after
// it went out: an upstream that closes without answering costs a 502.
func TestRetryNonIdempotentOnlyBeforeSending(t *testing.T) {
	good := newKillableUpstream(t, "good")
	refused := testsupport.RefusingAddr(t)
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - {name: app, endpoints: [{address: %s}, {address: %s}]}
routes:
  - {path: /*rest, upstream: app}
`, refused, good.addr)))
	client := httpClient(t)
	for i := range 6 {
		resp, err := client.Post("http://"+srv.Addr()+"/x", "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); resp.StatusCode != 200 || body != "good" {
			t.Fatalf("POST %d: %d %q, want 200 (retried after the refused connect)", i, resp.StatusCode, body)
		}
	}

	var got atomic.Int64
	closer := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		if _, err := readRequestHead(r); err == nil {
			got.Add(1)
		}
		// closes without answering
	})
	srv2 := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - {name: app, endpoints: [{address: %s}, {address: %s}], health: {passive: {consecutive_failures: 0}}}
routes:
  - {path: /*rest, upstream: app, retry: {attempts: 3}}
`, closer.addr, good.addr)))
	var posts502, gets502 int
	for range 10 {
		req, _ := http.NewRequestWithContext(context.Background(), "POST", "http://"+srv2.Addr()+"/x", strings.NewReader("payload"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode == 502 {
			posts502++
		}
		resp, err = client.Get("http://" + srv2.Addr() + "/x")
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != 200 {
			gets502++
		}
	}
	if posts502 == 0 {
		t.Fatal("no POST sent to the closing endpoint was answered 502: a POST that went out was retried")
	}
	if gets502 != 0 {
		t.Fatalf("%d GETs failed: an idempotent request that went out must be retried", gets502)
	}
}

// TestResilienceConfigCompiled: the upstream's slow start and retry budget,
// and a route's retry policy, reach the compiled table.
func TestResilienceConfigCompiled(t *testing.T) {
	cfg := testConfig(t, `
upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:1"}]
    slow_start: 30s
    retry_budget: {percent: 25, min_concurrent: 4}
routes:
  - {path: /a, upstream: app, retry: {attempts: 1, on: [connect_failure, "503"], max_body_bytes: 1KiB}}
  - {path: /b, upstream: app}
`)
	tbl, err := compile(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.close()
	u := tbl.upstreams[0]
	if u.pick.SlowStart != 30*time.Second || u.budget.Percent != 25 || u.budget.MinConcurrent != 4 {
		t.Fatalf("upstream: slow start %v, budget %+v", u.pick.SlowStart, u.budget)
	}
	lookupRoute := func(path string) *route {
		var m trie.Match[*route]
		if tbl.tree.Lookup([]byte("x"), []byte("GET"), []byte(path), &m) != trie.Found {
			t.Fatalf("no route for %s", path)
		}
		return m.Value
	}
	rt := lookupRoute("/a")
	if p := rt.retry; p.attempts != 1 || !p.on[0] || p.on[1] || !p.onStatus(503) || p.onStatus(502) || p.maxBody != 1024 {
		t.Fatalf("route /a retry %+v", p)
	}
	rt = lookupRoute("/b")
	if p := rt.retry; p.attempts != 2 || !p.on[0] || !p.on[1] || !p.on[2] || p.onStatus(502) || p.maxBody != 64<<10 {
		t.Fatalf("route /b default retry %+v", p)
	}
}
