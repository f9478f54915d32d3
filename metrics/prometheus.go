package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// descs are the exported metric families. Names follow the Prometheus
// conventions: a hotpath_ prefix, base units (seconds, bytes), _total on
// counters.
type descs struct {
	requests, duration, limiter, timeouts         *prometheus.Desc
	upRequests, upErrors, upDuration, upConns     *prometheus.Desc
	upBytesSent, upBytesRecv                      *prometheus.Desc
	bytesIn, bytesOut, downTotal, downActive      *prometheus.Desc
	parser                                        *prometheus.Desc
	cacheLookups, cacheStores, cacheStoredBytes   *prometheus.Desc
	cacheEvictions, cacheEvictedBytes, cacheSize  *prometheus.Desc
	accessDropped, authRejections                 *prometheus.Desc
	downMax, downRefused, acceptPauses, paused    *prometheus.Desc
	upRetries, upNoBudget, upEjections, upEjected *prometheus.Desc
	edge                                          edgeDescs // edge.go
	tls                                           tlsDescs  // tls.go
	grpc                                          grpcDescs // grpc.go
}

func newDescs() descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("hotpath_"+name, help, labels, nil)
	}
	return descs{
		requests:          d("requests_total", "Responses sent to clients, by route and status class (\"other\": none or out of range).", "route", "code"),
		duration:          d("request_duration_seconds", "Request duration, from the request head to the last response byte, by route.", "route"),
		timeouts:          d("timeouts_total", "Deadlines that expired, by kind.", "kind"),
		limiter:           d("limiter_rejections_total", "Requests over a route's rate limit, enforced or shadow.", "route", "mode"),
		upRequests:        d("upstream_requests_total", "Responses received from upstreams, by status class.", "upstream", "code"),
		upErrors:          d("upstream_errors_total", "Failed upstream exchanges, by kind.", "upstream", "kind"),
		upDuration:        d("upstream_request_duration_seconds", "Upstream latency, from the start of the exchange to the end of the response head.", "upstream"),
		upConns:           d("upstream_connections", "Upstream connections, active (serving an exchange) or idle (keep-alive).", "upstream", "state"),
		upBytesSent:       d("upstream_bytes_sent_total", "Bytes written to upstreams.", "upstream"),
		upBytesRecv:       d("upstream_bytes_received_total", "Bytes read from upstreams.", "upstream"),
		bytesIn:           d("downstream_bytes_received_total", "Bytes read from clients."),
		bytesOut:          d("downstream_bytes_sent_total", "Bytes written to clients."),
		downTotal:         d("downstream_connections_total", "Client connections accepted."),
		downActive:        d("downstream_connections", "Client connections open."),
		parser:            d("parser_rejections_total", "Requests refused by the HTTP parser, by reason.", "reason"),
		cacheLookups:      d("cache_lookups_total", "Response cache lookups, by route and result.", "route", "result"),
		cacheStores:       d("cache_stores_total", "Responses stored in the cache."),
		cacheStoredBytes:  d("cache_stored_bytes_total", "Bytes of responses stored in the cache."),
		cacheEvictions:    d("cache_evictions_total", "Entries evicted from the cache."),
		cacheEvictedBytes: d("cache_evicted_bytes_total", "Bytes of entries evicted from the cache."),
		cacheSize:         d("cache_size_bytes", "Bytes held by the response cache."),
		accessDropped:     d("accesslog_dropped_total", "Access-log records dropped because no buffer was free."),
		upRetries:         d("upstream_retries_total", "Requests sent again to another endpoint, by reason (connect_failure, reset, timeout, status).", "upstream", "reason"),
		upNoBudget:        d("upstream_retry_budget_exhausted_total", "Retries refused because the upstream's retry budget was spent.", "upstream"),
		upEjections:       d("upstream_ejections_total", "Endpoints ejected by passive health checking.", "upstream"),
		upEjected:         d("upstream_endpoints_ejected", "Endpoints passively ejected now.", "upstream"),
		downMax:           d("downstream_connections_max", "The client connection cap (limits.max_connections, or derived from the open-file limit)."),
		downRefused:       d("downstream_connections_refused_total", "Client connections closed at once because the connection budget was spent."),
		acceptPauses:      d("accept_pauses_total", "Times an event loop stopped accepting because the connection budget was spent."),
		paused:            d("accept_paused_loops", "Event loops not accepting now because the connection budget is spent."),
		edge:              newEdgeDescs(),
		tls:               newTLSDescs(),
		grpc:              newGRPCDescs(),
		authRejections:    d("auth_rejections_total", "Requests refused by a route's auth, by reason (missing, invalid: 401; forbidden: 403; busy: 503, the basic-auth verifier pool was full; client_cert: 403, a route's client_cert.required without a verified client certificate).", "route", "reason"),
	}
}

// Describe sends every metric family's descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	d := &c.desc
	for _, x := range []*prometheus.Desc{
		d.requests, d.duration, d.timeouts, d.limiter, d.upRequests, d.upErrors, d.upDuration, d.upConns,
		d.upBytesSent, d.upBytesRecv, d.bytesIn, d.bytesOut, d.downTotal, d.downActive, d.upRetries, d.upNoBudget,
		d.parser, d.cacheLookups, d.cacheStores, d.cacheStoredBytes, d.cacheEvictions,
		d.cacheEvictedBytes, d.authRejections,
	} {
		ch <- x
	}
	if c.opts.CacheSize != nil {
		ch <- d.cacheSize
	}
	if c.opts.AccessLogDropped != nil {
		ch <- d.accessDropped
	}
	if c.opts.Upstreams != nil {
		ch <- d.upEjections
		ch <- d.upEjected
	}
	if c.opts.Accept != nil {
		ch <- d.downMax
		ch <- d.downRefused
		ch <- d.acceptPauses
		ch <- d.paused
	}
	c.describeEdge(ch)
	c.describeTLS(ch)
	c.describeGRPC(ch)
}

// Collect sums every loop's counters with atomic loads and sends them. It
// exports the routes and upstreams of the current Table. It allocates (per
// scrape, off the request path).
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	d := &c.desc
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}

	var lt Loop // sums
	for _, l := range c.loops {
		lt.bytesIn += atomic.LoadUint64(&l.bytesIn)
		lt.bytesOut += atomic.LoadUint64(&l.bytesOut)
		lt.downOpened += atomic.LoadUint64(&l.downOpened)
		lt.downClosed += atomic.LoadUint64(&l.downClosed)
		for i := range l.reasons {
			lt.reasons[i] += atomic.LoadUint64(&l.reasons[i])
		}
		for i := range l.timeouts {
			lt.timeouts[i] += atomic.LoadUint64(&l.timeouts[i])
		}
		lt.cacheStores += atomic.LoadUint64(&l.cacheStores)
		lt.cacheStoredBytes += atomic.LoadUint64(&l.cacheStoredBytes)
	}
	counter(d.bytesIn, lt.bytesIn)
	counter(d.bytesOut, lt.bytesOut)
	counter(d.downTotal, lt.downOpened)
	// Closed is read after opened in each loop, so a connection opened and
	// closed between the two loads can make this transiently low, never
	// negative by more than the connections closed mid-scrape.
	gauge(d.downActive, max(float64(lt.downOpened)-float64(lt.downClosed), 0))
	for i, v := range lt.reasons {
		counter(d.parser, v, reasonLabels[i])
	}
	for i, v := range lt.timeouts {
		counter(d.timeouts, v, timeoutLabels[i])
	}
	counter(d.cacheStores, lt.cacheStores)
	counter(d.cacheStoredBytes, lt.cacheStoredBytes)
	counter(d.cacheEvictions, atomic.LoadUint64(&c.evict.n))
	counter(d.cacheEvictedBytes, atomic.LoadUint64(&c.evict.bytes))
	if c.opts.CacheSize != nil {
		gauge(d.cacheSize, float64(c.opts.CacheSize()))
	}
	if c.opts.AccessLogDropped != nil {
		counter(d.accessDropped, c.opts.AccessLogDropped())
	}
	if c.opts.Accept != nil {
		a := c.opts.Accept()
		gauge(d.downMax, float64(a.MaxConnections))
		counter(d.downRefused, a.Refused)
		counter(d.acceptPauses, a.Pauses)
		gauge(d.paused, float64(a.PausedLoops))
	}
	c.collectEdge(ch)
	c.collectTLS(ch)
	c.collectGRPC(ch)

	t := c.table.Load()
	for _, s := range t.routes {
		var rc routeCell
		for _, cell := range s.cells {
			addLoaded(rc.codes[:], cell.codes[:])
			addLoaded(rc.limited[:], cell.limited[:])
			addLoaded(rc.cache[:], cell.cache[:])
			addLoaded(rc.auth[:], cell.auth[:])
			addLoaded(rc.buckets[:], cell.buckets[:])
			rc.sumNanos += atomic.LoadUint64(&cell.sumNanos)
		}
		for i, v := range rc.codes {
			if i == classOther && v == 0 {
				continue
			}
			counter(d.requests, v, s.name, classLabels[i])
		}
		for i, v := range rc.limited {
			counter(d.limiter, v, s.name, limitLabels[i])
		}
		for i, v := range rc.cache {
			counter(d.cacheLookups, v, s.name, cacheLabels[i])
		}
		for i, v := range rc.auth {
			if v > 0 {
				counter(d.authRejections, v, s.name, authLabels[i])
			}
		}
		ch <- histogram(d.duration, &rc.buckets, rc.sumNanos, s.name)
	}
	for _, s := range t.upstreams {
		var uc upstreamCell
		for _, cell := range s.cells {
			addLoaded(uc.codes[:], cell.codes[:])
			addLoaded(uc.errors[:], cell.errors[:])
			addLoaded(uc.buckets[:], cell.buckets[:])
			uc.sumNanos += atomic.LoadUint64(&cell.sumNanos)
			uc.active += atomic.LoadInt64(&cell.active)
			uc.idle += atomic.LoadInt64(&cell.idle)
			uc.bytesSent += atomic.LoadUint64(&cell.bytesSent)
			uc.bytesRecv += atomic.LoadUint64(&cell.bytesRecv)
			addLoaded(uc.retries[:], cell.retries[:])
			uc.noBudget += atomic.LoadUint64(&cell.noBudget)
		}
		for i, v := range uc.codes {
			if i == classOther && v == 0 {
				continue
			}
			counter(d.upRequests, v, s.name, classLabels[i])
		}
		for i, v := range uc.errors {
			counter(d.upErrors, v, s.name, errorLabels[i])
		}
		ch <- histogram(d.upDuration, &uc.buckets, uc.sumNanos, s.name)
		gauge(d.upConns, float64(max(uc.active, 0)), s.name, "active")
		gauge(d.upConns, float64(max(uc.idle, 0)), s.name, "idle")
		counter(d.upBytesSent, uc.bytesSent, s.name)
		counter(d.upBytesRecv, uc.bytesRecv, s.name)
		for i, v := range uc.retries {
			counter(d.upRetries, v, s.name, retryLabels[i])
		}
		counter(d.upNoBudget, uc.noBudget, s.name)
	}
	if c.opts.Upstreams != nil {
		for _, u := range c.opts.Upstreams() {
			counter(d.upEjections, u.Ejections, u.Name)
			gauge(d.upEjected, float64(u.Ejected), u.Name)
		}
	}
}

// histogram builds a histogram from non-cumulative bucket counts. The count
// is the sum of the buckets, so the histogram is self-consistent even when
// loops record during the scrape.
func histogram(desc *prometheus.Desc, buckets *[numBuckets + 1]uint64, sumNanos uint64, label string) prometheus.Metric {
	cum := make(map[float64]uint64, numBuckets)
	var n uint64
	for i, b := range Buckets {
		n += buckets[i]
		cum[b] = n
	}
	n += buckets[numBuckets]
	return prometheus.MustNewConstHistogram(desc, n, float64(sumNanos)/1e9, cum, label)
}

var _ prometheus.Collector = (*Collector)(nil)

// addLoaded adds each counter of one loop's src, read atomically, to dst
// (the scrape-time sum over loops).
func addLoaded(dst, src []uint64) {
	for i := range src {
		dst[i] += atomic.LoadUint64(&src[i])
	}
}
