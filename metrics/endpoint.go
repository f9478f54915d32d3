package metrics

import (
	"sync/atomic"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
)

// Per-endpoint counters. An endpoint is one address of an upstream; the
// label set is bounded by the configured endpoints (and
// Options.MaxEndpoints). Like routes and upstreams, storage is per
// (upstream, address), so an endpoint that survives a reload keeps
// counting. The engine indexes a Shard's endpoint cells by
// pool.Endpoint.ID, which is dense in the process.

// Endpoint names one configured endpoint for Labels.Endpoints.
type Endpoint struct {
	Upstream, Addr string
	ID             int // pool.Endpoint.ID: the index Shard's endpoint methods take
}

// EndpointState is what the engine reads at scrape for one endpoint:
// Options.Endpoints.
type EndpointState struct {
	Upstream, Addr string
	Healthy        bool   // picked by the balancer now: not ejected, not failed by active checks
	ActiveDown     bool   // failed by active health checks
	Ejected        bool   // ejected by passive health checks now
	Ejections      uint64 // passive ejections so far
	Checked        bool   // active health checks are configured: the checks series are exported
	ChecksPassed   uint64 // active health checks that passed
	ChecksFailed   uint64 // active health checks that failed
	InFlight       int64  // requests in flight to it, all loops
}

// endpointCell is one loop's counters for one endpoint, padded to whole
// cache lines.
type endpointCell struct {
	_ [(64 - unsafe.Sizeof(endpointCounters{})%64) % 64]byte // first: see Loop
	endpointCounters
}

type endpointCounters struct {
	codes    [numCodeSlots]uint64
	errors   [numErrorClasses]uint64
	buckets  [numBuckets + 1]uint64
	sumNanos uint64
	active   int64
	idle     int64
}

// endpointSlot is the storage of one endpoint: one cell per loop.
type endpointSlot struct {
	upstream, addr string
	cells          []*endpointCell
}

// EndpointResponse counts a response head from endpoint id (status and
// latency as in UpstreamResponse). An id the Table does not know (an
// endpoint past Options.MaxEndpoints) is not counted.
func (s *Shard) EndpointResponse(id, status int, nanos int64) {
	if uint(id) >= uint(len(s.eps)) || s.eps[id] == nil {
		return
	}
	c := s.eps[id]
	atomic.AddUint64(&c.codes[codeSlot(status)], 1)
	atomic.AddUint64(&c.buckets[bucket(nanos)], 1)
	if nanos > 0 {
		atomic.AddUint64(&c.sumNanos, uint64(nanos))
	}
}

// EndpointError counts a failed exchange with endpoint id by kind.
func (s *Shard) EndpointError(id int, kind ErrorClass) {
	if uint(id) >= uint(len(s.eps)) || s.eps[id] == nil {
		return
	}
	if kind >= numErrorClasses {
		kind = ErrorBadResponse
	}
	atomic.AddUint64(&s.eps[id].errors[kind], 1)
}

// SetEndpointConns publishes this loop's connections to endpoint id, as
// SetConns does per upstream (from the loop's tick).
func (s *Shard) SetEndpointConns(id int, active, idle int64) {
	if uint(id) >= uint(len(s.eps)) || s.eps[id] == nil {
		return
	}
	c := s.eps[id]
	atomic.StoreInt64(&c.active, active)
	atomic.StoreInt64(&c.idle, idle)
}

type endpointDescs struct {
	requests, errors, duration, conns    *prometheus.Desc
	healthy, ejections, checks, inFlight *prometheus.Desc
}

func newEndpointDescs() endpointDescs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("hotpath_endpoint_"+name, help, append([]string{"upstream", "endpoint"}, labels...), nil)
	}
	return endpointDescs{
		requests:  d("requests_total", "Response heads received from an upstream endpoint, by status code.", "code"),
		errors:    d("errors_total", "Failed exchanges with an upstream endpoint, by kind.", "kind"),
		duration:  d("request_duration_seconds", "Endpoint latency, from the start of the exchange to the end of the response head."),
		conns:     d("connections", "Connections to an endpoint, active (serving or dialing) or idle (keep-alive).", "state"),
		healthy:   d("healthy", "1 while the balancer may pick the endpoint; 0 while it is ejected or failed by active health checks."),
		ejections: d("ejections_total", "Times passive health checking ejected the endpoint."),
		checks:    d("health_checks_total", "Active health checks of the endpoint, by result (pass, fail).", "result"),
		inFlight:  d("requests_in_flight", "Requests in flight to the endpoint."),
	}
}

func (c *Collector) describeEndpoints(ch chan<- *prometheus.Desc) {
	d := &c.desc.ep
	ch <- d.requests
	ch <- d.errors
	ch <- d.duration
	ch <- d.conns
	if c.opts.Endpoints != nil {
		ch <- d.healthy
		ch <- d.ejections
		ch <- d.checks
		ch <- d.inFlight
	}
}

func (c *Collector) collectEndpoints(ch chan<- prometheus.Metric, t *Table) {
	d := &c.desc.ep
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	for _, s := range t.endpoints {
		var e endpointCell
		for _, cell := range s.cells {
			addLoaded(e.codes[:], cell.codes[:])
			addLoaded(e.errors[:], cell.errors[:])
			addLoaded(e.buckets[:], cell.buckets[:])
			e.sumNanos += atomic.LoadUint64(&cell.sumNanos)
			e.active += atomic.LoadInt64(&cell.active)
			e.idle += atomic.LoadInt64(&cell.idle)
		}
		for i, v := range e.codes {
			if v > 0 {
				counter(d.requests, v, s.upstream, s.addr, codeLabels[i])
			}
		}
		for i, v := range e.errors {
			if v > 0 {
				counter(d.errors, v, s.upstream, s.addr, errorLabels[i])
			}
		}
		ch <- histogram(d.duration, &e.buckets, e.sumNanos, s.upstream, s.addr)
		gauge(d.conns, float64(max(e.active, 0)), s.upstream, s.addr, "active")
		gauge(d.conns, float64(max(e.idle, 0)), s.upstream, s.addr, "idle")
	}
	if c.opts.Endpoints == nil {
		return
	}
	for _, e := range c.opts.Endpoints() {
		h := 0.0
		if e.Healthy {
			h = 1
		}
		gauge(d.healthy, h, e.Upstream, e.Addr)
		counter(d.ejections, e.Ejections, e.Upstream, e.Addr)
		if e.Checked {
			counter(d.checks, e.ChecksPassed, e.Upstream, e.Addr, "pass")
			counter(d.checks, e.ChecksFailed, e.Upstream, e.Addr, "fail")
		}
		gauge(d.inFlight, float64(e.InFlight), e.Upstream, e.Addr)
	}
}
