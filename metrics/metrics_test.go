package metrics

import (
	"errors"
	"sync"
	"testing"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// gather scrapes c through a fresh registry and returns the families by name.
func gather(t *testing.T, c *Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
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

// find returns the metric of family name whose labels include want, or nil.
func find(mfs map[string]*dto.MetricFamily, name string, want ...string) *dto.Metric {
	mf := mfs[name]
	if mf == nil {
		return nil
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if have[want[i]] != want[i+1] {
				continue next
			}
		}
		return m
	}
	return nil
}

func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	m := find(mfs, name, labels...)
	if m == nil {
		t.Fatalf("no %s%v", name, labels)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("%s%v is neither counter nor gauge", name, labels)
	return 0
}

func TestStatusClass(t *testing.T) {
	tests := []struct {
		name   string
		status int
		want   string
	}{
		{"continue", 100, "100"},
		{"ok", 200, "200"},
		{"no content", 204, "204"},
		{"moved", 301, "301"},
		{"not found", 404, "404"},
		{"unauthorized", 401, "401"},
		{"too many", 429, "429"},
		{"bad gateway", 502, "502"},
		{"unavailable", 503, "503"},
		{"gateway timeout", 504, "504"},
		{"unregistered 2xx", 299, "2xx"},
		{"unregistered 4xx", 499, "4xx"},
		{"last 5xx", 599, "5xx"},
		{"no response", 0, "other"},
		{"below range", 99, "other"},
		{"above range", 600, "other"},
		{"upstream 999", 999, "other"},
		{"negative", -200, "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := codeLabels[codeSlot(tt.status)]; got != tt.want {
				t.Errorf("codeSlot(%d) = %s, want %s", tt.status, got, tt.want)
			}
		})
	}
}

func TestReasonForStatus(t *testing.T) {
	tests := []struct {
		name   string
		status int
		want   Reason
	}{
		{"400", 400, ReasonBadRequest},
		{"408", 408, ReasonRequestTimeout},
		{"413", 413, ReasonBodyTooLarge},
		{"414", 414, ReasonURITooLong},
		{"431", 431, ReasonHeadersTooLarge},
		{"501", 501, ReasonNotImplemented},
		{"505", 505, ReasonVersion},
		{"unknown falls back to 400", 418, ReasonBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ReasonForStatus(tt.status)
			if got != tt.want {
				t.Fatalf("ReasonForStatus(%d) = %v, want %v", tt.status, got, tt.want)
			}
			if tt.status != 418 && got.Status() != tt.status {
				t.Errorf("%v.Status() = %d, want %d", got, got.Status(), tt.status)
			}
		})
	}
	for r := Reason(0); r < numReasons; r++ {
		if r.String() == "" {
			t.Errorf("reason %d has no label", r)
		}
	}
}

// TestLayout checks that per-loop blocks fill whole cache lines and are
// allocated on cache-line boundaries, so that two loops never share a line.
func TestLayout(t *testing.T) {
	sizes := []struct {
		name string
		size uintptr
	}{
		{"Loop", unsafe.Sizeof(Loop{})},
		{"routeCell", unsafe.Sizeof(routeCell{})},
		{"upstreamCell", unsafe.Sizeof(upstreamCell{})},
		{"endpointCell", unsafe.Sizeof(endpointCell{})},
	}
	for _, s := range sizes {
		if s.size%64 != 0 {
			t.Errorf("%s is %d bytes, not a multiple of 64", s.name, s.size)
		}
	}
	c := New(Options{Loops: 4})
	tab, err := c.Install(Labels{Routes: []string{"a", "b"}, Upstreams: []string{"u"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		ptrs := []uintptr{uintptr(unsafe.Pointer(c.Loop(i)))}
		sh := tab.Shard(i)
		for _, r := range sh.routes {
			ptrs = append(ptrs, uintptr(unsafe.Pointer(r)))
		}
		ptrs = append(ptrs, uintptr(unsafe.Pointer(sh.ups[0])))
		for _, p := range ptrs {
			if p%64 != 0 {
				t.Errorf("loop %d: block at %#x is not 64-byte aligned", i, p)
			}
		}
	}
}

func TestCollect(t *testing.T) {
	c := New(Options{
		Loops: 2,
		Cache: func() (CacheStats, bool) {
			return CacheStats{Stores: 2, StoredBytes: 20, Rejections: 3, Evictions: 1, EvictedBytes: 64, Expirations: 5, SizeBytes: 4096}, true
		},
		AccessLogDropped:     func() uint64 { return 7 },
		AccessLogWriteErrors: func() uint64 { return 9 },
		Aggregates: func() []AggregateStats {
			return []AggregateStats{{Route: "agg", InFlight: 1, Saturated: 2, PartFailures: 3}}
		},
	})
	tab, err := c.Install(Labels{Routes: []string{"api", "static"}, Upstreams: []string{"backend"},
		Limited: []bool{true, true}, Cached: []bool{true, true}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		l, sh := c.Loop(i), tab.Shard(i)
		l.DownstreamOpened()
		l.BytesReceived(100)
		l.BytesSent(1000)
		l.ParserReject(ReasonURITooLong)
		l.Timeout(TimeoutUpstreamHeader)
		sh.CacheResult(0, CacheHit)
		sh.CacheResult(0, CacheMiss)
		l.ExchangeBegun()
		l.ExchangeBegun()
		l.ExchangeEnded()
		l.SetQueues(3, 4)
		sh.Request(0, 200, 300_000)
		sh.Request(0, 503, 2_000_000)
		sh.Request(1, 304, 0)
		sh.Request(tab.Unmatched(), 404, 0)
		sh.LimiterReject(0, LimitShadow)
		sh.LimiterRejected(1)
		sh.UpstreamResponse(0, 200, 300_000)        // 0.3 ms: first bucket
		sh.UpstreamResponse(0, 200, 1_000_000)      // exactly 1 ms: le="0.001"
		sh.UpstreamResponse(0, 999, 20_000_000_000) // 20 s: +Inf
		sh.UpstreamError(0, ErrorTimeout)
		sh.UpstreamBytes(0, 50, 500)
		sh.SetConns(0, 2, 1)
	}
	c.Loop(0).DownstreamClosed()

	mfs := gather(t, c)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"hotpath_requests_total", []string{"route", "api", "code", "200"}, 2},
		{"hotpath_requests_total", []string{"route", "api", "code", "503"}, 2},
		{"hotpath_requests_total", []string{"route", "static", "code", "304"}, 2},
		{"hotpath_requests_total", []string{"route", UnmatchedRoute, "code", "404"}, 2},
		{"hotpath_limiter_rejections_total", []string{"route", "api", "mode", "shadow"}, 2},
		{"hotpath_limiter_rejections_total", []string{"route", "api", "mode", "enforce"}, 0},
		{"hotpath_limiter_rejections_total", []string{"route", "static", "mode", "enforce"}, 2},
		{"hotpath_timeouts_total", []string{"kind", "upstream_header"}, 2},
		{"hotpath_timeouts_total", []string{"kind", "client_header"}, 0},
		{"hotpath_upstream_requests_total", []string{"upstream", "backend", "code", "200"}, 4},
		{"hotpath_upstream_requests_total", []string{"upstream", "backend", "code", "other"}, 2},
		{"hotpath_upstream_errors_total", []string{"upstream", "backend", "kind", "timeout"}, 2},
		{"hotpath_upstream_errors_total", []string{"upstream", "backend", "kind", "connect"}, 0},
		{"hotpath_upstream_errors_total", []string{"upstream", "backend", "kind", "pool_exhausted"}, 0},
		{"hotpath_upstream_connections", []string{"upstream", "backend", "state", "active"}, 4},
		{"hotpath_upstream_connections", []string{"upstream", "backend", "state", "idle"}, 2},
		{"hotpath_upstream_bytes_sent_total", []string{"upstream", "backend"}, 100},
		{"hotpath_upstream_bytes_received_total", []string{"upstream", "backend"}, 1000},
		{"hotpath_downstream_bytes_received_total", nil, 200},
		{"hotpath_downstream_bytes_sent_total", nil, 2000},
		{"hotpath_downstream_connections_total", nil, 2},
		{"hotpath_downstream_connections_open", nil, 1},
		{"hotpath_requests_in_flight", nil, 2},
		{"hotpath_tunnels_open", nil, 6},
		{"hotpath_pending_requests", nil, 8},
		{"hotpath_parser_rejections_total", []string{"reason", "uri_too_long"}, 2},
		{"hotpath_parser_rejections_total", []string{"reason", "bad_request"}, 0},
		{"hotpath_cache_lookups_total", []string{"route", "api", "result", "hit"}, 2},
		{"hotpath_cache_lookups_total", []string{"route", "api", "result", "miss"}, 2},
		{"hotpath_cache_lookups_total", []string{"route", "api", "result", "stale"}, 0},
		{"hotpath_cache_lookups_total", []string{"route", "static", "result", "hit"}, 0},
		{"hotpath_cache_stores_total", nil, 2},
		{"hotpath_cache_stored_bytes_total", nil, 20},
		{"hotpath_cache_rejections_total", nil, 3},
		{"hotpath_cache_evictions_total", nil, 1},
		{"hotpath_cache_evicted_bytes_total", nil, 64},
		{"hotpath_cache_expirations_total", nil, 5},
		{"hotpath_cache_size_bytes", nil, 4096},
		{"hotpath_accesslog_dropped_total", nil, 7},
		{"hotpath_access_log_write_errors_total", nil, 9},
		{"hotpath_aggregate_in_flight", []string{"route", "agg"}, 1},
		{"hotpath_aggregate_saturated_total", []string{"route", "agg"}, 2},
		{"hotpath_aggregate_part_failures_total", []string{"route", "agg"}, 3},
	}
	for _, ck := range checks {
		if got := value(t, mfs, ck.name, ck.labels...); got != ck.want {
			t.Errorf("%s%v = %v, want %v", ck.name, ck.labels, got, ck.want)
		}
	}
	if m := find(mfs, "hotpath_requests_total", "route", "static", "code", "other"); m != nil {
		t.Errorf("code other exported while zero")
	}
	if m := find(mfs, "hotpath_requests_total", "route", "static", "code", "200"); m != nil {
		t.Errorf("code 200 exported for a route that never answered 200")
	}

	h := find(mfs, "hotpath_upstream_request_duration_seconds", "upstream", "backend").GetHistogram()
	if h.GetSampleCount() != 6 {
		t.Errorf("histogram count = %d, want 6", h.GetSampleCount())
	}
	if want := 2 * (0.0003 + 0.001 + 20); h.GetSampleSum() < want-1e-9 || h.GetSampleSum() > want+1e-9 {
		t.Errorf("histogram sum = %v, want %v", h.GetSampleSum(), want)
	}
	wantCum := map[float64]uint64{0.0005: 2, 0.001: 4, 10: 4}
	for _, b := range h.GetBucket() {
		if w, ok := wantCum[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}

	rh := find(mfs, "hotpath_request_duration_seconds", "route", "api").GetHistogram()
	if rh.GetSampleCount() != 4 {
		t.Errorf("route histogram count = %d, want 4", rh.GetSampleCount())
	}
	if want := 2 * (0.0003 + 0.002); rh.GetSampleSum() < want-1e-9 || rh.GetSampleSum() > want+1e-9 {
		t.Errorf("route histogram sum = %v, want %v", rh.GetSampleSum(), want)
	}
	wantCum = map[float64]uint64{0.0005: 2, 0.001: 2, 0.0025: 4}
	for _, b := range rh.GetBucket() {
		if w, ok := wantCum[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("route bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	if rh := find(mfs, "hotpath_request_duration_seconds", "route", "static").GetHistogram(); rh.GetSampleCount() != 2 || rh.GetBucket()[0].GetCumulativeCount() != 2 {
		t.Errorf("route static: zero duration not in the first bucket: %v", rh)
	}
}

// TestReload checks the label-table swap: a surviving route keeps its
// counts (also those recorded through the old Table by requests in flight),
// a removed one is no longer exported, a new one starts at zero, and a
// route that comes back resumes.
func TestReload(t *testing.T) {
	c := New(Options{Loops: 1})
	t1, err := c.Install(Labels{Routes: []string{"a", "b"}, Upstreams: []string{"u1"}})
	if err != nil {
		t.Fatal(err)
	}
	s1 := t1.Shard(0)
	s1.Request(0, 200, 0) // a
	s1.Request(1, 200, 0) // b
	s1.SetConns(0, 1, 0)

	t2, err := c.Install(Labels{Routes: []string{"c", "b"}, Upstreams: []string{"u2", "u1"}})
	if err != nil {
		t.Fatal(err)
	}
	s2 := t2.Shard(0)
	s1.Request(1, 200, 0) // b, in flight on the old table
	s2.Request(1, 200, 0) // b
	s2.Request(0, 200, 0) // c
	s2.SetConns(1, 0, 0)

	mfs := gather(t, c)
	if got := value(t, mfs, "hotpath_requests_total", "route", "b", "code", "200"); got != 3 {
		t.Errorf("b = %v, want 3", got)
	}
	if got := value(t, mfs, "hotpath_requests_total", "route", "c", "code", "200"); got != 1 {
		t.Errorf("c = %v, want 1", got)
	}
	if m := find(mfs, "hotpath_requests_total", "route", "a"); m != nil {
		t.Errorf("removed route a still exported")
	}
	if got := value(t, mfs, "hotpath_upstream_connections", "upstream", "u1", "state", "active"); got != 0 {
		t.Errorf("u1 active = %v, want 0 (set under t1, then under t2)", got)
	}

	t3, err := c.Install(Labels{Routes: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	t3.Shard(0).Request(0, 200, 0)
	mfs = gather(t, c)
	if got := value(t, mfs, "hotpath_requests_total", "route", "a", "code", "200"); got != 2 {
		t.Errorf("a after coming back = %v, want 2", got)
	}
}

func TestDuplicateNamesShareCounters(t *testing.T) {
	c := New(Options{Loops: 1})
	tab, err := c.Install(Labels{Routes: []string{"x", "x"}})
	if err != nil {
		t.Fatal(err)
	}
	tab.Shard(0).Request(0, 200, 0)
	tab.Shard(0).Request(1, 200, 0)
	mfs := gather(t, c) // the pedantic registry refuses duplicate series
	if got := value(t, mfs, "hotpath_requests_total", "route", "x", "code", "200"); got != 2 {
		t.Errorf("x = %v, want 2", got)
	}
}

func TestInstallRouteOverflow(t *testing.T) {
	c := New(Options{Loops: 1, MaxRoutes: 3})
	tab, err := c.Install(Labels{Routes: []string{"a", "b", "a", "c", "d", "e"}})
	if err != nil {
		t.Fatal(err)
	}
	if tab.Overflowed != 2 {
		t.Fatalf("Overflowed = %d, want 2 (d and e)", tab.Overflowed)
	}
	for i := range 6 {
		tab.Shard(0).Request(i, 200, 0)
	}
	mfs := gather(t, c)
	for route, want := range map[string]float64{"a": 2, "b": 1, "c": 1, OtherRoute: 2} {
		if got := value(t, mfs, "hotpath_requests_total", "route", route, "code", "200"); got != want {
			t.Errorf("route %s = %v, want %v", route, got, want)
		}
	}
}

func TestInstallLimits(t *testing.T) {
	tests := []struct {
		name    string
		first   Labels
		second  Labels
		wantErr error
	}{
		{"routes within bound", Labels{Routes: []string{"a", "b"}}, Labels{Routes: []string{"b", "c"}}, nil},
		{"routes over bound share the other label", Labels{Routes: []string{"a", "b"}}, Labels{Routes: []string{"c", "d"}}, nil},
		{"upstreams over bound", Labels{Upstreams: []string{"a", "b"}}, Labels{Upstreams: []string{"c"}}, ErrTooManyUpstreams},
		{"reused names are free", Labels{Upstreams: []string{"a", "b"}}, Labels{Upstreams: []string{"b", "a"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Options{Loops: 1, MaxRoutes: 3, MaxUpstreams: 2})
			if _, err := c.Install(tt.first); err != nil {
				t.Fatal(err)
			}
			before := c.Current()
			_, err := c.Install(tt.second)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Install = %v, want %v", err, tt.wantErr)
			}
			if err != nil && c.Current() != before {
				t.Errorf("a refused Install replaced the current table")
			}
		})
	}
}

// recordRequest is every increment the engine makes for one proxied
// request on a keep-alive connection.
func recordRequest(l *Loop, sh *Shard, route, up int) {
	l.ExchangeBegun()
	l.BytesReceived(180)
	sh.UpstreamBytes(up, 200, 350)
	sh.UpstreamResponse(up, 200, 420_000)
	sh.EndpointResponse(up, 200, 420_000)
	sh.Request(route, 200, 510_000)
	l.ExchangeEnded()
	l.BytesSent(350)
}

func TestRecordAllocs(t *testing.T) {
	c := New(Options{Loops: 1})
	tab, _ := c.Install(Labels{Routes: []string{"r"}, Upstreams: []string{"u"}, Endpoints: []Endpoint{{Upstream: "u", Addr: "10.0.0.1:80", ID: 0}}})
	l, sh := c.Loop(0), tab.Shard(0)
	allocs := testing.AllocsPerRun(1000, func() {
		recordRequest(l, sh, 0, 0)
		l.ParserReject(ReasonHeadersTooLarge)
		sh.LimiterReject(0, LimitEnforced)
		sh.UpstreamError(0, ErrorReset)
		sh.SetConns(0, 1, 2)
		sh.CacheResult(0, CacheMiss)
		sh.LimiterRejected(0)
		l.Timeout(TimeoutClientBody)
		l.DownstreamOpened()
		l.DownstreamClosed()
		l.ExchangeBegun()
		l.ExchangeEnded()
		l.SetQueues(1, 2)
		sh.EndpointResponse(0, 502, 1000)
		sh.EndpointError(0, ErrorConnect)
		sh.SetEndpointConns(0, 1, 1)
	})
	if allocs != 0 {
		t.Fatalf("recording allocates %v times per request", allocs)
	}
}

// TestConcurrentScrape runs loops and scrapes at once; with -race it proves
// the counters are race-free, and the final sums must be exact.
func TestConcurrentScrape(t *testing.T) {
	const loops, n = 4, 2000
	c := New(Options{Loops: loops})
	tab, _ := c.Install(Labels{Routes: []string{"r"}, Upstreams: []string{"u"}})
	var wg sync.WaitGroup
	for i := 0; i < loops; i++ {
		wg.Add(1)
		go func(l *Loop, sh *Shard) {
			defer wg.Done()
			for j := 0; j < n; j++ {
				recordRequest(l, sh, 0, 0)
			}
		}(c.Loop(i), tab.Shard(i))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for k := 0; k < 5; k++ {
			gather(t, c)
		}
	}()
	wg.Wait()
	<-done
	mfs := gather(t, c)
	if got := value(t, mfs, "hotpath_requests_total", "route", "r", "code", "200"); got != loops*n {
		t.Errorf("requests = %v, want %d", got, loops*n)
	}
	h := find(mfs, "hotpath_upstream_request_duration_seconds", "upstream", "u").GetHistogram()
	if h.GetSampleCount() != loops*n {
		t.Errorf("histogram count = %d, want %d", h.GetSampleCount(), loops*n)
	}
}
