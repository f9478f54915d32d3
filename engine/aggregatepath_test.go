package engine

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotpath/hotpath/internal/testsupport"
)

// aggUpstreams are the upstreams of the aggregation tests: users answers
// JSON naming the target it saw, orders answers text; each can be told to
// fail, hang or answer large.
type aggUpstreams struct {
	users, orders *httpUpstream
	mu            sync.Mutex
	seen          map[string]http.Header // "users" / "orders" -> last request's fields
	mode          map[string]string      // "" ok, "500", "hang", "big"
	hang          chan struct{}          // closed by the test: hung handlers return
	arrived       chan string            // a hung handler's part name, when it starts waiting
	canceled      chan string            // a hung handler's part name, when its request is canceled
	release       func()                 // closes hang, once
}

func newAggUpstreams(t *testing.T) *aggUpstreams {
	a := &aggUpstreams{
		seen:     map[string]http.Header{},
		mode:     map[string]string{},
		hang:     make(chan struct{}),
		arrived:  make(chan string, 16),
		canceled: make(chan string, 16),
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(a.hang) }) })
	a.release = func() { once.Do(func() { close(a.hang) }) }
	handler := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			a.mu.Lock()
			a.seen[name] = r.Header.Clone()
			mode := a.mode[name]
			a.mu.Unlock()
			w.Header().Set("Set-Cookie", "session=secret")
			w.Header().Set("X-Internal", "1")
			switch mode {
			case "500":
				w.WriteHeader(500)
				_, _ = io.WriteString(w, "boom")
				return
			case "hang":
				a.arrived <- name
				select {
				case <-a.hang:
				case <-r.Context().Done():
					a.canceled <- name
					return
				}
			case "big":
				w.Header().Set("Content-Type", "application/json")
				_, _ = fmt.Fprintf(w, "%q", strings.Repeat("x", 2000))
				return
			}
			if name == "users" {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				_, _ = fmt.Fprintf(w, `{"target":%q}`, r.URL.RequestURI())
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			_, _ = fmt.Fprintf(w, "orders \"%s\"\n", r.URL.RequestURI())
		}
	}
	a.users = newHTTPUpstream(t, handler("users"))
	a.orders = newHTTPUpstream(t, handler("orders"))
	return a
}

func (a *aggUpstreams) set(name, mode string) {
	a.mu.Lock()
	a.mode[name] = mode
	a.mu.Unlock()
}

func (a *aggUpstreams) headers(name string) http.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen[name]
}

// aggConfig is a config with the two upstreams and an aggregate route
// /dashboard/:user; opts is YAML added to its aggregate: section, parts
// replaces the default parts when not empty.
func aggConfig(t *testing.T, a *aggUpstreams, opts, parts string) string {
	t.Helper()
	if parts == "" {
		parts = `
      - {name: profile, upstream: users, path: "/users/:user"}
      - {name: orders, upstream: orders, path: "/orders?user=:user", headers: [Authorization, X-Custom]}`
	}
	return fmt.Sprintf(`
upstreams:
  - name: users
    endpoints: [{address: %s}]
  - name: orders
    endpoints: [{address: %s}]
routes:
  - name: dashboard
    path: /dashboard/:user
    aggregate:
      max_body_bytes: 1KiB
%s
      parts:%s
`, a.users.addr, a.orders.addr, opts, parts)
}

func aggStats(srv *Server) AggregateStats {
	for _, s := range srv.AggregateStats() {
		if s.Route == "dashboard" {
			return s
		}
	}
	return AggregateStats{}
}

func TestAggregateMerge(t *testing.T) {
	a := newAggUpstreams(t)
	srv := startServer(t, testConfig(t, aggConfig(t, a, "", "")))
	cl := newClient(t, srv)

	resp, body := cl.get("/dashboard/42")
	want := `{"profile":{"target":"/users/42"},"orders":"orders \"/orders?user=42\"\n"}`
	if resp.StatusCode != 200 || body != want {
		t.Fatalf("got %d %s\nwant %s", resp.StatusCode, body, want)
	}
	if !json.Valid([]byte(body)) {
		t.Fatalf("not JSON: %s", body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	for _, h := range []string{"Set-Cookie", "X-Internal", "Transfer-Encoding"} {
		if v := resp.Header.Get(h); v != "" {
			t.Errorf("%s leaked: %q", h, v)
		}
	}
	if resp.Header.Get("Via") == "" {
		t.Errorf("no Via: %v", resp.Header)
	}

	// A parameter cannot add query parameters to a part's target.
	_, body = cl.get("/dashboard/x&admin=1")
	if !strings.Contains(body, `/orders?user=x%26admin%3D1`) || !strings.Contains(body, `"/users/x&admin=1"`) {
		t.Errorf("escaping: %s", body)
	}

	// HEAD: the GET's head and length, no body (the connection stays usable).
	get, getBody := cl.get("/dashboard/42")
	head, headBody := cl.do("HEAD", "/dashboard/42")
	if head.StatusCode != 200 || headBody != "" || head.Header.Get("Content-Length") != fmt.Sprint(len(getBody)) || get.ContentLength != int64(len(getBody)) {
		t.Errorf("HEAD: %d %q %v", head.StatusCode, headBody, head.Header)
	}
	resp, _ = cl.do("POST", "/dashboard/42", "Content-Length: 0")
	if resp.StatusCode != 405 || resp.Header.Get("Allow") == "" {
		t.Errorf("POST: %d %v", resp.StatusCode, resp.Header)
	}
	if s := aggStats(srv); s.InFlight != 0 || s.PartFailures != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestAggregatePipelined(t *testing.T) {
	a := newAggUpstreams(t)
	srv := startServer(t, testConfig(t, aggConfig(t, a, "", "")))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	var req strings.Builder
	for _, u := range []string{"1", "2", "3"} {
		fmt.Fprintf(&req, "GET /dashboard/%s HTTP/1.1\r\nHost: x\r\n\r\n", u)
	}
	if _, err := io.WriteString(c, req.String()); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"1", "2", "3"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if !strings.Contains(body, `"/users/`+u+`"`) {
			t.Fatalf("response %s out of order: %s", u, body)
		}
	}
}

func TestAggregatePartFailures(t *testing.T) {
	refused := testsupport.RefusingAddr(t) // bound, never listening: connects are refused

	for _, tc := range []struct {
		name    string
		mode    string // orders' mode; "refused" points orders at a closed port
		fail    string
		status  int
		orders  string // the orders value (partial) or the whole body (all)
		timeout bool
	}{
		{name: "500/partial", mode: "500", fail: "partial", status: 200, orders: `{"error":"status 500","status":500}`},
		{name: "500/all", mode: "500", fail: "all", status: 502, orders: `{"error":"part orders: status 500","part":"orders","status":500}`},
		{name: "refused/partial", mode: "refused", fail: "partial", status: 200, orders: `{"error":"connect failed","status":502}`},
		{name: "refused/all", mode: "refused", fail: "all", status: 502, orders: `{"error":"part orders: connect failed","part":"orders","status":502}`},
		{name: "hang/partial", mode: "hang", fail: "partial", status: 200, orders: `{"error":"timeout","status":504}`, timeout: true},
		{name: "hang/all", mode: "hang", fail: "all", status: 502, orders: `{"error":"part orders: timeout","part":"orders","status":504}`, timeout: true},
		{name: "big/partial", mode: "big", fail: "partial", status: 200, orders: `{"error":"body too large","status":502}`},
		{name: "big/all", mode: "big", fail: "all", status: 502, orders: `{"error":"part orders: body too large","part":"orders","status":502}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAggUpstreams(t)
			a.set("orders", tc.mode)
			opts, parts := "      fail: "+tc.fail, ""
			if tc.timeout {
				// Only the hanging part, so that the short deadline
				// cannot catch a slow but healthy one.
				opts += "\n      timeout: 300ms"
				parts = "\n      - {name: orders, upstream: orders, path: \"/orders?user=:user\"}"
			}
			y := aggConfig(t, a, opts, parts)
			if tc.mode == "refused" {
				y = strings.Replace(y, a.orders.addr, refused, 1)
			}
			srv := startServer(t, testConfig(t, y))
			cl := newClient(t, srv)
			resp, body := cl.get("/dashboard/7")
			if tc.timeout {
				// The part hangs until the test releases it, after the
				// response: only the aggregation deadline can end it.
				if got := <-a.arrived; got != "orders" {
					t.Fatalf("arrived %q", got)
				}
				a.release()
			}
			want := tc.orders
			switch {
			case tc.status == 200 && tc.timeout:
				want = `{"orders":` + tc.orders + `}`
			case tc.status == 200:
				want = `{"profile":{"target":"/users/7"},"orders":` + tc.orders + `}`
			}
			if resp.StatusCode != tc.status || body != want {
				t.Fatalf("got %d %s\nwant %d %s", resp.StatusCode, body, tc.status, want)
			}
			if resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
			if s := aggStats(srv); s.PartFailures != 1 {
				t.Errorf("part failures %d", s.PartFailures)
			}
			// The connection still serves the next request.
			a.set("orders", "")
			if tc.mode != "refused" {
				if resp, _ := cl.get("/dashboard/8"); resp.StatusCode != 200 {
					t.Errorf("next: %d", resp.StatusCode)
				}
			}
		})
	}
}

func TestAggregateHeaders(t *testing.T) {
	a := newAggUpstreams(t)
	srv := startServer(t, testConfig(t, aggConfig(t, a, "", "")))
	cl := newClient(t, srv)
	resp, _ := cl.get("/dashboard/1",
		"Authorization: Bearer t", "X-Custom: c", "Cookie: a=b", "X-Other: o", "X-Request-Id: rid-1")
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	o := a.headers("orders")
	if o.Get("Authorization") != "Bearer t" || o.Get("X-Custom") != "c" {
		t.Errorf("orders missing configured fields: %v", o)
	}
	for _, h := range []string{"Cookie", "X-Other", "X-Request-Id"} {
		if o.Get(h) != "" {
			t.Errorf("orders got %s", h)
		}
	}
	// profile lists no headers: the default set only.
	p := a.headers("users")
	if p.Get("X-Request-Id") != "rid-1" {
		t.Errorf("profile: no X-Request-Id: %v", p)
	}
	for _, h := range []string{"Authorization", "X-Custom", "Cookie", "X-Other"} {
		if p.Get(h) != "" {
			t.Errorf("profile got %s", h)
		}
	}
	if p.Get("X-Forwarded-For") != "127.0.0.1" || p.Get("Via") == "" {
		t.Errorf("profile forwarded fields: %v", p)
	}
}

// TestAggregateGate runs the route's auth, header rules, request ID and
// rate limit in front of the aggregation.
func TestAggregateGate(t *testing.T) {
	a := newAggUpstreams(t)
	y := strings.Replace(aggConfig(t, a, "", ""), "    aggregate:\n", `    request_id: true
    rate_limit: {rate: 1, per: 1h}
    auth: {api_key: {keys: [{name: k1, key: secret}]}}
    headers:
      request: {set: {X-Route: "${route}"}}
      response: {set: {X-Served-By: gateway}}
    aggregate:
`, 1)
	srv := startServer(t, testConfig(t, y))
	cl := newClient(t, srv)
	if resp, _ := cl.get("/dashboard/1"); resp.StatusCode != 401 {
		t.Fatalf("no key: %d", resp.StatusCode)
	}
	resp, _ := cl.get("/dashboard/1", "X-Api-Key: secret")
	if resp.StatusCode != 200 || resp.Header.Get("X-Served-By") != "gateway" || resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("RateLimit") == "" {
		t.Fatalf("with key: %d %v", resp.StatusCode, resp.Header)
	}
	p := a.headers("users")
	if p.Get("X-Route") != "dashboard" || p.Get("X-Request-Id") != resp.Header.Get("X-Request-Id") || p.Get("X-Api-Key") != "" {
		t.Errorf("part fields: %v", p)
	}
	if resp, _ := cl.get("/dashboard/1", "X-Api-Key: secret"); resp.StatusCode != 429 {
		t.Errorf("third: %d", resp.StatusCode)
	}
}

func TestAggregateClientClosesWhileParked(t *testing.T) {
	a := newAggUpstreams(t)
	a.set("orders", "hang")
	srv := startServer(t, testConfig(t, aggConfig(t, a, "      timeout: 1m", "")))
	c := dial(t, srv)
	if _, err := io.WriteString(c, "GET /dashboard/1 HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-a.arrived
	if s := aggStats(srv); s.InFlight != 1 {
		t.Fatalf("in flight %d", s.InFlight)
	}
	_ = c.Close()
	// Closing the client cancels the aggregation: the hung part's request
	// is canceled, and nothing is left running.
	if got := <-a.canceled; got != "orders" {
		t.Fatalf("canceled %q", got)
	}
	eventually(t, 5*time.Second, func() bool { return aggStats(srv).InFlight == 0 && srv.active.Load() == 0 }, "aggregation still running")
	// The server still serves.
	a.set("orders", "")
	if resp, _ := newClient(t, srv).get("/dashboard/2"); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
}

func TestAggregateShutdownWhileParked(t *testing.T) {
	t.Run("finishes", func(t *testing.T) {
		a := newAggUpstreams(t)
		a.set("orders", "hang")
		srv, clk := startServerLoopClock(t, testConfig(t, aggConfig(t, a, "      timeout: 1m", "")))
		c := dial(t, srv)
		if _, err := io.WriteString(c, "GET /dashboard/1 HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		<-a.arrived
		done := make(chan error, 1)
		go func() { done <- shutdown(t, srv, 10*time.Second) }()
		eventually(t, 5*time.Second, func() bool { return !srv.Ready() }, "not draining")
		a.release()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != 200 || !resp.Close || !strings.Contains(body, `"orders":"orders`) {
			t.Fatalf("drained response: %d close=%v %s", resp.StatusCode, resp.Close, body)
		}
		endLinger(t, srv, clk) // the last connection closes
		if err := <-done; err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		a := newAggUpstreams(t)
		a.set("orders", "hang")
		srv := startServer(t, testConfig(t, aggConfig(t, a, "      timeout: 1m", "")))
		c := dial(t, srv)
		if _, err := io.WriteString(c, "GET /dashboard/1 HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		<-a.arrived
		// The part never answers before the drain deadline: the server
		// stops, closing the parked client and canceling the part.
		if err := shutdown(t, srv, 100*time.Millisecond); err != context.DeadlineExceeded {
			t.Fatalf("shutdown: %v", err)
		}
		if got := <-a.canceled; got != "orders" {
			t.Fatalf("canceled %q", got)
		}
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("client read %d bytes after stop", n)
		}
		if s := aggStats(srv); s.InFlight != 0 {
			t.Errorf("in flight %d after stop", s.InFlight)
		}
	})
}

func TestAggregateSaturated(t *testing.T) {
	a := newAggUpstreams(t)
	a.set("orders", "hang")
	srv := startServer(t, testConfig(t, aggConfig(t, a, "      timeout: 1m\n      max_concurrent: 1", "")))
	c := dial(t, srv)
	if _, err := io.WriteString(c, "GET /dashboard/1 HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-a.arrived
	resp, _ := newClient(t, srv).get("/dashboard/2")
	if resp.StatusCode != 503 {
		t.Fatalf("saturated: %d", resp.StatusCode)
	}
	if s := aggStats(srv); s.Saturated != 1 || s.InFlight != 1 {
		t.Errorf("stats %+v", s)
	}
	waitMetrics(t, srv, []metricWant{
		{"hotpath_aggregate_saturated_total", []string{"route", "dashboard"}, 1},
		{"hotpath_aggregate_in_flight", []string{"route", "dashboard"}, 1},
	})
	a.release()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	_ = readBody(t, resp)
	eventually(t, 5*time.Second, func() bool { return aggStats(srv).InFlight == 0 }, "slot not released")
}

func TestAggregateReload(t *testing.T) {
	a := newAggUpstreams(t)
	srv := startServer(t, testConfig(t, aggConfig(t, a, "", "")))
	cl := newClient(t, srv)
	if _, body := cl.get("/dashboard/1"); !strings.HasPrefix(body, `{"profile":`) {
		t.Fatal(body)
	}
	parts := `
      - {name: me, upstream: orders, path: "/o/:user"}`
	if err := srv.Reload(testConfig(t, aggConfig(t, a, "", parts))); err != nil {
		t.Fatal(err)
	}
	if _, body := cl.get("/dashboard/1"); body != `{"me":"orders \"/o/1\"\n"}` {
		t.Fatalf("after reload: %s", body)
	}
}

func TestAggregateCompressed(t *testing.T) {
	a := newAggUpstreams(t)
	y := strings.Replace(aggConfig(t, a, "", ""), "    aggregate:\n", "    compression: {encodings: [gzip], min_bytes: 10}\n    aggregate:\n", 1)
	srv := startServer(t, testConfig(t, y))
	cl := newClient(t, srv)
	_, plain := cl.get("/dashboard/3")
	resp, body := cl.get("/dashboard/3", "Accept-Encoding: gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("not compressed: %v", resp.Header)
	}
	zr, err := gzip.NewReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || string(got) != plain {
		t.Fatalf("decompressed %q (%v), want %q", got, err, plain)
	}
}
