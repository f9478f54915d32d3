package metrics

import "testing"

func TestCollectEdge(t *testing.T) {
	c := New(Options{Loops: 1})
	if mfs := gather(t, c); mfs["hotpath_edge_connections_refused_total"] != nil {
		t.Fatal("edge metrics exported without Options.Edge")
	}
	c = New(Options{Loops: 1, Edge: func() EdgeStats {
		return EdgeStats{ConnsIPFilter: 1, ConnsPerIPMax: 2, ConnsPerIPRate: 3, RequestsIPFilter: 4, RequestsBodyLarge: 5, PreflightsAllowed: 6, PreflightsRefused: 7}
	}})
	mfs := gather(t, c)
	for _, w := range []struct {
		name, label, value string
		want               float64
	}{
		{"hotpath_edge_connections_refused_total", "reason", "ip_filter", 1},
		{"hotpath_edge_connections_refused_total", "reason", "per_ip_connections", 2},
		{"hotpath_edge_connections_refused_total", "reason", "per_ip_rate", 3},
		{"hotpath_edge_requests_refused_total", "reason", "ip_filter", 4},
		{"hotpath_edge_requests_refused_total", "reason", "body_too_large", 5},
		{"hotpath_cors_preflights_total", "result", "allowed", 6},
		{"hotpath_cors_preflights_total", "result", "refused", 7},
	} {
		if got := value(t, mfs, w.name, w.label, w.value); got != w.want {
			t.Errorf("%s{%s=%q} = %v, want %v", w.name, w.label, w.value, got, w.want)
		}
	}
}
