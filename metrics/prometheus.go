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
	cacheRejections, cacheExpirations             *prometheus.Desc
	accessDropped, accessWriteErrors              *prometheus.Desc
	authRejections, inFlight, tunnels, pending    *prometheus.Desc
	byProtocol                                    *prometheus.Desc
	aggInFlight, aggSaturated, aggPartFailures    *prometheus.Desc
	downMax, downRefused, acceptPauses, paused    *prometheus.Desc
	upRetries, upNoBudget, upEjections, upEjected *prometheus.Desc
	edge                                          edgeDescs     // edge.go
	tls                                           tlsDescs      // tls.go
	ep                                            endpointDescs // endpoint.go
	grpc                                          grpcDescs     // grpc.go
}

func newDescs() descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("hotpath_"+name, help, labels, nil)
	}
	return descs{
		requests:          d("requests_total", "Responses sent to clients, by route and status code (a code outside the IANA registry: its class, 5xx; \"other\": no response or out of range).", "route", "code"),
		duration:          d("request_duration_seconds", "Request duration, from the request head to the last response byte, by route.", "route"),
		timeouts:          d("timeouts_total", "Deadlines that expired, by kind.", "kind"),
		limiter:           d("limiter_rejections_total", "Requests over a route's rate limit, enforced or shadow.", "route", "mode"),
		upRequests:        d("upstream_requests_total", "Responses received from upstreams, by status code.", "upstream", "code"),
		upErrors:          d("upstream_errors_total", "Failed upstream exchanges, by kind.", "upstream", "kind"),
		upDuration:        d("upstream_request_duration_seconds", "Upstream latency, from the start of the exchange to the end of the response head.", "upstream"),
		upConns:           d("upstream_connections", "Upstream connections, active (serving an exchange) or idle (keep-alive).", "upstream", "state"),
		upBytesSent:       d("upstream_bytes_sent_total", "Bytes written to upstreams.", "upstream"),
		upBytesRecv:       d("upstream_bytes_received_total", "Bytes read from upstreams.", "upstream"),
		bytesIn:           d("downstream_bytes_received_total", "Bytes read from clients."),
		bytesOut:          d("downstream_bytes_sent_total", "Bytes written to clients."),
		downTotal:         d("downstream_connections_total", "Client connections accepted."),
		downActive:        d("downstream_connections_open", "Client connections open."),
		byProtocol:        d("requests_by_protocol_total", "Requests received (heads parsed or refused), by the protocol that carried them: HTTP/1.1 (and 1.0) or HTTP/2.", "protocol"),
		inFlight:          d("requests_in_flight", "Exchanges in progress: request heads received (or refused) whose exchange has not ended."),
		tunnels:           d("tunnels_open", "Upgraded connections (WebSocket and other tunnels) open."),
		pending:           d("pending_requests", "Requests waiting in the endpoints' pending queues for a connection (pool.max_pending)."),
		parser:            d("parser_rejections_total", "Requests refused by the HTTP parser, by reason.", "reason"),
		cacheLookups:      d("cache_lookups_total", "Response cache lookups, by route and result.", "route", "result"),
		cacheStores:       d("cache_stores_total", "Responses handed to the cache's store."),
		cacheStoredBytes:  d("cache_stored_bytes_total", "Bytes of responses handed to the cache's store (headers, body and a fixed overhead per entry)."),
		cacheRejections:   d("cache_rejections_total", "Stores the cache's admission policy (TinyLFU) refused."),
		cacheEvictions:    d("cache_evictions_total", "Entries evicted from the cache to stay within max_bytes."),
		cacheEvictedBytes: d("cache_evicted_bytes_total", "Bytes of entries evicted from the cache."),
		cacheExpirations:  d("cache_expirations_total", "Entries dropped from the cache when their time to live ran out."),
		cacheSize:         d("cache_size_bytes", "Bytes held by the response cache now."),
		accessDropped:     d("accesslog_dropped_total", "Access-log records dropped because no buffer was free."),
		accessWriteErrors: d("access_log_write_errors_total", "Access-log writes that failed (the lines in them are lost)."),
		aggInFlight:       d("aggregate_in_flight", "Aggregations running now, by route.", "route"),
		aggSaturated:      d("aggregate_saturated_total", "Aggregate requests answered 503 because max_concurrent were running, by route.", "route"),
		aggPartFailures:   d("aggregate_part_failures_total", "Aggregate parts that failed (timeout, error, status, size), by route.", "route"),
		upRetries:         d("upstream_retries_total", "Requests sent again to another endpoint, by reason (connect_failure, reset, timeout, status).", "upstream", "reason"),
		upNoBudget:        d("upstream_retry_budget_exhausted_total", "Retries refused because the upstream's retry budget was spent.", "upstream"),
		upEjections:       d("upstream_ejections_total", "Endpoints ejected by passive health checking.", "upstream"),
		upEjected:         d("upstream_endpoints_ejected", "Endpoints passively ejected now.", "upstream"),
		downMax:           d("downstream_connections_max", "The client connection cap (limits.max_connections, or derived from the open-file limit)."),
		downRefused:       d("downstream_connections_refused_total", "Client connections closed at once because the connection budget was spent."),
		acceptPauses:      d("accept_pauses_total", "Times an event loop stopped accepting because the connection budget was spent."),
		paused:            d("accept_paused_loops", "Event loops not accepting now because the connection budget is spent."),
		edge:              newEdgeDescs(),
		ep:                newEndpointDescs(),
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
		d.parser, d.cacheLookups, d.authRejections, d.inFlight, d.byProtocol, d.tunnels, d.pending,
	} {
		ch <- x
	}
	if c.opts.Cache != nil {
		for _, x := range []*prometheus.Desc{d.cacheStores, d.cacheStoredBytes, d.cacheRejections,
			d.cacheEvictions, d.cacheEvictedBytes, d.cacheExpirations, d.cacheSize} {
			ch <- x
		}
	}
	if c.opts.AccessLogDropped != nil {
		ch <- d.accessDropped
	}
	if c.opts.AccessLogWriteErrors != nil {
		ch <- d.accessWriteErrors
	}
	if c.opts.Aggregates != nil {
		ch <- d.aggInFlight
		ch <- d.aggSaturated
		ch <- d.aggPartFailures
	}
	c.describeEndpoints(ch)
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
		// ended before begun: an exchange that begins between the two
		// loads makes the gauge transiently high, never negative.
		lt.ended += atomic.LoadUint64(&l.ended)
		lt.begun += atomic.LoadUint64(&l.begun)
		lt.begunH2 += atomic.LoadUint64(&l.begunH2)
		lt.tunnels += atomic.LoadInt64(&l.tunnels)
		lt.pending += atomic.LoadInt64(&l.pending)
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
	gauge(d.inFlight, max(float64(lt.begun)-float64(lt.ended), 0))
	counter(d.byProtocol, lt.begun-min(lt.begunH2, lt.begun), "http1")
	counter(d.byProtocol, lt.begunH2, "h2")
	gauge(d.tunnels, float64(max(lt.tunnels, 0)))
	gauge(d.pending, float64(max(lt.pending, 0)))
	if c.opts.Cache != nil {
		if s, ok := c.opts.Cache(); ok {
			counter(d.cacheStores, s.Stores)
			counter(d.cacheStoredBytes, s.StoredBytes)
			counter(d.cacheRejections, s.Rejections)
			counter(d.cacheEvictions, s.Evictions)
			counter(d.cacheEvictedBytes, s.EvictedBytes)
			counter(d.cacheExpirations, s.Expirations)
			gauge(d.cacheSize, float64(s.SizeBytes))
		}
	}
	if c.opts.AccessLogDropped != nil {
		counter(d.accessDropped, c.opts.AccessLogDropped())
	}
	if c.opts.AccessLogWriteErrors != nil {
		counter(d.accessWriteErrors, c.opts.AccessLogWriteErrors())
	}
	if c.opts.Aggregates != nil {
		for _, a := range c.opts.Aggregates() {
			gauge(d.aggInFlight, float64(a.InFlight), a.Route)
			counter(d.aggSaturated, a.Saturated, a.Route)
			counter(d.aggPartFailures, a.PartFailures, a.Route)
		}
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
	for ri, s := range t.routes {
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
			if v > 0 { // the codes seen
				counter(d.requests, v, s.name, codeLabels[i])
			}
		}
		if t.features[ri]&hasLimiter != 0 {
			for i, v := range rc.limited {
				counter(d.limiter, v, s.name, limitLabels[i])
			}
		}
		if t.features[ri]&hasCache != 0 {
			for i, v := range rc.cache {
				counter(d.cacheLookups, v, s.name, cacheLabels[i])
			}
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
			if v > 0 {
				counter(d.upRequests, v, s.name, codeLabels[i])
			}
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
	c.collectEndpoints(ch, t)
}

// histogram builds a histogram from non-cumulative bucket counts. The count
// is the sum of the buckets, so the histogram is self-consistent even when
// loops record during the scrape.
func histogram(desc *prometheus.Desc, buckets *[numBuckets + 1]uint64, sumNanos uint64, labels ...string) prometheus.Metric {
	cum := make(map[float64]uint64, numBuckets)
	var n uint64
	for i, b := range Buckets {
		n += buckets[i]
		cum[b] = n
	}
	n += buckets[numBuckets]
	return prometheus.MustNewConstHistogram(desc, n, float64(sumNanos)/1e9, cum, labels...)
}

var _ prometheus.Collector = (*Collector)(nil)

// addLoaded adds each counter of one loop's src, read atomically, to dst
// (the scrape-time sum over loops).
func addLoaded(dst, src []uint64) {
	for i := range src {
		dst[i] += atomic.LoadUint64(&src[i])
	}
}
