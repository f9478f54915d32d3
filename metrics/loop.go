package metrics

import (
	"sync/atomic"
	"unsafe"
)

// Loop is the process-wide counter block of one event loop: traffic,
// downstream connections, exchanges in flight, parser rejections, timeouts,
// and the gauges the loop publishes on its tick (tunnels, pending queue).
// Only the owning loop calls its methods; the Collector reads it with atomic
// loads. Its size is a multiple of 64 bytes and it is allocated on its own,
// so two loops never write the same cache line. The methods never allocate.
type Loop struct {
	// Padding to whole cache lines. It comes first: a zero-size field at
	// the end of a struct would itself be padded.
	_ [(64 - unsafe.Sizeof(loopCounters{})%64) % 64]byte
	loopCounters
}

type loopCounters struct {
	bytesIn, bytesOut uint64
	downOpened        uint64
	downClosed        uint64
	reasons           [numReasons]uint64
	timeouts          [numTimeoutKinds]uint64
	begun, ended      uint64 // exchanges opened and closed: in flight = begun - ended
	tunnels, pending  int64  // gauges set on the loop's tick
}

// BytesReceived counts n bytes read from downstream clients.
func (l *Loop) BytesReceived(n int) { atomic.AddUint64(&l.bytesIn, uint64(n)) }

// BytesSent counts n bytes written to downstream clients.
func (l *Loop) BytesSent(n int) { atomic.AddUint64(&l.bytesOut, uint64(n)) }

// DownstreamOpened counts an accepted client connection.
func (l *Loop) DownstreamOpened() { atomic.AddUint64(&l.downOpened, 1) }

// DownstreamClosed counts a closed client connection.
func (l *Loop) DownstreamClosed() { atomic.AddUint64(&l.downClosed, 1) }

// ParserReject counts a request refused by the parser for reason r.
func (l *Loop) ParserReject(r Reason) {
	if r >= numReasons {
		r = ReasonBadRequest
	}
	atomic.AddUint64(&l.reasons[r], 1)
}

// Timeout counts a deadline of kind k that expired.
func (l *Loop) Timeout(k TimeoutKind) {
	if k >= numTimeoutKinds {
		return
	}
	atomic.AddUint64(&l.timeouts[k], 1)
}

// ExchangeBegun counts an exchange (a request head, parsed or refused)
// that opened; ExchangeEnded counts it when it ends. Their difference is
// hotpath_requests_in_flight.
func (l *Loop) ExchangeBegun() { atomic.AddUint64(&l.begun, 1) }

// ExchangeEnded counts an exchange that ended (see ExchangeBegun).
func (l *Loop) ExchangeEnded() { atomic.AddUint64(&l.ended, 1) }

// SetQueues publishes, from the loop's periodic tick, the tunnels open on
// the loop (WebSocket and other upgrades) and the requests waiting in its
// endpoints' pending queues.
func (l *Loop) SetQueues(tunnels, pending int) {
	atomic.StoreInt64(&l.tunnels, int64(tunnels))
	atomic.StoreInt64(&l.pending, int64(pending))
}

// routeCell is one loop's counters for one route name, padded to whole
// cache lines.
type routeCell struct {
	_ [(64 - unsafe.Sizeof(routeCounters{})%64) % 64]byte // first: see Loop
	routeCounters
}

type routeCounters struct {
	codes    [numCodeSlots]uint64
	limited  [numLimitModes]uint64
	cache    [numCacheResults]uint64
	buckets  [numBuckets + 1]uint64 // request duration, non-cumulative; the last is +Inf
	sumNanos uint64
	_        [5 - numAuthReasons]uint64 // not last: a trailing zero-size field is padded
	auth     [numAuthReasons]uint64
}

// upstreamCell is one loop's counters for one upstream name, padded to
// whole cache lines. active and idle are gauges (signed, summed over loops
// at scrape).
type upstreamCell struct {
	_ [(64 - unsafe.Sizeof(upstreamCounters{})%64) % 64]byte // first: see Loop
	upstreamCounters
}

type upstreamCounters struct {
	codes     [numCodeSlots]uint64
	errors    [numErrorClasses]uint64
	buckets   [numBuckets + 1]uint64 // non-cumulative; the last is +Inf
	sumNanos  uint64
	active    int64
	idle      int64
	bytesSent uint64
	bytesRecv uint64
	retries   [numRetryReasons]uint64
	noBudget  uint64 // retries refused by the upstream's retry budget
}

// Shard is one loop's view of a Table: the route and upstream counters of
// that loop, indexed by the dense IDs of the Table's Labels. Only the owning
// loop calls its methods. Route and upstream IDs out of range panic like an
// index out of range: they are a wiring bug.
type Shard struct {
	routes []*routeCell
	ups    []*upstreamCell
	eps    []*endpointCell // by pool.Endpoint.ID; nil: not counted
}

// Request counts a response with status to the client on route (by code,
// see codes.go; a status outside 100..599 counts as "other") and records nanos,
// the request's duration from its head to its last response byte, in the
// route's latency histogram.
func (s *Shard) Request(route, status int, nanos int64) {
	c := s.routes[route]
	atomic.AddUint64(&c.codes[codeSlot(status)], 1)
	atomic.AddUint64(&c.buckets[bucket(nanos)], 1)
	if nanos > 0 {
		atomic.AddUint64(&c.sumNanos, uint64(nanos))
	}
}

// LimiterReject counts a request on route refused by its rate limiter, or
// only recorded as over the limit in shadow mode.
func (s *Shard) LimiterReject(route int, mode LimitMode) {
	if mode >= numLimitModes {
		mode = LimitEnforced
	}
	atomic.AddUint64(&s.routes[route].limited[mode], 1)
}

// LimiterRejected counts a request on route refused by its rate limiter
// (LimiterReject with LimitEnforced).
func (s *Shard) LimiterRejected(route int) {
	atomic.AddUint64(&s.routes[route].limited[LimitEnforced], 1)
}

// AuthRejected counts a request on route refused by its auth policy.
func (s *Shard) AuthRejected(route int, r AuthReason) {
	if r >= numAuthReasons {
		r = AuthInvalid
	}
	atomic.AddUint64(&s.routes[route].auth[r], 1)
}

// CacheResult counts one response-cache lookup on route with result kind.
func (s *Shard) CacheResult(route int, kind CacheResult) {
	if kind >= numCacheResults {
		return
	}
	atomic.AddUint64(&s.routes[route].cache[kind], 1)
}

// UpstreamResponse counts a response from upstream with status, and
// records nanos (the engine measures from the start of the exchange to the
// end of the response head) in the latency histogram.
func (s *Shard) UpstreamResponse(upstream, status int, nanos int64) {
	c := s.ups[upstream]
	atomic.AddUint64(&c.codes[codeSlot(status)], 1)
	atomic.AddUint64(&c.buckets[bucket(nanos)], 1)
	if nanos > 0 {
		atomic.AddUint64(&c.sumNanos, uint64(nanos))
	}
}

// bucket returns the histogram bucket index of nanos (numBuckets: +Inf).
func bucket(nanos int64) int {
	i := 0
	for i < numBuckets && nanos > bucketNanos[i] {
		i++
	}
	return i
}

// UpstreamError counts a failed exchange with upstream.
func (s *Shard) UpstreamError(upstream int, kind ErrorClass) {
	if kind >= numErrorClasses {
		kind = ErrorBadResponse
	}
	atomic.AddUint64(&s.ups[upstream].errors[kind], 1)
}

// UpstreamRetry counts a request sent again to another endpoint of
// upstream after why.
func (s *Shard) UpstreamRetry(upstream int, why RetryReason) {
	if why >= numRetryReasons {
		why = RetryReset
	}
	atomic.AddUint64(&s.ups[upstream].retries[why], 1)
}

// RetryBudgetExhausted counts a retry that upstream's retry budget refused.
func (s *Shard) RetryBudgetExhausted(upstream int) {
	atomic.AddUint64(&s.ups[upstream].noBudget, 1)
}

// UpstreamBytes counts bytes written to (sent) and read from (received)
// upstream.
func (s *Shard) UpstreamBytes(upstream, sent, received int) {
	c := s.ups[upstream]
	if sent != 0 {
		atomic.AddUint64(&c.bytesSent, uint64(sent))
	}
	if received != 0 {
		atomic.AddUint64(&c.bytesRecv, uint64(received))
	}
}

// SetConns publishes this loop's connections to upstream: active (open and
// serving or dialing) and idle (parked keep-alive). The loop calls it from
// its periodic tick with counts read from its pools, so the request path
// pays nothing for these gauges. Storage is per upstream name; the
// Collector sums the loops.
func (s *Shard) SetConns(upstream int, active, idle int64) {
	c := s.ups[upstream]
	atomic.StoreInt64(&c.active, active)
	atomic.StoreInt64(&c.idle, idle)
}
