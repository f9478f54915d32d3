package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
)

// TestEndpointCounters: per-endpoint codes, errors, latency and
// connections move, are summed over loops, survive a reload that keeps
// the endpoint (under a new ID), and stop being exported when it goes.
func TestEndpointCounters(t *testing.T) {
	c := New(Options{Loops: 2, Endpoints: func() []EndpointState {
		return []EndpointState{
			{Upstream: "app", Addr: "10.0.0.1:80", Healthy: true, InFlight: 3, Checked: true, ChecksPassed: 5, ChecksFailed: 1},
			{Upstream: "app", Addr: "10.0.0.2:80", Ejected: true, Ejections: 2},
		}
	}})
	tab, err := c.Install(Labels{Upstreams: []string{"app"}, Endpoints: []Endpoint{
		{Upstream: "app", Addr: "10.0.0.1:80", ID: 0}, {Upstream: "app", Addr: "10.0.0.2:80", ID: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		sh := tab.Shard(i)
		sh.EndpointResponse(0, 200, 300_000)
		sh.EndpointResponse(1, 502, 3_000_000)
		sh.EndpointError(1, ErrorReset)
		sh.EndpointError(7, ErrorReset) // unknown ID: not counted, no panic
		sh.SetEndpointConns(0, 2, 1)
	}
	mfs := gather(t, c)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"hotpath_endpoint_requests_total", []string{"endpoint", "10.0.0.1:80", "code", "200"}, 2},
		{"hotpath_endpoint_requests_total", []string{"endpoint", "10.0.0.2:80", "code", "502"}, 2},
		{"hotpath_endpoint_errors_total", []string{"endpoint", "10.0.0.2:80", "kind", "reset"}, 2},
		{"hotpath_endpoint_connections", []string{"endpoint", "10.0.0.1:80", "state", "active"}, 4},
		{"hotpath_endpoint_connections", []string{"endpoint", "10.0.0.1:80", "state", "idle"}, 2},
		{"hotpath_endpoint_healthy", []string{"endpoint", "10.0.0.1:80"}, 1},
		{"hotpath_endpoint_healthy", []string{"endpoint", "10.0.0.2:80"}, 0},
		{"hotpath_endpoint_ejections_total", []string{"endpoint", "10.0.0.2:80"}, 2},
		{"hotpath_endpoint_requests_in_flight", []string{"endpoint", "10.0.0.1:80"}, 3},
		{"hotpath_endpoint_health_checks_total", []string{"endpoint", "10.0.0.1:80", "result", "pass"}, 5},
		{"hotpath_endpoint_health_checks_total", []string{"endpoint", "10.0.0.1:80", "result", "fail"}, 1},
	}
	for _, ck := range checks {
		if got := value(t, mfs, ck.name, append([]string{"upstream", "app"}, ck.labels...)...); got != ck.want {
			t.Errorf("%s%v = %v, want %v", ck.name, ck.labels, got, ck.want)
		}
	}
	if find(mfs, "hotpath_endpoint_health_checks_total", "endpoint", "10.0.0.2:80") != nil {
		t.Errorf("health check series for an endpoint without active checks")
	}
	h := find(mfs, "hotpath_endpoint_request_duration_seconds", "endpoint", "10.0.0.2:80").GetHistogram()
	if h.GetSampleCount() != 2 {
		t.Errorf("endpoint histogram count %d, want 2", h.GetSampleCount())
	}

	// Reload: 10.0.0.2 stays (new ID 5), 10.0.0.1 goes.
	tab2, err := c.Install(Labels{Upstreams: []string{"app"}, Endpoints: []Endpoint{{Upstream: "app", Addr: "10.0.0.2:80", ID: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	tab2.Shard(0).EndpointResponse(5, 502, 0)
	mfs = gather(t, c)
	if got := value(t, mfs, "hotpath_endpoint_requests_total", "endpoint", "10.0.0.2:80", "code", "502"); got != 3 {
		t.Errorf("after reload 502s = %v, want 3", got)
	}
	if find(mfs, "hotpath_endpoint_requests_total", "endpoint", "10.0.0.1:80") != nil {
		t.Errorf("removed endpoint still exported")
	}
}

func TestEndpointBound(t *testing.T) {
	c := New(Options{Loops: 1, MaxEndpoints: 1})
	tab, err := c.Install(Labels{Upstreams: []string{"u"}, Endpoints: []Endpoint{
		{Upstream: "u", Addr: "a:1", ID: 0}, {Upstream: "u", Addr: "b:1", ID: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tab.Shard(0).EndpointResponse(0, 200, 0)
	tab.Shard(0).EndpointResponse(1, 200, 0) // past the bound: not counted
	mfs := gather(t, c)
	if n := len(mfs["hotpath_endpoint_requests_total"].GetMetric()); n != 1 {
		t.Errorf("%d endpoint series, want 1 (MaxEndpoints)", n)
	}
}

// TestFeatureSeries: routes without a limiter or a cache export no
// limiter or cache series; without a cache (Cache says !ok) the store
// series are left out.
func TestFeatureSeries(t *testing.T) {
	c := New(Options{Loops: 1, Cache: func() (CacheStats, bool) { return CacheStats{}, false }})
	if _, err := c.Install(Labels{Routes: []string{"plain", "limited", "cached"},
		Limited: []bool{false, true, false}, Cached: []bool{false, false, true}}); err != nil {
		t.Fatal(err)
	}
	mfs := gather(t, c)
	if find(mfs, "hotpath_limiter_rejections_total", "route", "plain") != nil || find(mfs, "hotpath_limiter_rejections_total", "route", "cached") != nil {
		t.Errorf("limiter series for a route without a limiter")
	}
	if find(mfs, "hotpath_limiter_rejections_total", "route", "limited", "mode", "enforce") == nil {
		t.Errorf("no limiter series for the limited route")
	}
	if find(mfs, "hotpath_cache_lookups_total", "route", "plain") != nil || find(mfs, "hotpath_cache_lookups_total", "route", "limited") != nil {
		t.Errorf("cache series for a route without a cache")
	}
	if find(mfs, "hotpath_cache_lookups_total", "route", "cached", "result", "hit") == nil {
		t.Errorf("no cache series for the cached route")
	}
	if mfs["hotpath_cache_size_bytes"] != nil || mfs["hotpath_cache_stores_total"] != nil {
		t.Errorf("cache store series without a cache")
	}
}

// TestOpenMetricsNoCollision: under OpenMetrics a counter foo_total is
// family foo, so a gauge named foo beside it collides (a real scrape then
// records the gauge as a counter). No family name may be another's name
// plus _total.
func TestOpenMetricsNoCollision(t *testing.T) {
	c := New(Options{Loops: 1, Cache: func() (CacheStats, bool) { return CacheStats{}, true },
		AccessLogDropped: func() uint64 { return 0 }, AccessLogWriteErrors: func() uint64 { return 0 },
		Accept: func() AcceptStats { return AcceptStats{} }, Edge: func() EdgeStats { return EdgeStats{} },
		Upstreams: func() []UpstreamHealth { return nil }, Aggregates: func() []AggregateStats { return nil },
		Endpoints: func() []EndpointState { return nil }})
	mfs := gather(t, c)
	for name := range mfs {
		if base, ok := strings.CutSuffix(name, "_total"); ok && mfs[base] != nil {
			t.Errorf("%s and %s collide under OpenMetrics", base, name)
		}
	}
	var b strings.Builder
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeOpenMetrics))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Errorf("OpenMetrics encoding of %s: %v", mf.GetName(), err)
		}
	}
}
