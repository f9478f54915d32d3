package engine

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotpath/hotpath/accesslog"
	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/metrics"
	"github.com/hotpath/hotpath/parser"
)

// This file is the engine's observability: the per-loop metrics
// (metrics.Loop and metrics.Shard) and the access log (accesslog.Buffer),
// fed from a few hook calls in the connection state machines (down.go,
// up.go) and the loop (loop.go). Everything here runs on the owning loop and
// costs a handful of uncontended atomic adds per request, or nothing when
// metrics and the access log are off.
//
// What is measured where:
//   - An exchange opens in begin (a parsed head) or reject (a refused one)
//     and ends once, in finish, toClosing or onClose (the client went away
//     or the response was cut short), whichever comes first. Its end records
//     hotpath_requests_total and hotpath_request_duration_seconds (from the
//     head to the end; a status of 0, label code="other", means no
//     response), the bytes counters and the access-log line.
//   - The upstream's response head records hotpath_upstream_requests_total
//     and hotpath_upstream_request_duration_seconds (exchange start to the
//     end of the response head).
//   - Upstream connection gauges are read from the loop's pools on its tick.

// observer is a Server's observability state.
type observer struct {
	metrics   *metrics.Collector // nil: metrics.enabled is false
	alog      *accesslog.Log     // nil: access log off; opened by Start
	alogCfg   config.AccessLog   // as at New: the path needs a restart
	started   *config.Config     // the observability sections as at New, for NeedsRestart
	alogOut   io.Writer          // WithAccessLogOutput: replaces the configured path
	epochUnix int64              // wall clock of Server.epoch, for access-log times
	nextLoop  atomic.Int32       // loop IDs, in order of the loops' first connection
	loops     int
	log       *slog.Logger
	failures  failureLog // rate limit of the upstream-failure log lines
}

// WithAccessLogOutput sends the access log to w instead of
// access_log.path, and turns it on even when the path is empty (tests and
// benchmarks). The Server does not close w.
func WithAccessLogOutput(w io.Writer) Option { return func(s *Server) { s.obs.alogOut = w } }

// initObs prepares the observability of a new Server (before its first
// table is compiled).
func (s *Server) initObs(cfg *config.Config) {
	o := &s.obs
	o.loops = s.loops
	o.epochUnix = s.epoch.UnixNano()
	o.alogCfg = cfg.AccessLog
	o.started = &config.Config{Admin: cfg.Admin, Metrics: cfg.Metrics, AccessLog: cfg.AccessLog, Log: cfg.Log}
	if cfg.Metrics.Enabled {
		o.metrics = metrics.New(metrics.Options{Loops: s.loops, AccessLogDropped: o.dropped, Accept: s.AcceptStats,
			Upstreams: s.upstreamHealth, Edge: s.EdgeStats, TLS: s.tlsStats,
			AccessLogWriteErrors: o.writeErrors, Cache: s.cacheStats, Aggregates: s.aggregateMetrics,
			Endpoints: s.endpointStates, GRPC: s.grpcStats})
	}
}

// install gives t its metrics label table (routes and upstreams in config
// order). It fails when the distinct names would pass the metrics bounds.
func (o *observer) install(t *table) error {
	if o.metrics == nil {
		return nil
	}
	var l metrics.Labels
	for _, rc := range t.cfg.Routes {
		name := rc.Name
		if name == "" {
			name = rc.Path // as compile names the route
		}
		l.Routes = append(l.Routes, name)
		l.Limited = append(l.Limited, rc.RateLimit != nil)
		l.Cached = append(l.Cached, rc.Cache != nil && rc.Cache.Enabled)
	}
	for _, u := range t.upstreams {
		l.Upstreams = append(l.Upstreams, u.name)
		for _, e := range u.eps {
			l.Endpoints = append(l.Endpoints, metrics.Endpoint{Upstream: u.name, Addr: e.Addr, ID: e.ID})
		}
	}
	mt, err := o.metrics.Install(l)
	if err != nil {
		return t.cfg.Errorf("routes", err.Error())
	}
	if mt.Overflowed > 0 && o.log != nil {
		o.log.Warn("more distinct route names than metrics keep: the rest are counted under one label",
			"label", metrics.OtherRoute, "routes", mt.Overflowed)
	}
	t.mt = mt
	return nil
}

// reload applies the access-log settings a reload can change and reopens
// the access-log file (so that SIGHUP after logrotate moves it works).
func (o *observer) reload(cfg *config.Config, log *slog.Logger) {
	if restart := o.started.NeedsRestart(cfg); len(restart) > 0 {
		log.Warn("these settings need a restart; the running values stay", "fields", restart)
	}
	if o.alog != nil {
		o.alog.SetSample(cfg.AccessLog.SampleEvery())
		o.alog.SetRedactQuery(cfg.AccessLog.Redacted)
		if err := o.alog.Reopen(); err != nil {
			log.Error("access log reopen failed", "err", err)
		}
	}
}

// start opens the access log, if configured.
func (o *observer) start(log *slog.Logger) error {
	c := o.alogCfg
	if c.Path == "" && o.alogOut == nil {
		return nil
	}
	opts := accesslog.Options{
		Loops:      o.loops,
		BufferSize: int(c.BufferBytes),
		Sample:     c.SampleEvery(),
		Logger:     log,
		Output:     o.alogOut,
	}
	opts.RedactQuery = c.Redacted // query parameters never logged in clear
	if opts.Output == nil {
		switch c.Path {
		case "stdout":
			opts.Output = os.Stdout
		case "stderr":
			opts.Output = os.Stderr
		default:
			opts.Path = c.Path
		}
	}
	l, err := accesslog.New(opts)
	if err != nil {
		return err
	}
	o.alog = l
	return nil
}

// close flushes and closes the access log once the loops have stopped.
func (o *observer) close() {
	if o.alog != nil {
		_ = o.alog.Close() // ErrClosed on the second call
	}
}

func (o *observer) dropped() uint64 {
	if o.alog == nil {
		return 0
	}
	return o.alog.Dropped()
}

func (o *observer) writeErrors() uint64 {
	if o.alog == nil {
		return 0
	}
	return o.alog.WriteErrors()
}

// waiting counts the requests waiting in the loop's pending queues (the
// live entries: stale ones are dropped lazily). The loop's tick calls it
// for hotpath_pending_requests.
func (p *pending) waiting() int {
	if p.entries == 0 {
		return 0
	}
	n := 0
	for _, q := range p.listed {
		for i := 0; i < q.n; i++ {
			if q.live(q.at(i)) {
				n++
			}
		}
	}
	return n
}

// cacheStats is the metrics' view of the shared response cache; ok is
// false while no route caches.
func (s *Server) cacheStats() (metrics.CacheStats, bool) {
	c := s.sharedCache()
	if c == nil {
		return metrics.CacheStats{}, false
	}
	st := c.Stats()
	return metrics.CacheStats{Stores: st.Stores, StoredBytes: st.StoredBytes, Rejections: st.Rejections,
		Evictions: st.Evictions, EvictedBytes: st.EvictedBytes, Expirations: st.Expirations,
		SizeBytes: st.SizeBytes}, true
}

// aggregateMetrics is the metrics' view of AggregateStats.
func (s *Server) aggregateMetrics() []metrics.AggregateStats {
	as := s.AggregateStats()
	out := make([]metrics.AggregateStats, len(as))
	for i, a := range as {
		out[i] = metrics.AggregateStats{Route: a.Route, InFlight: a.InFlight,
			Saturated: uint64(a.Saturated), PartFailures: uint64(a.PartFailures)}
	}
	return out
}

// endpointStates reads every configured endpoint's health and in-flight
// requests for the metrics.
func (s *Server) endpointStates() []metrics.EndpointState {
	t := s.tbl.Load()
	var out []metrics.EndpointState
	for _, u := range t.upstreams {
		for _, e := range u.eps {
			passed, failed := e.HealthChecks()
			out = append(out, metrics.EndpointState{
				Upstream: u.name, Addr: e.Addr,
				Healthy: e.Healthy(), ActiveDown: e.ActiveDown(), Ejected: e.Ejected(),
				Ejections: e.Ejections(), Checked: u.checked, ChecksPassed: passed, ChecksFailed: failed,
				InFlight: e.InFlight(),
			})
		}
	}
	return out
}

// Collector returns the Server's metrics for a Prometheus registry, or nil
// when metrics.enabled is false.
func (s *Server) Collector() prometheus.Collector {
	if s.obs.metrics == nil {
		return nil
	}
	return s.obs.metrics
}

// AccessLogDropped returns the access-log records dropped so far because
// its writer was behind.
func (s *Server) AccessLogDropped() uint64 { return s.obs.dropped() }

// Ready reports whether the Server is serving and not draining (the admin
// API's /readyz).
func (s *Server) Ready() bool { return s.started.Load() && !s.draining.Load() }

// Config returns the configuration of the current routing table.
func (s *Server) Config() *config.Config { return s.tbl.Load().cfg }

// loopObs is one loop's observability state.
type loopObs struct {
	id   int               // index of the loop's metrics shard and access-log buffer
	mx   *metrics.Loop     // nil: metrics off
	alog *accesslog.Buffer // nil: access log off
	rec  accesslog.Record  // reused for every line
}

func (o *observer) newLoop() loopObs {
	id := int(o.nextLoop.Add(1) - 1)
	if id >= o.loops {
		id = o.loops - 1 // gnet runs exactly o.loops loops; never reached
	}
	lo := loopObs{id: id}
	if o.metrics != nil {
		lo.mx = o.metrics.Loop(id)
	}
	if o.alog != nil {
		lo.alog = o.alog.Buffer(id)
	}
	return lo
}

// tick runs on the loop's periodic tick: it hands the access-log buffer to
// the writer and publishes the loop's upstream connection counts.
func (lo *loopObs) tick(lp *loop) {
	lo.alog.Flush()
	t := lp.srv.tbl.Load()
	if t.mt == nil {
		return
	}
	if lo.mx != nil {
		lo.mx.SetQueues(len(lp.tunnels), lp.pending.waiting())
	}
	sh := t.mt.Shard(lo.id)
	for _, u := range t.upstreams {
		var open, idle int
		for _, ep := range u.eps {
			var o, i int
			if ep.ID < len(lp.conns) {
				if p := lp.conns[ep.ID]; p != nil {
					o, i = p.Active(), p.IdleLen()
				}
			}
			ho, hi := lp.h2up.counts(ep.ID) // HTTP/2 connections (up2.go)
			o, i = o+ho, i+hi
			sh.SetEndpointConns(ep.ID, int64(o-i), int64(i))
			open += o
			idle += i
		}
		sh.SetConns(u.id, int64(open-idle), int64(idle))
	}
}

func (lo *loopObs) downOpened() {
	if lo.mx != nil {
		lo.mx.DownstreamOpened()
	}
}

func (lo *loopObs) downClosed() {
	if lo.mx != nil {
		lo.mx.DownstreamClosed()
	}
}

// exchangeObs is what a client connection notes about its current exchange
// for the metrics and the access log. It is reset when an exchange opens.
type exchangeObs struct {
	open     bool
	headLen  int   // bytes of the request head
	bytesIn  int   // request bytes read from the client (head and body)
	bytesOut int   // response bytes written by send and sendChunk
	upIn     int   // response bytes read from the upstream
	upEnd    int64 // loop clock when the upstream part ended (endEP); 0: none
	upAddr   string
	cache    accesslog.CacheStatus
	limiter  accesslog.LimiterResult
	reason   accesslog.Reason // why the gateway answered itself; reset when the exchange ends
	clientIP netip.Addr       // resolved through trusted_proxies (access log on only)

	// Copies of the head's fields for the access log (the head's bytes are
	// gone from the read buffer by the time the exchange ends), each cut at
	// accesslog.MaxField bytes. Only filled when the access log is on.
	text []byte
	span [numSpans][2]int32
}

// Fields of exchangeObs.text.
const (
	spanMethod = iota
	spanHost
	spanPath
	spanQuery
	spanUserAgent
	spanRequestID
	numSpans
)

func (x *exchangeObs) keep(i int, b []byte) {
	b = b[:min(len(b), accesslog.MaxField)]
	x.span[i] = [2]int32{int32(len(x.text)), int32(len(x.text) + len(b))}
	x.text = append(x.text, b...)
}

func (x *exchangeObs) field(i int) []byte {
	s := x.span[i]
	return x.text[s[0]:s[1]:s[1]]
}

// observeBegin opens the exchange of the head just parsed; headLen is its
// size in bytes.
func (d *exchange) observeBegin(headLen int) {
	x := &d.obs
	if mx := d.lp.obs.mx; mx != nil && !x.open {
		mx.ExchangeBegun()
		if d.isH2() {
			mx.ExchangeOverH2()
		}
	}
	x.open = true
	x.headLen, x.bytesIn, x.bytesOut, x.upIn, x.upEnd, x.upAddr = headLen, headLen, 0, 0, 0, ""
	x.cache, x.limiter, x.reason = accesslog.CacheNone, accesslog.LimiterNone, accesslog.ReasonNone
	if d.lp.obs.alog == nil {
		return
	}
	x.clientIP = d.clientAddrNoPolicy()
	r := &d.req
	x.text = x.text[:0]
	x.keep(spanMethod, r.Method)
	x.keep(spanHost, r.Host)
	x.keep(spanPath, r.Path)
	x.keep(spanQuery, r.Query)
	var ua, id []byte
	for _, h := range r.Headers {
		switch len(h.Name) {
		case 10:
			if parser.EqualFold(h.Name, "user-agent") {
				ua = h.Value
			}
		case 12:
			if parser.EqualFold(h.Name, "x-request-id") {
				id = h.Value
			}
		}
	}
	x.keep(spanUserAgent, ua)
	x.keep(spanRequestID, id)
}

// observeParseError counts a head the parser refused; reject follows. buf
// is what was given to Parse: when the request line parsed, its method,
// path and query are kept for the access log (a head refused in its
// fields, too large, say, still names its target).
func (d *exchange) observeParseError(err error, buf []byte) {
	if d.req.Method == nil && d.lp.obs.alog != nil {
		if m, p, q := d.req.Line(buf); m != nil {
			d.req.Method, d.req.Path, d.req.Query = m, p, q
		}
	}
	r := rejectReason(err)
	d.obs.reason = parserLogReason[r]
	if mx := d.lp.obs.mx; mx != nil {
		mx.ParserReject(r)
	}
}

// parserLogReason is the access log's reason for each parser refusal.
var parserLogReason = [...]accesslog.Reason{
	metrics.ReasonBadRequest:       accesslog.ReasonBadRequest,
	metrics.ReasonRequestTimeout:   accesslog.ReasonClientTimeout,
	metrics.ReasonBodyTooLarge:     accesslog.ReasonBodyTooLarge,
	metrics.ReasonURITooLong:       accesslog.ReasonURITooLong,
	metrics.ReasonHeadersTooLarge:  accesslog.ReasonHeadersTooLarge,
	metrics.ReasonNotImplemented:   accesslog.ReasonNotImplemented,
	metrics.ReasonVersion:          accesslog.ReasonVersionNotSupported,
	metrics.ReasonAmbiguousFraming: accesslog.ReasonAmbiguousFraming,
	metrics.ReasonInvalidChunked:   accesslog.ReasonInvalidChunked,
	metrics.ReasonHTTP2Preface:     accesslog.ReasonBadRequest,
	metrics.ReasonBadPath:          accesslog.ReasonBadPath,
}

// errLogReason is the access log's reason for the engine's errors.
func errLogReason(err error) accesslog.Reason {
	switch err {
	case ErrNoRoute:
		return accesslog.ReasonNoRoute
	case ErrMethodNotAllowed:
		return accesslog.ReasonMethodNotAllowed
	case ErrBadPath, ErrEncodedSeparator:
		return accesslog.ReasonBadPath
	case ErrNoHealthyEndpoint:
		return accesslog.ReasonNoHealthyEndpoint
	case ErrPoolExhausted:
		return accesslog.ReasonPoolExhausted
	case ErrUpstreamConnect:
		return accesslog.ReasonConnectFailure
	case ErrConnectTimeout:
		return accesslog.ReasonConnectTimeout
	case ErrUpstreamTimeout:
		return accesslog.ReasonUpstreamHeaderTimeout
	case ErrUpstreamClosed:
		return accesslog.ReasonUpstreamReset
	case ErrUpstreamMalformed:
		return accesslog.ReasonUpstreamBadResponse
	case ErrClientTimeout:
		return accesslog.ReasonClientTimeout
	case ErrBadRequestBody:
		return accesslog.ReasonInvalidChunked
	case ErrUnderscoreField:
		return accesslog.ReasonUnderscoreHeader
	case ErrShuttingDown:
		return accesslog.ReasonShuttingDown
	case ErrBodyTooLarge:
		return accesslog.ReasonMaxBody
	case ErrNoHostToRedirect:
		return accesslog.ReasonNoHost
	}
	return accesslog.ReasonLocal
}

// statusLogReason is the reason of a local response whose cause no hook
// named (a 408 for a head that never completed, say).
func statusLogReason(status int) accesslog.Reason {
	switch status {
	case 400:
		return accesslog.ReasonBadRequest
	case 408:
		return accesslog.ReasonClientTimeout
	case 413:
		return accesslog.ReasonBodyTooLarge
	case 414:
		return accesslog.ReasonURITooLong
	case 431:
		return accesslog.ReasonHeadersTooLarge
	case 501:
		return accesslog.ReasonNotImplemented
	case 505:
		return accesslog.ReasonVersionNotSupported
	}
	return accesslog.ReasonLocal
}

// authLogReason is the access log's reason for each auth refusal.
var authLogReason = [...]accesslog.Reason{
	metrics.AuthMissing:    accesslog.ReasonAuthMissing,
	metrics.AuthInvalid:    accesslog.ReasonAuthInvalid,
	metrics.AuthForbidden:  accesslog.ReasonAuthForbidden,
	metrics.AuthBusy:       accesslog.ReasonAuthBusy,
	metrics.AuthClientCert: accesslog.ReasonClientCert,
}

// edgeLogReason is the access log's reason for an edge refusal, by its
// counter (edge.go).
func edgeLogReason(counter int) accesslog.Reason {
	switch counter {
	case edgeRequestsIPFilter:
		return accesslog.ReasonIPFilter
	case edgeRequestsBodyLarge:
		return accesslog.ReasonMaxBody
	case edgePreflightsRefused:
		return accesslog.ReasonCORSRefused
	}
	return accesslog.ReasonLocal
}

// setReason records why the gateway answers d itself, unless a hook that
// knew more already did.
func (d *exchange) setReason(r accesslog.Reason) {
	if d.obs.reason == accesslog.ReasonNone {
		d.obs.reason = r
	}
}

// clientAddrNoPolicy is clientAddr for an exchange that may have no
// policy state (the access log resolves every request's client).
func (d *exchange) clientAddrNoPolicy() netip.Addr {
	if d.pol != nil {
		return d.clientAddr()
	}
	peer := d.cl.remoteAddr().Addr().Unmap()
	tp := d.tbl.pol.trusted
	if !tp.Trusted(peer) {
		return peer
	}
	client, hs := peer, d.req.Headers
	for i := len(hs) - 1; i >= 0; i-- { // as clientAddr: from the last line back
		if h := hs[i]; len(h.Name) == 15 && parser.EqualFold(h.Name, "x-forwarded-for") {
			var done bool
			if client, done = tp.Step(client, h.Value); done {
				break
			}
		}
	}
	return client
}

// observeReject opens the exchange of a refused head: no route, no fields.
// inbound is the refused bytes still buffered.
func (d *exchange) observeReject(inbound int) {
	x := &d.obs
	if mx := d.lp.obs.mx; mx != nil && !x.open {
		mx.ExchangeBegun()
		if d.isH2() {
			mx.ExchangeOverH2()
		}
	}
	x.open = true
	x.headLen, x.bytesIn, x.bytesOut, x.upIn, x.upEnd, x.upAddr = 0, inbound, 0, 0, 0, ""
	x.cache, x.limiter = accesslog.CacheNone, accesslog.LimiterNone
	x.text = x.text[:0]
	x.span = [numSpans][2]int32{}
	x.clientIP = netip.Addr{} // the fields cannot be trusted: the peer's address only
	if d.lp.obs.alog != nil {
		x.clientIP = d.cl.remoteAddr().Addr().Unmap()
		// What the parser got to before it refused the head: the method
		// and path once the request line parsed (they are nil otherwise,
		// and still point into the unread input).
		r := &d.req
		x.keep(spanMethod, r.Method)
		x.keep(spanPath, r.Path)
		x.keep(spanQuery, r.Query)
	}
	d.rt = nil
	d.start = d.lp.srv.now()
	if d.tbl == nil {
		d.tbl = d.lp.srv.tbl.Load()
	}
}

// observeLocalError counts the failures that localError answers and no
// other hook sees.
func (d *exchange) observeLocalError(err error) {
	d.setReason(errLogReason(err))
	switch err {
	case ErrBadRequestBody:
		if mx := d.lp.obs.mx; mx != nil {
			mx.ParserReject(metrics.ReasonInvalidChunked)
		}
	case ErrUnderscoreField:
		if mx := d.lp.obs.mx; mx != nil {
			mx.ParserReject(metrics.ReasonBadRequest)
		}
	case ErrBadPath, ErrEncodedSeparator:
		if mx := d.lp.obs.mx; mx != nil {
			mx.ParserReject(metrics.ReasonBadPath)
		}
	case ErrNoHealthyEndpoint:
		d.observeUpstreamError(err)
	}
}

// observeUpstreamError counts a failed upstream exchange by kind, and the
// upstream timeouts by kind. d.u is still attached.
func (d *exchange) observeUpstreamError(err error) {
	var kind metrics.ErrorClass
	timeout := metrics.TimeoutKind(255)
	reason := errLogReason(err)
	switch err {
	case ErrUpstreamConnect:
		kind = metrics.ErrorConnect
	case ErrConnectTimeout:
		kind, timeout = metrics.ErrorTimeout, metrics.TimeoutConnect
	case ErrUpstreamTimeout:
		kind, timeout = metrics.ErrorTimeout, metrics.TimeoutUpstreamHeader
		if d.u != nil && d.u.dl == dlUpRead {
			timeout, reason = metrics.TimeoutUpstreamRead, accesslog.ReasonUpstreamReadTimeout
		}
	case ErrUpstreamClosed:
		kind = metrics.ErrorReset
	case ErrUpstreamMalformed:
		kind = metrics.ErrorBadResponse
	case ErrPoolExhausted:
		kind = metrics.ErrorPoolExhausted
	case ErrNoHealthyEndpoint:
		kind = metrics.ErrorNoHealthyEndpoint
	default:
		return
	}
	d.setReason(reason)
	d.logUpstreamFailure(err, reason)
	mt := d.tbl.mt
	if mt == nil || d.rt == nil || d.rt.up == nil {
		return
	}
	sh := mt.Shard(d.lp.obs.id)
	sh.UpstreamError(d.rt.up.id, kind)
	if d.ep != nil {
		sh.EndpointError(d.ep.ID, kind)
	}
	if mx := d.lp.obs.mx; mx != nil && timeout != 255 {
		mx.Timeout(timeout)
	}
}

// observeAttemptFailed counts an attempt that failed for why and is
// retried elsewhere against its endpoint (d.ep): the upstream's errors
// count only the exchanges that failed in the end, the endpoint's every
// failure it caused. A 5xx the retry policy retries is already counted by
// code.
func (d *exchange) observeAttemptFailed(why metrics.RetryReason) {
	mt := d.tbl.mt
	if mt == nil || d.ep == nil {
		return
	}
	var kind metrics.ErrorClass
	switch why {
	case metrics.RetryConnect:
		kind = metrics.ErrorConnect
	case metrics.RetryReset:
		kind = metrics.ErrorReset
	case metrics.RetryTimeout:
		kind = metrics.ErrorTimeout
	default:
		return
	}
	mt.Shard(d.lp.obs.id).EndpointError(d.ep.ID, kind)
}

// upstreamFailureLogEvery is the process log's rate for upstream failures:
// one line per interval for the whole server, counting the ones it left out.
const upstreamFailureLogEvery = int64(time.Second)

// failureLog rate-limits the process log's lines about upstream failures
// (every loop writes through it; a log line is a system call).
type failureLog struct {
	last       atomic.Int64 // loop clock of the last line
	suppressed atomic.Int64 // failures since, not logged
}

// logUpstreamFailure writes a process-log line for an upstream failure
// (the 502s, 503s and 504s it causes, or a response cut short), at most
// once per upstreamFailureLogEvery; the line says how many it left out.
func (d *exchange) logUpstreamFailure(err error, reason accesslog.Reason) {
	s := d.lp.srv
	fl := &s.obs.failures
	now := s.now()
	last := fl.last.Load()
	if (last != 0 && now-last < upstreamFailureLogEvery) || !fl.last.CompareAndSwap(last, now) {
		fl.suppressed.Add(1)
		return
	}
	route, upstream, endpoint := "", "", ""
	if d.rt != nil {
		route = d.rt.name
		if d.rt.up != nil {
			upstream = d.rt.up.name
		}
	}
	if d.ep != nil {
		endpoint = d.ep.Addr
	}
	status := Status(err)
	if d.started {
		status = 0 // the response had started: it is cut short
	}
	s.log.Warn("upstream failure", "reason", reason.String(), "status", status, "route", route,
		"upstream", upstream, "endpoint", endpoint, "suppressed", fl.suppressed.Swap(0))
}

// observeDeadline counts h's expired deadline; h.tick acts on it next.
func (h *h1conn) observeDeadline() {
	mx := h.lp.obs.mx
	if mx == nil {
		return
	}
	switch h.dl {
	case dlKeepalive:
		mx.Timeout(metrics.TimeoutKeepalive)
	case dlHeader:
		mx.Timeout(metrics.TimeoutClientHeader)
		if h.c.InboundBuffered() > 0 { // a partial head: refused with 408
			mx.ParserReject(metrics.ReasonRequestTimeout)
		}
	case dlBody:
		mx.Timeout(metrics.TimeoutClientBody)
	case dlFlush:
		if h.c.OutboundBuffered() >= h.lastOut { // no progress: the tick closes it
			mx.Timeout(metrics.TimeoutClientFlush)
		}
	}
}

// observeUpstreamHead records the upstream's final response head, complete
// at now (loop clock).
func (d *exchange) observeUpstreamHead(now int64) {
	if mt := d.tbl.mt; mt != nil && d.rt != nil && d.rt.up != nil {
		sh := mt.Shard(d.lp.obs.id)
		sh.UpstreamResponse(d.rt.up.id, d.status, now-d.start)
		if d.ep != nil {
			sh.EndpointResponse(d.ep.ID, d.status, now-d.start)
		}
	}
}

// observeEnd closes the exchange, if one is open: request metrics and the
// access-log line.
func (d *exchange) observeEnd() {
	if d.obs.open {
		d.observeEndAt(d.lp.srv.now())
	}
}

// observeEndAt is observeEnd for a caller that has read the loop clock
// (finish shares it with the keep-alive deadline).
func (d *exchange) observeEndAt(now int64) {
	x := &d.obs
	if !x.open {
		return
	}
	x.open = false
	lo := &d.lp.obs
	t := d.tbl
	status := d.status
	if d.local {
		x.bytesOut += len(d.out)
	}
	if mt := t.mt; mt != nil {
		sh := mt.Shard(lo.id)
		route := mt.Unmatched()
		if d.rt != nil {
			route = d.rt.id
			if d.rt.up != nil && x.upAddr != "" {
				// Sent: the rewritten head and the body bytes forwarded.
				sh.UpstreamBytes(d.rt.up.id, len(d.head)+x.bytesIn-x.headLen, x.upIn)
			}
		}
		sh.Request(route, status, now-d.start)
		lo.mx.ExchangeEnded()
		lo.mx.BytesReceived(x.bytesIn)
		lo.mx.BytesSent(x.bytesOut)
	}
	if lo.alog != nil && (!t.errorsOnly || status >= 400 || status == 0) {
		d.logAccess(now, status)
	}
	x.reason = accesslog.ReasonNone // a refused head's reason is set before its exchange opens
}

func durationOf(nanos int64) time.Duration { return time.Duration(nanos) }

var (
	http10 = []byte("HTTP/1.0")
	http11 = []byte("HTTP/1.1")
	http20 = []byte("HTTP/2.0")
)

// logAccess appends the exchange's access-log line to the loop's buffer.
func (d *exchange) logAccess(now int64, status int) {
	x := &d.obs
	lo := &d.lp.obs
	r := &lo.rec
	r.Time = d.lp.srv.obs.epochUnix + d.start
	r.Client = clientAddr(d)
	r.ClientIP = x.clientIP
	r.Reason = x.reason
	if r.Reason == accesslog.ReasonNone && d.local && status >= 400 && x.cache != accesslog.CacheHit && x.cache != accesslog.CacheStale {
		r.Reason = statusLogReason(status)
	}
	r.Method = x.field(spanMethod)
	r.Host = x.field(spanHost)
	r.Path = x.field(spanPath)
	r.Query = x.field(spanQuery)
	switch {
	case d.isH2():
		r.Protocol = http20
	case d.minor == 0:
		r.Protocol = http10
	default:
		r.Protocol = http11
	}
	r.Status = status
	r.BytesSent, r.BytesReceived = int64(x.bytesOut), int64(x.bytesIn)
	r.Duration = durationOf(now - d.start)
	r.Upstream = x.upAddr
	r.UpstreamDuration = 0
	if x.upAddr != "" {
		end := x.upEnd
		if end == 0 {
			end = now
		}
		r.UpstreamDuration = durationOf(end - d.start)
	}
	r.Cache, r.Limiter = x.cache, x.limiter
	r.Route = ""
	if d.rt != nil {
		r.Route = d.rt.name
	}
	r.UserAgent = x.field(spanUserAgent)
	r.RequestID = x.field(spanRequestID)
	lo.alog.Append(r)
}

// clientAddr returns d's peer address without allocating.
func clientAddr(d *exchange) netip.AddrPort { return d.cl.remoteAddr() }

// cacheResult records the response cache's outcome for d's exchange:
// hotpath_cache_lookups_total{route,result} and the access log's cache
// field. The cache policy calls it once per looked-up request.
func (d *exchange) cacheResult(r metrics.CacheResult) {
	switch r {
	case metrics.CacheHit:
		d.obs.cache = accesslog.CacheHit
	case metrics.CacheMiss:
		d.obs.cache = accesslog.CacheMiss
	case metrics.CacheStale:
		d.obs.cache = accesslog.CacheStale
	}
	if mt := d.tbl.mt; mt != nil && d.rt != nil {
		mt.Shard(d.lp.obs.id).CacheResult(d.rt.id, r)
	}
}

// limiterResult records the rate limiter's decision for d's exchange: the
// access log's limiter field, and hotpath_limiter_rejections_total for a
// rejection (mode enforce) or a shadow-mode excess (mode shadow).
func (d *exchange) limiterResult(r accesslog.LimiterResult) {
	d.obs.limiter = r
	if r == accesslog.LimiterRejected {
		d.setReason(accesslog.ReasonRateLimited)
	}
	mt := d.tbl.mt
	if mt == nil || d.rt == nil {
		return
	}
	switch r {
	case accesslog.LimiterRejected:
		mt.Shard(d.lp.obs.id).LimiterRejected(d.rt.id)
	case accesslog.LimiterShadow:
		mt.Shard(d.lp.obs.id).LimiterReject(d.rt.id, metrics.LimitShadow)
	}
}

// rejectReason maps a request parser error to its metrics reason: framing
// and chunked errors by name, the rest by the status they are answered with.
func rejectReason(err error) metrics.Reason {
	for _, e := range ambiguousFraming {
		if errors.Is(err, e) {
			return metrics.ReasonAmbiguousFraming
		}
	}
	for _, e := range chunkedErrors {
		if errors.Is(err, e) {
			return metrics.ReasonInvalidChunked
		}
	}
	if errors.Is(err, parser.ErrHTTP2Preface) {
		return metrics.ReasonHTTP2Preface
	}
	return metrics.ReasonForStatus(parser.Status(err))
}

var (
	ambiguousFraming = []error{
		parser.ErrContentLengthWithTransferEncoding, parser.ErrDuplicateContentLength,
		parser.ErrTransferEncodingHTTP10, parser.ErrChunkedNotFinal, parser.ErrChunkedTwice,
	}
	chunkedErrors = []error{
		parser.ErrInvalidChunkSize, parser.ErrChunkSizeOverflow, parser.ErrInvalidChunkExtension,
		parser.ErrChunkLineTooLong, parser.ErrMissingChunkCRLF, parser.ErrTrailerTooLarge,
	}
)
