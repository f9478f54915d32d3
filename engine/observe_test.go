package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hotpath/hotpath/accesslog"
	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/internal/testsupport"
	"github.com/hotpath/hotpath/metrics"
	"github.com/hotpath/hotpath/trie"
)

// scrape gathers srv's metrics through a pedantic registry (which also
// checks the exposition is consistent) and returns the families by name.
func scrape(t *testing.T, srv *Server) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(srv.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// metricValue returns the value of the series of family name with labels
// (name, value pairs), or -1 when there is none. Histograms give their count.
func metricValue(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
next:
	for _, m := range mfs[name].GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// metricWant is one expected series value.
type metricWant struct {
	name   string
	labels []string
	want   float64
}

// waitMetrics polls srv's metrics until every want holds: an exchange is
// counted when the loop finishes it, just after the client has its
// response. It fails with the mismatches at the deadline.
func waitMetrics(t *testing.T, srv *Server, wants []metricWant) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mfs := scrape(t, srv)
		var bad []string
		for _, w := range wants {
			if got := metricValue(mfs, w.name, w.labels...); got != w.want {
				bad = append(bad, fmt.Sprintf("%s%v = %v, want %v", w.name, w.labels, got, w.want))
			}
		}
		if len(bad) == 0 {
			return mfs
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics:\n%s", strings.Join(bad, "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// statusHandler answers /status/N with status N and a short body.
func statusHandler(w http.ResponseWriter, r *http.Request) {
	code := 200
	_, _ = fmt.Sscanf(r.URL.Path, "/status/%d", &code)
	w.Header().Set("Content-Length", "2")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, "ok")
}

func TestMetricsCountRequests(t *testing.T) {
	up := newHTTPUpstream(t, statusHandler)
	srv, clk := startServerLoopClock(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - name: hello
    path: /hello
    direct: {status: 200, body: "hi"}
  - name: api
    path: /status/:code
    methods: [GET]
    upstream: app
`, up.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	get := func(path string, want int) {
		t.Helper()
		resp := roundTrip(t, c, br, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
		readBody(t, resp)
		if resp.StatusCode != want {
			t.Fatalf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	const n = 7
	for i := 0; i < n; i++ {
		get("/status/200", 200)
		get("/status/404", 404)
		get("/status/503", 503)
		get("/hello", 200)
		get("/nowhere", 404)
	}
	get("/status/302", 302)
	resp := roundTrip(t, c, br, "POST /status/200 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "POST")
	readBody(t, resp)         // 405 from the router
	get("/status%2F200", 400) // router.path_normalization: reject

	// Parser rejections close their connections.
	for _, raw := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 40<<10) + "\r\n\r\n",
		"GET / HTTP/3.0\r\nHost: x\r\n\r\n",
	} {
		rc := dial(t, srv)
		resp := roundTrip(t, rc, bufio.NewReader(rc), raw, "GET")
		readBody(t, resp)
	}
	endLinger(t, srv, clk) // they close

	mfs := waitMetrics(t, srv, []metricWant{
		{"hotpath_requests_total", []string{"route", "api", "code", "200"}, n},
		{"hotpath_requests_total", []string{"route", "api", "code", "302"}, 1},
		{"hotpath_requests_total", []string{"route", "api", "code", "404"}, n},
		{"hotpath_requests_total", []string{"route", "api", "code", "503"}, n},
		{"hotpath_requests_total", []string{"route", "hello", "code", "200"}, n},
		{"hotpath_requests_total", []string{"route", "_unmatched", "code", "404"}, n},
		{"hotpath_requests_total", []string{"route", "_unmatched", "code", "405"}, 1},
		{"hotpath_requests_total", []string{"route", "_unmatched", "code", "400"}, 2}, // bad path, CL+TE
		{"hotpath_requests_total", []string{"route", "_unmatched", "code", "431"}, 1},
		{"hotpath_requests_total", []string{"route", "_unmatched", "code", "505"}, 1},
		{"hotpath_requests_total", []string{"route", "api", "code", "500"}, -1}, // only the codes seen
		{"hotpath_request_duration_seconds", []string{"route", "api"}, 3*n + 1},
		{"hotpath_request_duration_seconds", []string{"route", "hello"}, n},
		{"hotpath_upstream_requests_total", []string{"upstream", "app", "code", "200"}, n},
		{"hotpath_upstream_requests_total", []string{"upstream", "app", "code", "404"}, n},
		{"hotpath_upstream_requests_total", []string{"upstream", "app", "code", "503"}, n},
		{"hotpath_endpoint_requests_total", []string{"upstream", "app", "endpoint", up.addr, "code", "200"}, n},
		{"hotpath_endpoint_requests_total", []string{"upstream", "app", "endpoint", up.addr, "code", "503"}, n},
		{"hotpath_endpoint_request_duration_seconds", []string{"upstream", "app", "endpoint", up.addr}, 3*n + 1},
		{"hotpath_endpoint_connections", []string{"upstream", "app", "endpoint", up.addr, "state", "idle"}, 1},
		{"hotpath_endpoint_healthy", []string{"upstream", "app", "endpoint", up.addr}, 1},
		{"hotpath_endpoint_requests_in_flight", []string{"upstream", "app", "endpoint", up.addr}, 0},
		{"hotpath_endpoint_health_checks_total", []string{"upstream", "app", "endpoint", up.addr}, -1}, // no active checks
		{"hotpath_requests_in_flight", nil, 0},
		{"hotpath_upstream_request_duration_seconds", []string{"upstream", "app"}, 3*n + 1},
		{"hotpath_upstream_errors_total", []string{"upstream", "app", "kind", "connect"}, 0},
		{"hotpath_parser_rejections_total", []string{"reason", "ambiguous_framing"}, 1},
		{"hotpath_parser_rejections_total", []string{"reason", "headers_too_large"}, 1},
		{"hotpath_parser_rejections_total", []string{"reason", "version_not_supported"}, 1},
		{"hotpath_parser_rejections_total", []string{"reason", "bad_request"}, 0},
		{"hotpath_parser_rejections_total", []string{"reason", "bad_path"}, 1},
		{"hotpath_downstream_connections_total", nil, 4},
		{"hotpath_downstream_connections_open", nil, 1}, // the rejected ones are closed
		{"hotpath_upstream_connections", []string{"upstream", "app", "state", "idle"}, 1},
		{"hotpath_upstream_connections", []string{"upstream", "app", "state", "active"}, 0},
		// No cache or limiter on these routes: no such series.
		{"hotpath_cache_lookups_total", []string{"route", "api"}, -1},
		{"hotpath_limiter_rejections_total", []string{"route", "api"}, -1},
		{"hotpath_cache_size_bytes", nil, -1},
		{"hotpath_accesslog_dropped_total", nil, 0},
		{"hotpath_timeouts_total", []string{"kind", "client_header"}, 0},
	})
	for _, name := range []string{"hotpath_downstream_bytes_received_total", "hotpath_downstream_bytes_sent_total",
		"hotpath_upstream_bytes_sent_total", "hotpath_upstream_bytes_received_total"} {
		if v := metricValue(mfs, name); v <= 0 {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
}

func TestMetricsUpstreamErrorsAndTimeouts(t *testing.T) {
	refused := testsupport.RefusingAddr(t)
	heard := make(chan struct{}, 1)
	silent := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = readRequestHead(r)
		select {
		case heard <- struct{}{}:
		default:
		}
		_, _ = r.ReadByte() // never answers
	})
	malformed := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = readRequestHead(r)
		_, _ = io.WriteString(c, "HTTP/1.1 2x0 Nope\r\n\r\n")
		_, _ = r.ReadByte()
	})
	cfg := testConfig(t, fmt.Sprintf(`
upstreams:
  - {name: refused, endpoints: [{address: %s}]}
  - {name: silent, endpoints: [{address: %s}]}
  - {name: malformed, endpoints: [{address: %s}]}
routes:
  - {path: /refused, upstream: refused}
  - {path: /silent, upstream: silent}
  - {path: /malformed, upstream: malformed}
`, refused, silent.addr, malformed.addr))
	cfg.Timeouts.UpstreamHeader = 200 * time.Millisecond
	cfg.Timeouts.ClientHeader = 200 * time.Millisecond
	srv, clk := startServerLoopClock(t, cfg)
	for _, tc := range []struct {
		path   string
		status int
	}{{"/refused", 502}, {"/silent", 504}, {"/malformed", 502}} {
		c := dial(t, srv)
		if _, err := io.WriteString(c, "GET "+tc.path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		stop := func() {}
		if tc.path == "/silent" {
			waitHeard(t, heard)
			stop = pumpClock(t, srv, clk, 100*time.Millisecond) // upstream_header runs out
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "GET"})
		stop()
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		readBody(t, resp)
		if resp.StatusCode != tc.status {
			t.Fatalf("%s = %d, want %d", tc.path, resp.StatusCode, tc.status)
		}
	}
	// A head that never completes: 408 and a client_header timeout.
	c := dial(t, srv)
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHo")
	waitRead(t, srv, c)
	stop := pumpClock(t, srv, clk, 100*time.Millisecond)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	stop()
	if err != nil || resp.StatusCode != 408 {
		t.Fatalf("partial head: %v %v", resp, err)
	}
	readBody(t, resp)

	waitMetrics(t, srv, []metricWant{
		{"hotpath_upstream_errors_total", []string{"upstream", "refused", "kind", "connect"}, 1},
		{"hotpath_upstream_errors_total", []string{"upstream", "silent", "kind", "timeout"}, 1},
		{"hotpath_upstream_errors_total", []string{"upstream", "malformed", "kind", "bad_response"}, 1},
		{"hotpath_upstream_errors_total", []string{"upstream", "malformed", "kind", "timeout"}, 0},
		{"hotpath_timeouts_total", []string{"kind", "upstream_header"}, 1},
		{"hotpath_timeouts_total", []string{"kind", "client_header"}, 1},
		{"hotpath_parser_rejections_total", []string{"reason", "request_timeout"}, 1},
		{"hotpath_requests_total", []string{"route", "/refused", "code", "502"}, 1},
		{"hotpath_requests_total", []string{"route", "/silent", "code", "504"}, 1},
		{"hotpath_requests_total", []string{"route", "/malformed", "code", "502"}, 1},
		{"hotpath_requests_total", []string{"route", "_unmatched", "code", "408"}, 1},
		{"hotpath_endpoint_errors_total", []string{"upstream", "refused", "endpoint", refused, "kind", "connect"}, 1},
		{"hotpath_endpoint_errors_total", []string{"upstream", "silent", "endpoint", silent.addr, "kind", "timeout"}, 1},
		{"hotpath_endpoint_errors_total", []string{"upstream", "malformed", "endpoint", malformed.addr, "kind", "bad_response"}, 1},
	})
}

// TestMetricsAcrossReload checks that route labels follow the new table and
// that a surviving route's counters do not go backwards.
func TestMetricsAcrossReload(t *testing.T) {
	up := newHTTPUpstream(t, statusHandler)
	body := func(routes string) string {
		return fmt.Sprintf("upstreams:\n  - {name: app, endpoints: [{address: %s}]}\nroutes:\n%s", up.addr, routes)
	}
	srv := startServer(t, testConfig(t, body("  - {name: keep, path: /keep, upstream: app}\n  - {name: old, path: /old, upstream: app}\n")))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	get := func(path string) {
		t.Helper()
		readBody(t, roundTrip(t, c, br, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n", "GET"))
	}
	for i := 0; i < 3; i++ {
		get("/keep")
		get("/old")
	}
	waitMetrics(t, srv, []metricWant{
		{"hotpath_requests_total", []string{"route", "keep", "code", "200"}, 3},
		{"hotpath_requests_total", []string{"route", "old", "code", "200"}, 3},
	})
	if err := srv.Reload(testConfig(t, body("  - {name: new, path: /new, upstream: app}\n  - {name: keep, path: /keep, upstream: app}\n"))); err != nil {
		t.Fatal(err)
	}
	get("/keep")
	get("/new")
	get("/old") // 404 now
	waitMetrics(t, srv, []metricWant{
		{"hotpath_requests_total", []string{"route", "keep", "code", "200"}, 4},
		{"hotpath_requests_total", []string{"route", "new", "code", "200"}, 1},
		{"hotpath_requests_total", []string{"route", "old", "code", "200"}, -1}, // no longer exported
		{"hotpath_requests_total", []string{"route", "_unmatched", "code", "404"}, 1},
		{"hotpath_upstream_requests_total", []string{"upstream", "app", "code", "200"}, 8},
	})
}

func TestMetricsOff(t *testing.T) {
	cfg := testConfig(t, "metrics: {enabled: false}\n"+proxyTo(newHTTPUpstream(t, statusHandler).addr))
	srv := startServer(t, cfg)
	if srv.Collector() != nil {
		t.Fatal("Collector with metrics off")
	}
	c := dial(t, srv)
	resp := roundTrip(t, c, bufio.NewReader(c), "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
	if readBody(t, resp); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// syncBuffer is an io.Writer safe for the access log's writer goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func startLogged(t *testing.T, cfg *config.Config, w io.Writer) *Server {
	t.Helper()
	srv, err := New(cfg, WithLogger(slog.New(slog.DiscardHandler)), WithAccessLogOutput(w))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func TestAccessLogFields(t *testing.T) {
	up := newHTTPUpstream(t, statusHandler)
	var out syncBuffer
	srv := startLogged(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - {name: app, endpoints: [{address: %s}]}
routes:
  - {name: api, path: /status/:code, upstream: app}
`, up.addr)), &out)
	c := dial(t, srv)
	br := bufio.NewReader(c)
	before := time.Now().Add(-time.Second)
	resp := roundTrip(t, c, br, "POST /status/201?a=1&b=%22 HTTP/1.1\r\nHost: api.example\r\nUser-Agent: probe/1.0\r\n"+
		"X-Request-Id: req-42\r\nContent-Length: 5\r\n\r\nhello", "POST")
	readBody(t, resp)
	resp = roundTrip(t, c, br, "GET /missing HTTP/1.1\r\nHost: api.example\r\n\r\n", "GET")
	readBody(t, resp)
	bad := dial(t, srv)
	resp = roundTrip(t, bad, bufio.NewReader(bad), "GET /smuggle?x=1 HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", "GET")
	readBody(t, resp)
	badLine := dial(t, srv)
	resp = roundTrip(t, badLine, bufio.NewReader(badLine), "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
	readBody(t, resp)
	_ = srv.Close() // flushes the log

	lines := out.lines(t)
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4: %v", len(lines), lines)
	}
	byPath := map[string]map[string]any{}
	for _, l := range lines {
		p, _ := l["path"].(string)
		byPath[p] = l
	}
	proxied := byPath["/status/201"]
	want := map[string]any{
		"method": "POST", "host": "api.example", "query": `a=1&b=%22`, "protocol": "HTTP/1.1",
		"status": 201.0, "bytes_received": 0.0, "route": "api", "user_agent": "probe/1.0",
		"request_id": "req-42", "upstream": up.addr, "cache": "-", "limiter": "-",
	}
	for k, v := range want {
		if k == "bytes_received" {
			continue
		}
		if proxied[k] != v {
			t.Errorf("%s = %#v, want %#v (line %v)", k, proxied[k], v, proxied)
		}
	}
	head := len("POST /status/201?a=1&b=%22 HTTP/1.1\r\nHost: api.example\r\nUser-Agent: probe/1.0\r\nX-Request-Id: req-42\r\nContent-Length: 5\r\n\r\n")
	if got := proxied["bytes_received"]; got != float64(head+5) {
		t.Errorf("bytes_received = %v, want %d", got, head+5)
	}
	if got, _ := proxied["bytes_sent"].(float64); got < 40 {
		t.Errorf("bytes_sent = %v", got)
	}
	if d, _ := proxied["duration"].(float64); d <= 0 || d < proxied["upstream_duration"].(float64) {
		t.Errorf("duration %v, upstream_duration %v", proxied["duration"], proxied["upstream_duration"])
	}
	ts, err := time.Parse(time.RFC3339Nano, proxied["time"].(string))
	if err != nil || ts.Before(before) || ts.After(time.Now()) {
		t.Errorf("time %v (%v)", proxied["time"], err)
	}
	if cl, _ := proxied["client"].(string); !strings.HasPrefix(cl, "127.0.0.1:") {
		t.Errorf("client %q", cl)
	}

	missing := byPath["/missing"]
	if missing["status"] != 404.0 || missing["route"] != "" || missing["upstream"] != nil {
		t.Errorf("unrouted line %v", missing)
	}
	// A head refused after its request line keeps the method and path (a
	// smuggling attempt is logged with its target); one refused in the
	// request line has no path.
	rejected := byPath["/smuggle"]
	if rejected["status"] != 400.0 || rejected["method"] != "GET" || rejected["query"] != "x=1" || rejected["route"] != "" {
		t.Errorf("rejected line %v", rejected)
	}
	if l := byPath[""]; l["status"] != 400.0 {
		t.Errorf("rejected request line %v", l)
	}
}

func TestAccessLogErrorsOnly(t *testing.T) {
	var out syncBuffer
	cfg := testConfig(t, "access_log: {errors_only: true}\n"+proxyTo(newHTTPUpstream(t, statusHandler).addr))
	srv := startLogged(t, cfg, &out)
	c := dial(t, srv)
	br := bufio.NewReader(c)
	for _, p := range []string{"/status/200", "/status/404", "/status/204", "/status/502"} {
		readBody(t, roundTrip(t, c, br, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n", "GET"))
	}
	_ = srv.Close()
	var got []string
	for _, l := range out.lines(t) {
		got = append(got, l["path"].(string))
	}
	if fmt.Sprint(got) != "[/status/404 /status/502]" {
		t.Errorf("logged %v, want the 404 and the 502", got)
	}
}

// stalledWriter blocks every Write until released.
type stalledWriter struct {
	release chan struct{}
	once    sync.Once
}

func (w *stalledWriter) Write(p []byte) (int, error) {
	<-w.release
	return len(p), nil
}

func (w *stalledWriter) unblock() { w.once.Do(func() { close(w.release) }) }

// TestAccessLogStalledWriter checks that a writer that never returns costs
// log lines, not requests: every request is answered and the drops are
// counted.
func TestAccessLogStalledWriter(t *testing.T) {
	w := &stalledWriter{release: make(chan struct{})}
	cfg := testConfig(t, proxyTo(newHTTPUpstream(t, statusHandler).addr))
	cfg.Workers = 1
	srv := startLogged(t, cfg, w)
	t.Cleanup(w.unblock) // runs before srv.Close: the log's Close waits for the writer

	c := dial(t, srv)
	br := bufio.NewReader(c)
	// 64 KiB buffers, one per loop plus four spares: about 1500 lines of
	// this size fill them all.
	path := "/status/200?pad=" + strings.Repeat("x", 200)
	const n = 3000
	for i := 0; i < n; i++ {
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		readBody(t, resp)
	}
	// The metrics count an exchange just before its line is appended: poll
	// until the last append is in and the exported count matches.
	eventually(t, 5*time.Second, func() bool {
		mfs := scrape(t, srv)
		dropped := srv.AccessLogDropped()
		return metricValue(mfs, "hotpath_requests_total", "route", "/*path", "code", "200") == n &&
			dropped > 0 && metricValue(mfs, "hotpath_accesslog_dropped_total") == float64(dropped)
	}, "drops not counted, or not exported")
}

// TestPolicyHooks drives the hooks the cache and limiter policies call.
func TestPolicyHooks(t *testing.T) {
	// A route with a cache and a limiter: only such routes export their
	// series.
	cfg := testConfig(t, strings.Replace(proxyTo("127.0.0.1:1"), "upstream: app\n",
		"upstream: app\n    cache: {}\n    rate_limit: {rate: 1, per: 1h}\n", 1))
	srv, err := New(cfg, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() }) // the cache's goroutines
	tbl := srv.tbl.Load()
	d := &exchange{lp: &loop{srv: srv, obs: srv.obs.newLoop()}, tbl: tbl}
	if tbl.tree.Lookup(nil, []byte("GET"), []byte("/x"), &d.match) != trie.Found {
		t.Fatal("no route")
	}
	d.rt = d.match.Value
	d.cacheResult(metrics.CacheHit)
	d.cacheResult(metrics.CacheStale)
	d.limiterResult(accesslog.LimiterRejected)
	d.limiterResult(accesslog.LimiterShadow)
	d.limiterResult(accesslog.LimiterAllowed)
	if d.obs.cache != accesslog.CacheStale || d.obs.limiter != accesslog.LimiterAllowed {
		t.Errorf("access-log fields: cache %v limiter %v", d.obs.cache, d.obs.limiter)
	}
	waitMetrics(t, srv, []metricWant{
		{"hotpath_cache_lookups_total", []string{"route", "/*path", "result", "hit"}, 1},
		{"hotpath_cache_lookups_total", []string{"route", "/*path", "result", "stale"}, 1},
		{"hotpath_cache_lookups_total", []string{"route", "/*path", "result", "miss"}, 0},
		{"hotpath_limiter_rejections_total", []string{"route", "/*path", "mode", "enforce"}, 1},
		{"hotpath_limiter_rejections_total", []string{"route", "/*path", "mode", "shadow"}, 1},
	})
}
