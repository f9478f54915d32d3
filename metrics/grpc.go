package metrics

import "github.com/prometheus/client_golang/prometheus"

// GRPCStats are the gRPC calls of one method that ended with one status
// code (engine/grpcstats.go). The methods are bounded by the engine (the
// first ones seen, then "_other").
type GRPCStats struct {
	Service, Method string
	Code            string // the grpc-status code's name (OK, UNAVAILABLE...), or "none" when the call ended without one (reset)
	Calls           uint64
}

type grpcDescs struct {
	calls *prometheus.Desc
}

func newGRPCDescs() grpcDescs {
	return grpcDescs{calls: prometheus.NewDesc("hotpath_grpc_calls_total",
		"gRPC calls by service, method and grpc-status code (the upstream's, or the gateway's own answer); the methods are the first 256 seen, the rest count as _other.",
		[]string{"grpc_service", "grpc_method", "grpc_code"}, nil)}
}

func (c *Collector) describeGRPC(ch chan<- *prometheus.Desc) {
	if c.opts.GRPC != nil {
		ch <- c.desc.grpc.calls
	}
}

func (c *Collector) collectGRPC(ch chan<- prometheus.Metric) {
	if c.opts.GRPC == nil {
		return
	}
	for _, s := range c.opts.GRPC() {
		ch <- prometheus.MustNewConstMetric(c.desc.grpc.calls, prometheus.CounterValue, float64(s.Calls), s.Service, s.Method, s.Code)
	}
}
