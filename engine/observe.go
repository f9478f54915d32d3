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
	alogOut   io.Writer          // WithAccessLogOutput: replaces the configured path
	epochUnix int64              // wall clock of Server.epoch, for access-log times
	nextLoop  atomic.Int32       // loop IDs, in order of the loops' first connection
	loops     int
	log       *slog.Logger
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
	if cfg.Metrics.Enabled {
		o.metrics = metrics.New(metrics.Options{Loops: s.loops, AccessLogDropped: o.dropped, Accept: s.AcceptStats,
			Upstreams: s.upstreamHealth, Edge: s.EdgeStats, TLS: s.tlsStats})
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
	}
	for _, u := range t.upstreams {
		l.Upstreams = append(l.Upstreams, u.name)
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
	if restart := o.configured().NeedsRestart(cfg); len(restart) > 0 {
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

// configured returns a Config holding the observability settings the
// Server started with, for NeedsRestart.
func (o *observer) configured() *config.Config {
	c := &config.Config{AccessLog: o.alogCfg}
	c.Metrics.Enabled = o.metrics != nil
	return c
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
	sh := t.mt.Shard(lo.id)
	for _, u := range t.upstreams {
		var open, idle int
		for _, ep := range u.eps {
			if ep.ID < len(lp.conns) {
				if p := lp.conns[ep.ID]; p != nil {
					open += p.Active()
					idle += p.IdleLen()
				}
			}
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
	x.open = true
	x.headLen, x.bytesIn, x.bytesOut, x.upIn, x.upEnd, x.upAddr = headLen, headLen, 0, 0, 0, ""
	x.cache, x.limiter = accesslog.CacheNone, accesslog.LimiterNone
	if d.lp.obs.alog == nil {
		return
	}
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

// observeParseError counts a head the parser refused; reject follows.
func (d *exchange) observeParseError(err error) {
	if mx := d.lp.obs.mx; mx != nil {
		mx.ParserReject(rejectReason(err))
	}
}

// observeReject opens the exchange of a refused head: no route, no fields.
// inbound is the refused bytes still buffered.
func (d *exchange) observeReject(inbound int) {
	x := &d.obs
	x.open = true
	x.headLen, x.bytesIn, x.bytesOut, x.upIn, x.upEnd, x.upAddr = 0, inbound, 0, 0, 0, ""
	x.cache, x.limiter = accesslog.CacheNone, accesslog.LimiterNone
	x.text = x.text[:0]
	x.span = [numSpans][2]int32{}
	if d.lp.obs.alog != nil {
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
	mt := d.tbl.mt
	if mt == nil || d.rt == nil || d.rt.up == nil {
		return
	}
	var kind metrics.ErrorClass
	timeout := metrics.TimeoutKind(255)
	switch err {
	case ErrUpstreamConnect:
		kind = metrics.ErrorConnect
	case ErrConnectTimeout:
		kind, timeout = metrics.ErrorTimeout, metrics.TimeoutConnect
	case ErrUpstreamTimeout:
		kind, timeout = metrics.ErrorTimeout, metrics.TimeoutUpstreamHeader
		if d.u != nil && d.u.dl == dlUpRead {
			timeout = metrics.TimeoutUpstreamRead
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
	mt.Shard(d.lp.obs.id).UpstreamError(d.rt.up.id, kind)
	if mx := d.lp.obs.mx; mx != nil && timeout != 255 {
		mx.Timeout(timeout)
	}
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
		mt.Shard(d.lp.obs.id).UpstreamResponse(d.rt.up.id, d.status, now-d.start)
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
		lo.mx.BytesReceived(x.bytesIn)
		lo.mx.BytesSent(x.bytesOut)
	}
	if lo.alog != nil && (!t.cfg.AccessLog.ErrorsOnly || status >= 400 || status == 0) {
		d.logAccess(now, status)
	}
}

func durationOf(nanos int64) time.Duration { return time.Duration(nanos) }

var (
	http10 = []byte("HTTP/1.0")
	http11 = []byte("HTTP/1.1")
)

// logAccess appends the exchange's access-log line to the loop's buffer.
func (d *exchange) logAccess(now int64, status int) {
	x := &d.obs
	lo := &d.lp.obs
	r := &lo.rec
	r.Time = d.lp.srv.obs.epochUnix + d.start
	r.Client = clientAddr(d)
	r.Method = x.field(spanMethod)
	r.Host = x.field(spanHost)
	r.Path = x.field(spanPath)
	r.Query = x.field(spanQuery)
	r.Protocol = http11
	if d.minor == 0 {
		r.Protocol = http10
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
