package engine

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/internal/testsupport"
)

// TestMetricsInFlightAndPending: with max_conns 1 and a held request, a
// second client waits in the pending queue: hotpath_requests_in_flight,
// hotpath_pending_requests and the endpoint's in-flight gauge show them,
// and fall back to zero once the upstream answers.
func TestMetricsInFlightAndPending(t *testing.T) {
	up := newGatedUpstream(t)
	srv := pendingServer(t, up.addr, 16, 30*time.Second)
	out := make(chan clientResult, 2)
	sendAsync(t, srv, "a", out)
	eventually(t, 10*time.Second, func() bool { return len(up.seen()) == 1 }, "a not proxied")
	sendAsync(t, srv, "b", out)
	waitMetrics(t, srv, []metricWant{
		{"hotpath_requests_in_flight", nil, 2},
		{"hotpath_pending_requests", nil, 1},
		{"hotpath_endpoint_requests_in_flight", []string{"upstream", "app", "endpoint", up.addr}, 2}, // sent or waiting for a connection
		{"hotpath_endpoint_connections", []string{"upstream", "app", "endpoint", up.addr, "state", "active"}, 1},
	})
	for range 2 {
		up.release <- struct{}{}
		if r := <-out; r.status != 200 {
			t.Fatalf("%+v", r)
		}
	}
	waitMetrics(t, srv, []metricWant{
		{"hotpath_requests_in_flight", nil, 0},
		{"hotpath_pending_requests", nil, 0},
		{"hotpath_endpoint_requests_in_flight", []string{"upstream", "app", "endpoint", up.addr}, 0},
		{"hotpath_endpoint_requests_total", []string{"upstream", "app", "endpoint", up.addr, "code", "200"}, 2},
	})
}

// TestMetricsTunnelsOpen: an upgraded connection counts in
// hotpath_tunnels_open until it closes.
func TestMetricsTunnelsOpen(t *testing.T) {
	up := upgradeUpstream(t, nil, func(c net.Conn, r *bufio.Reader) { _, _ = io.Copy(c, r) })
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	c, _ := dialUpgrade(t, srv)
	waitMetrics(t, srv, []metricWant{{"hotpath_tunnels_open", nil, 1}})
	_ = c.Close()
	waitMetrics(t, srv, []metricWant{{"hotpath_tunnels_open", nil, 0}})
}

// TestMetricsCacheStore: a cached route's miss stores the response; the
// store counters and the cache's size move, and the lookup series exist
// for that route only.
func TestMetricsCacheStore(t *testing.T) {
	up := newHTTPUpstream(t, statusHandler)
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - {name: app, endpoints: [{address: %s}]}
routes:
  - {name: cached, path: /c/*p, upstream: app, cache: {default_ttl: 1m}}
  - {name: plain, path: /*p, upstream: app}
`, up.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	for range 3 {
		readBody(t, roundTrip(t, c, br, "GET /c/status/200 HTTP/1.1\r\nHost: x\r\n\r\n", "GET"))
	}
	mfs := waitMetrics(t, srv, []metricWant{
		{"hotpath_cache_stores_total", nil, 1},
		{"hotpath_cache_rejections_total", nil, 0},
		{"hotpath_cache_evictions_total", nil, 0},
		{"hotpath_cache_lookups_total", []string{"route", "cached", "result", "miss"}, 1},
		{"hotpath_cache_lookups_total", []string{"route", "plain"}, -1},
	})
	if v := metricValue(mfs, "hotpath_cache_size_bytes"); v <= 0 {
		t.Errorf("hotpath_cache_size_bytes = %v after a store", v)
	}
	if v := metricValue(mfs, "hotpath_cache_stored_bytes_total"); v <= 0 {
		t.Errorf("hotpath_cache_stored_bytes_total = %v after a store", v)
	}
}

// TestMetricsEndpointHealthChecks: active health checks are counted per
// endpoint, and a failing endpoint is reported unhealthy.
func TestMetricsEndpointHealthChecks(t *testing.T) {
	good := newHTTPUpstream(t, statusHandler)
	bad := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	cfg := testConfig(t, proxyTo(good.addr, bad.addr))
	cfg.Upstreams[0].Health.Active = &config.ActiveHealth{Path: "/status/200", Interval: 10 * time.Millisecond,
		Timeout: time.Second, HealthyThreshold: 1, UnhealthyThreshold: 2}
	srv := startServer(t, cfg)
	eventually(t, 10*time.Second, func() bool {
		mfs := scrape(t, srv)
		return metricValue(mfs, "hotpath_endpoint_health_checks_total", "endpoint", good.addr, "result", "pass") >= 2 &&
			metricValue(mfs, "hotpath_endpoint_health_checks_total", "endpoint", bad.addr, "result", "fail") >= 2 &&
			metricValue(mfs, "hotpath_endpoint_healthy", "endpoint", bad.addr) == 0 &&
			metricValue(mfs, "hotpath_endpoint_healthy", "endpoint", good.addr) == 1
	}, "health check metrics")
}

// TestMetricsAggregatePartFailures: a part that fails counts in
// hotpath_aggregate_part_failures_total for its route.
func TestMetricsAggregatePartFailures(t *testing.T) {
	a := newAggUpstreams(t)
	a.set("orders", "500")
	srv := startServer(t, testConfig(t, aggConfig(t, a, "      fail: partial", "")))
	cl := newClient(t, srv)
	if resp, _ := cl.get("/dashboard/1"); resp.StatusCode == 0 {
		t.Fatal("no answer")
	}
	waitMetrics(t, srv, []metricWant{
		{"hotpath_aggregate_part_failures_total", []string{"route", "dashboard"}, 1},
		{"hotpath_aggregate_in_flight", []string{"route", "dashboard"}, 0},
	})
}

// TestMetricsAccessLogWriteErrors: an access log whose writes fail
// (/dev/full: ENOSPC) counts them in hotpath_access_log_write_errors_total.
func TestMetricsAccessLogWriteErrors(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	cfg := testConfig(t, "access_log: {path: /dev/full}\n"+proxyTo(newHTTPUpstream(t, statusHandler).addr))
	srv := startServer(t, cfg)
	c := dial(t, srv)
	readBody(t, roundTrip(t, c, bufio.NewReader(c), "GET /status/200 HTTP/1.1\r\nHost: x\r\n\r\n", "GET"))
	eventually(t, 10*time.Second, func() bool {
		return metricValue(scrape(t, srv), "hotpath_access_log_write_errors_total") >= 1
	}, "write error not counted")
}

// TestReloadRestartWarning: a reload with the same admin, metrics,
// access_log and log sections warns about nothing; one that changes
// log.format and admin names exactly those.
func TestReloadRestartWarning(t *testing.T) {
	up := newHTTPUpstream(t, statusHandler)
	body := func(format string) string {
		return fmt.Sprintf(`
admin: {address: 127.0.0.1:0, pprof: false, allowed_hosts: [node7]}
log: {level: info, format: %s}
access_log: {path: stderr, sample: 1.0}
`, format) + proxyTo(up.addr)
	}
	var logs syncBuffer
	srv, err := New(testConfig(t, body("json")), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if err := srv.Reload(testConfig(t, body("json"))); err != nil {
		t.Fatal(err)
	}
	if s := logs.String(); strings.Contains(s, "need a restart") {
		t.Fatalf("unchanged reload warned:\n%s", s)
	}
	next := testConfig(t, strings.Replace(body("text"), "node7", "node8", 1))
	if err := srv.Reload(next); err != nil {
		t.Fatal(err)
	}
	s := logs.String()
	if !strings.Contains(s, "need a restart") || !strings.Contains(s, "[admin log.format]") {
		t.Fatalf("changed reload: want a warning naming admin and log.format:\n%s", s)
	}
}

// TestMetricsEndpointErrorsRetried: an attempt that fails and is retried
// on another endpoint counts against its endpoint, though the request
// succeeds and the upstream counts no error.
func TestMetricsEndpointErrorsRetried(t *testing.T) {
	refused := testsupport.RefusingAddr(t) // bound, never listening: connects are refused
	good := newHTTPUpstream(t, statusHandler)
	cfg := testConfig(t, proxyTo(refused, good.addr))
	cfg.Upstreams[0].Health.Passive = &config.PassiveHealth{} // no ejection: every request may pick the refused one
	srv := startServer(t, cfg)
	c := dial(t, srv)
	br := bufio.NewReader(c)
	for range 20 {
		resp := roundTrip(t, c, br, "GET /status/200 HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
		readBody(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: the retry should reach the good endpoint", resp.StatusCode)
		}
	}
	mfs := waitMetrics(t, srv, []metricWant{
		{"hotpath_upstream_errors_total", []string{"upstream", "app", "kind", "connect"}, 0},
		{"hotpath_endpoint_requests_total", []string{"upstream", "app", "endpoint", good.addr, "code", "200"}, 20},
	})
	if n := metricValue(mfs, "hotpath_endpoint_errors_total", "endpoint", refused, "kind", "connect"); n < 1 {
		t.Errorf("refused endpoint: %v connect errors, want >= 1 (retried attempts)", n)
	}
}

// TestMetricsCacheExpirations: an entry whose time to live runs out is
// dropped and counted (ristretto sweeps on 5-second buckets: this waits a
// few seconds, in parallel with the other tests).
func TestMetricsCacheExpirations(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the cache's TTL sweep")
	}
	t.Parallel()
	up := newHTTPUpstream(t, statusHandler)
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - {name: app, endpoints: [{address: %s}]}
routes:
  - {name: cached, path: /*p, upstream: app, cache: {ttl: 1s, stale_while_revalidate: 0s, stale_if_error: 0s}}
`, up.addr)))
	c := dial(t, srv)
	readBody(t, roundTrip(t, c, bufio.NewReader(c), "GET /status/200 HTTP/1.1\r\nHost: x\r\n\r\n", "GET"))
	waitMetrics(t, srv, []metricWant{{"hotpath_cache_stores_total", nil, 1}})
	eventually(t, 30*time.Second, func() bool {
		mfs := scrape(t, srv)
		return metricValue(mfs, "hotpath_cache_expirations_total") == 1 && metricValue(mfs, "hotpath_cache_size_bytes") == 0
	}, "the expired entry not counted")
}
