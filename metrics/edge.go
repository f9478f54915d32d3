package metrics

import "github.com/prometheus/client_golang/prometheus"

// EdgeStats is what the engine's edge protection refused (engine/edge.go):
// connections closed at accept by the top-level ip_filter or
// limits.per_ip, requests answered 403 by an ip_filter or 413 by a
// max_body, and CORS preflights answered by the gateway.
type EdgeStats struct {
	ConnsIPFilter     uint64 // the peer is not allowed by the top-level ip_filter
	ConnsPerIPMax     uint64 // the peer has limits.per_ip.max_connections open
	ConnsPerIPRate    uint64 // the peer opens connections faster than limits.per_ip.new_connections
	RequestsIPFilter  uint64 // 403: the client address is not allowed
	RequestsBodyLarge uint64 // 413: the body is larger than max_body
	PreflightsAllowed uint64 // 204
	PreflightsRefused uint64 // 403
}

type edgeDescs struct {
	conns, requests, preflights *prometheus.Desc
}

func newEdgeDescs() edgeDescs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("hotpath_"+name, help, labels, nil)
	}
	return edgeDescs{
		conns:      d("edge_connections_refused_total", "Client connections closed when accepted: not allowed by the top-level ip_filter, or over limits.per_ip.", "reason"),
		requests:   d("edge_requests_refused_total", "Requests refused by edge protection: ip_filter (403) or max_body (413).", "reason"),
		preflights: d("cors_preflights_total", "CORS preflight requests answered by the gateway, allowed (204) or refused (403).", "result"),
	}
}

func (c *Collector) describeEdge(ch chan<- *prometheus.Desc) {
	if c.opts.Edge == nil {
		return
	}
	ch <- c.desc.edge.conns
	ch <- c.desc.edge.requests
	ch <- c.desc.edge.preflights
}

func (c *Collector) collectEdge(ch chan<- prometheus.Metric) {
	if c.opts.Edge == nil {
		return
	}
	e := c.opts.Edge()
	d := &c.desc.edge
	counter := func(desc *prometheus.Desc, v uint64, label string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), label)
	}
	counter(d.conns, e.ConnsIPFilter, "ip_filter")
	counter(d.conns, e.ConnsPerIPMax, "per_ip_connections")
	counter(d.conns, e.ConnsPerIPRate, "per_ip_rate")
	counter(d.requests, e.RequestsIPFilter, "ip_filter")
	counter(d.requests, e.RequestsBodyLarge, "body_too_large")
	counter(d.preflights, e.PreflightsAllowed, "allowed")
	counter(d.preflights, e.PreflightsRefused, "refused")
}
