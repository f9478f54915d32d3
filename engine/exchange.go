package engine

import (
	"bytes"
	"net/netip"
	"strconv"
	"time"

	"github.com/hotpath/hotpath/accesslog"
	"github.com/hotpath/hotpath/parser"
	"github.com/hotpath/hotpath/pool"
	compiled "github.com/hotpath/hotpath/route"
	"github.com/hotpath/hotpath/tlsloop"
	"github.com/hotpath/hotpath/trie"
)

// exchange is one request's journey through the gateway: its route, auth,
// limits, cache, compression, upstream choice and connection, and the
// response toward the client, from the first byte of its head to the last
// byte of its response. The client connection that carries it (cl) reads
// the request and writes what the exchange renders; the policies are
// decided by their packages and only called from here.
//
// Exchanges are owned by their loop and taken from its free list
// (loop.newExchange) when a request starts, given back when it ends
// (loop.releaseExchange): the parser, match, policy state and buffers are
// reused from one request to the next, and nothing is allocated per request.
// What may outlive a request (a pending-queue entry, a cache waiter, a
// Basic-auth job, an aggregation result) holds the number of the park it
// resumes (park.go) and checks it before touching the exchange.
type exchange struct {
	lp *loop
	cl client // the connection the request came on; kept after release (loop.releaseExchange)

	req     parser.Request
	match   trie.Match[*route]
	connArr [8]parser.Header
	conn    []parser.Header // the request's Connection fields

	pk park // what the exchange waits for, if anything (park.go)

	// Retries (retry.go): the endpoints tried, the retries made, the
	// upstream's retry budget token held, and the body kept to send again.
	tried    pool.Tried
	attempts uint8
	budget   *pool.RetryBudget
	keepBody bool
	bodyKept []byte
	epStart  int64 // when the current endpoint's attempt began (its latency)
	hostAt   int32 // head[hostAt:hostEnd] is the Host value when it names the endpoint
	hostEnd  int32

	upgrade    bool   // forwarded with Upgrade: a 101 starts a tunnel (tunnel.go)
	upgradeVal []byte // the protocols offered, for checking the 101

	tbl        *table
	rt         *route
	ep         *pool.Endpoint // set from Begin until End
	conns      *pool.Conns[*up]
	u          *up
	start      int64
	local      bool // answered by the gateway: the request body is discarded
	isHead     bool
	keepAlive  bool
	expect100  bool
	idempotent bool
	safe       bool // GET, HEAD or OPTIONS: may be pipelined (pipeline.go)
	retried    bool
	minor      int
	reqBody    parser.Body // where the request body ends
	reqDone    bool        // request body fully read from the client
	// clientClose: the client ended the connection itself (Connection:
	// close, or HTTP/1.0 without keep-alive), so it sends nothing after
	// this request (RFC 9112 §9.6).
	clientClose bool
	respDone    bool
	started     bool // response head written (or pending in out)
	closeAfter  bool
	status      int

	pathBuf    []byte // the request's path when normalisation changed it (lookup)
	head       []byte // rewritten request head for the upstream
	out        []byte // response head (or whole local response) for the client
	outPending bool   // out holds a response head not yet written
	iov        [2][]byte

	respBody parser.Body // where the upstream's response body ends
	dechunk  bool        // chunked from upstream, raw to an HTTP/1.0 client
	rechunk  bool        // close-delimited from upstream, chunked to an HTTP/1.1 client
	chunkHdr []byte
	iov4     [4][]byte

	obs exchangeObs  // for the metrics and the access log (observe.go)
	pol *policyState // route policies (policy.go); nil until the first policy route
	agg *aggState    // response aggregation (aggregatepath.go); nil until the first aggregate route

	edge edgeState // CORS origin, chunked body count (edge.go)
	grpc grpcState // a gRPC call (grpc.go)
}

// client is the side of a connection that an exchange answers through:
// the HTTP/1.1 client connection (h1conn) today; an HTTP/2 stream will be
// the second (issue 12). The exchange renders its response as an
// HTTP/1.1 message, head and body framed the way its request's version
// asks; h1conn writes those bytes as they are, and a stream will turn the
// head into HEADERS and the framed body into DATA. Everything else an
// exchange needs of its connection is here: flow (queued, resume),
// deadlines, the peer, and how it ends.
type client interface {
	send(p []byte)      // response bytes, in order
	sendv(iov [][]byte) // the same, gathered into one system call
	queued() int        // response bytes the peer has not taken yet: above limits.max_buffered_bytes the upstream is paused
	gone() bool         // the connection is closed: nothing more goes out
	current(x *exchange) bool
	abort()            // the response cannot be completed: cut the connection (or the stream) off
	ended(x *exchange) // x has finished (exchange.end ran): the next request, or a close when x.closeAfter
	// setDeadline arms the connection's deadline for what the exchange
	// waits on (its request body, a parked cache or Basic-auth wait), or
	// clears it (dlNone).
	setDeadline(k dlKind, at int64)
	holdBody(now int64) // the gateway, not the client, is why the body is not read yet: push the body deadline back
	resume()            // read what arrived while the exchange was parked
	inCallback() bool   // inside the connection's own callback: act after it returns
	addrText() []byte   // the peer's address as text, for X-Forwarded-For and ${client_ip}
	addrHash() uint64   // its hash, for balancers keyed on the client
	remoteAddr() netip.AddrPort
	tls() *tlsloop.Info    // the TLS under the connection; nil over plain TCP (tls.go)
	listener() (int, bool) // the index of the listener the connection came in on
}

var _ client = (*h1conn)(nil)

// begin prepares the exchange for the head in buf[:n]. Everything that
// reads the parsed head (routing, hash keys, the rewritten head, local
// responses) happens here, before the head's bytes are discarded.
func (d *exchange) begin(buf []byte, n int, now int64) {
	tbl := d.lp.srv.tbl.Load()
	d.tbl = tbl
	r := &d.req
	d.start = now
	d.minor = r.Minor
	d.isHead = r.IsHead
	d.keepAlive = r.KeepAlive && !d.lp.srv.draining.Load()
	d.clientClose = !r.KeepAlive
	d.closeAfter = !d.keepAlive
	d.expect100 = r.Expect100 && r.Minor >= 1
	d.idempotent = isIdempotent(r.Method)
	d.safe = isSafe(r.Method)
	d.retried, d.local, d.started, d.respDone, d.outPending = false, false, false, false, false
	d.tried.Reset()
	d.attempts, d.keepBody = 0, false
	d.reqBody.StartRequest(r)
	d.reqDone = r.Body == parser.BodyNone
	d.status = 0
	d.upgrade = false
	d.conn = connectionFields(d.connArr[:0], r.Headers)
	d.rt, d.ep, d.u = nil, nil, nil
	if d.pol != nil {
		d.pol.view.built = false // forward.go: built again for this request
	}
	d.observeBegin(n)

	if r.Body == parser.BodyChunked {
		// Validate the chunk framing already received before anything is
		// sent upstream, so that a malformed body in the first packet (a
		// smuggling attempt) never reaches it.
		var probe parser.Chunked
		if _, _, err := probe.Skip(buf[n:]); err != nil {
			d.closeAfter = true
			d.localError(ErrBadRequestBody)
			return
		}
	}

	if d.grpcBegin(now) {
		return // a gRPC call over HTTP/1.1, refused (grpc.go)
	}
	if tbl.underscores == underscoresReject && underscoreField(r.Headers) {
		d.localError(ErrUnderscoreField)
		return
	}
	if tbl.redirects != nil && d.redirectToHTTPS(tbl) {
		return // the listener's https_redirect answered (tls.go)
	}
	if tbl.edge.atBegin && d.edgeBegin(tbl) {
		return // ip_filter refused the client, or a CORS preflight was answered (edge.go)
	}
	res, ok := d.lookup(tbl)
	if !ok {
		d.localError(ErrEncodedSeparator)
		return
	}
	switch res {
	case trie.Found:
	case trie.NotFound:
		d.localError(ErrNoRoute)
		return
	case trie.MethodNotAllowed:
		d.local = true
		d.status = 405
		var extra []byte
		extra = append(d.head[:0], "Allow: "...)
		extra = append(extra, d.match.Allow...)
		extra = append(extra, "\r\n"...)
		d.head = extra
		d.setReason(accesslog.ReasonMethodNotAllowed)
		d.renderLocal(405, extra)
		return
	case trie.RedirectSlash:
		d.local = true
		d.renderRedirect()
		return
	default:
		d.localError(ErrBadPath)
		return
	}
	rt := d.match.Value
	d.rt = rt
	if rt.grpcOnly && !d.grpc.on {
		d.localError(ErrNotGRPC) // a gRPC-only route (grpc.go)
		return
	}
	if rt.edge != nil && d.edgeRoute(rt) {
		return // ip_filter or max_body refused it (edge.go)
	}
	if rt.gate != nil && d.gateBegin(rt, buf[:n]) {
		return // refused by the route's auth (authpath.go), or parked (authpool.go)
	}
	d.beginRoute(rt)
}

// lookup normalises the request's path (router.path_normalization) and
// routes it; ok is false when the normalisation refuses the path. A
// normalised path replaces d.req.Path, so that the route, prefix
// stripping, rewrites, limiter and cache keys and the forwarded request
// line all see the same path; it lives in d.pathBuf.
func (d *exchange) lookup(tbl *table) (res trie.Result, ok bool) {
	r := &d.req
	p, ok := trie.Normalize(d.pathBuf, r.Path, tbl.pathNorm)
	if !ok {
		return trie.BadPath, false
	}
	if len(p) > 0 && &p[0] != &r.Path[0] { // normalised into d.pathBuf: keep the buffer
		d.pathBuf, r.Path = p, p
	}
	return tbl.tree.Lookup(r.Host, r.Method, r.Path, &d.match), true
}

// beginRoute continues begin once the request passed rt's auth: its
// policies, then a direct response or the upstream request. A request
// parked for its auth continues here when it resumes.
func (d *exchange) beginRoute(rt *route) {
	if rt.pol != nil && d.policyBegin(rt) {
		return
	}
	if rt.agg != nil {
		d.aggBegin(rt) // parked, or a 503 in d.out
		return
	}
	if rt.direct != nil {
		d.local = true
		d.renderDirect(rt.direct)
		return
	}
	ep := rt.up.pick.Pick(d.hashKey(rt.up), nil)
	if ep == nil {
		d.localError(ErrNoHealthyEndpoint)
		return
	}
	d.upgrade = d.upgradeFor(rt)
	d.buildRequestHead(rt, ep)
	d.keepBodyFor(rt) // retry.go
	d.ep, d.epStart = ep, d.start
	d.conns = d.lp.connsFor(ep, rt.up.limits)
	ep.Begin()
}

// dispatch sends the prepared exchange: a local response is written at
// once; a proxied request goes to a pooled or new upstream connection.
func (d *exchange) dispatch() {
	now := d.lp.now
	if !d.reqDone {
		d.cl.setDeadline(dlBody, now+d.tbl.timeouts.clientBody)
	} else {
		d.cl.setDeadline(dlNone, 0)
	}
	if d.parked(now) {
		return // its resume continues (authResumed, cacheResumed, aggResumed)
	}
	if d.local {
		d.respDone, d.started = true, true
		d.writeLocal()
		d.maybeFinish()
		return
	}
	d.acquire(false)
}

// acquire attaches an upstream connection, or queues the exchange behind
// those already waiting for one to the same endpoint (pending.go).
func (d *exchange) acquire(fresh bool) {
	if d.lp.waitTurn(d) {
		return
	}
	d.connect(fresh)
}

// connect attaches an idle pooled connection unless fresh, else dials a new
// one; at max_conns the exchange waits for one (pending.go).
func (d *exchange) connect(fresh bool) {
	if d.rt.up.proto != protoHTTP1 {
		d.lp.connectH2(d) // a stream on an HTTP/2 connection (up2.go)
		return
	}
	if d.pipelinable() && d.lp.joinPipe(d) {
		return
	}
	if !fresh {
		if u, ok := d.conns.Get(d.lp.now); ok {
			u.attach(d, true)
			u.send()
			return
		}
	}
	if !d.conns.CanDial() {
		d.lp.enqueue(d)
		return
	}
	u := &up{lp: d.lp, ep: d.ep, conns: d.conns, state: upDialing}
	u.count()
	d.lp.addUp(u)
	u.attach(d, false)
	u.setDeadline(dlConnect, d.lp.now+d.tbl.timeouts.connect+int64(time.Second))
	d.lp.dial(u, d.ep.Addr, time.Duration(d.tbl.timeouts.connect), d.rt.up)
}

// badBody ends an exchange whose request body's chunked framing turned
// out malformed mid-stream: 400 if the response has not started.
func (d *exchange) badBody() {
	d.closeAfter, d.reqDone = true, true // nothing more of it is read
	d.fail(ErrBadRequestBody, false)
}

// detach unlinks d from its upstream connection. A request pipelined
// behind another keeps its slot, so its response is read and dropped.
func (d *exchange) detach() {
	if u := d.u; u != nil {
		if u.d == d {
			u.d = nil
		} else {
			u.pipe.orphan(d)
		}
		d.u = nil
	}
}

// endEP reports the exchange's outcome to the endpoint, once.
func (d *exchange) endEP(failed bool) {
	if d.ep != nil {
		now := d.lp.now
		d.ep.End(time.Duration(now-d.epStart), failed)
		d.obs.upEnd, d.obs.upAddr = now, d.ep.Addr
		d.ep = nil
	}
}

// gatewayError answers the client for an upstream-side failure (or aborts
// the response if it already started) and ends the exchange.
func (d *exchange) gatewayError(err error) {
	d.observeUpstreamError(err)
	if d.pol != nil && d.staleOnError(err) {
		return
	}
	d.fail(err, err != ErrPoolExhausted)
}

// fail ends the exchange for err, the one way every failure ends one: the
// upstream connection, which cannot be reused, is dropped; the endpoint
// learns the outcome (epFailed counts against its health); the client gets
// err's status, or, when the response has started, is cut off (the only
// signal left).
func (d *exchange) fail(err error, epFailed bool) {
	d.dropUpstream(epFailed)
	if d.started {
		d.closeAfter = true
		d.flushHead()
		d.cl.abort()
		return
	}
	if !d.reqDone {
		d.closeAfter = true // the rest of the body is unread
	}
	d.localError(err)
	d.respDone, d.started = true, true
	d.cl.send(d.out)
	d.maybeFinish()
}

// finish ends the exchange once its response is complete: its teardown,
// then the connection goes on to its next request or closes.
func (d *exchange) finish() {
	d.observeEndAt(d.lp.now)
	d.end()
	d.cl.ended(d)
}

// end releases what the exchange holds, once: its park (a wait it no
// longer needs is stopped), its metrics and access-log line, its policies
// (in-flight slot, cache flight, compressor), its aggregation, and its
// link to the upstream connection. Every way an exchange ends (finished,
// the connection closing, the client gone) calls it; later calls do
// nothing.
func (d *exchange) end() {
	d.unpark()
	d.observeEnd()
	d.grpcEnd() // grpcstats.go
	d.policyEnd()
	d.aggEnd()
	d.detach()
	d.releaseRetry()
	d.rt = nil
}

// clientGone ends an exchange whose client went away mid-exchange (the
// connection closed, the stream was reset or cut off): its upstream
// connection is abandoned (up.abandon), the endpoint is not blamed, and
// end releases the rest. The client gives the exchange back after.
func (d *exchange) clientGone() {
	if u := d.u; u != nil {
		u.abandon(d)
	}
	d.endEP(false)
	d.end()
}

// clientTimedOut ends an exchange whose client stopped sending its body
// for timeouts.client_body: 408 if the response has not started, else the
// connection is closed.
func (d *exchange) clientTimedOut() {
	d.closeAfter = true
	d.fail(ErrClientTimeout, false)
}

// maybeFinish ends the exchange once both directions are done.
func (d *exchange) maybeFinish() {
	if !d.cl.current(d) || !d.respDone {
		return
	}
	if !d.reqDone {
		if !d.local {
			d.closeAfter = true
		} else if !d.closeAfter {
			return // keep discarding the body, then serve the next request
		}
	}
	d.finish()
}

// hashKey computes the consistent-hash key for u's balancer.
func (d *exchange) hashKey(u *upstream) uint64 {
	switch u.key {
	case pool.KeyClientIP:
		return d.cl.addrHash()
	case pool.KeyPath:
		return pool.HashKey(d.req.Path)
	case pool.KeyHeader:
		for _, h := range d.req.Headers {
			if parser.EqualFold(h.Name, u.keyName) {
				return pool.HashKey(h.Value)
			}
		}
	case pool.KeyCookie:
		for _, h := range d.req.Headers {
			if parser.EqualFold(h.Name, "cookie") {
				if v := pool.CookieValue(h.Value, u.keyName); v != nil {
					return pool.HashKey(v)
				}
			}
		}
	}
	return 0
}

func isIdempotent(m []byte) bool {
	switch string(m) { // the compiler does not allocate for a switch on string(b)
	case "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE":
		return true
	}
	return false
}

// buildRequestHead writes the upstream request head into d.head: the
// rewritten request line, Host, the client's fields minus hop-by-hop ones,
// the X-Forwarded-* and Via fields, and the body framing.
func (d *exchange) buildRequestHead(rt *route, ep *pool.Endpoint) {
	r := &d.req
	b := d.head[:0]
	d.hostAt, d.hostEnd = 0, 0
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = d.appendPath(b, rt)
	b = d.appendQuery(b, rt) // transform.go
	b = append(b, " HTTP/1.1\r\nHost: "...)
	switch {
	case rt.hostRewrite != nil:
		b = append(b, rt.hostRewrite...)
	case rt.preserveHost && r.Host != nil:
		b = append(b, r.Host...)
	default:
		d.hostAt = int32(len(b))
		b = append(b, ep.Addr...)
		d.hostEnd = int32(len(b))
	}
	b = append(b, "\r\n"...)
	// A cache leader fetches the response to store: the client's
	// validators and Range must not turn it into a 304 or a 206 (the
	// client still gets a valid answer, the whole 200).
	var skip func([]byte) bool
	if d.pol != nil && d.pol.lead {
		skip = conditionalOrRange
	}
	tr := d.peerTrust()
	b, sawHost, sawProto := d.appendForwardedFields(b, rt, tr, skip) // forward.go
	b = d.appendForwarded(b, tr, sawHost, sawProto)
	if rt.gate != nil {
		b = d.appendGateRequest(b, rt.gate) // transform.go
	}
	// The body's framing is the gateway's, rendered from what the parser
	// decided, never copied: no header rule, credential stripping or
	// Connection option can separate a body from the field that frames it.
	switch {
	case r.Body == parser.BodyChunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case r.ContentLength >= 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, r.ContentLength, 10)
		b = append(b, "\r\n"...)
	}
	if d.upgrade {
		b = d.appendUpgrade(b)
	}
	b = append(b, "\r\n"...)
	d.head = b
}

// conditionalOrRange reports whether name is a precondition (RFC 9110
// §13.1) or Range field.
func conditionalOrRange(name []byte) bool {
	switch len(name) {
	case 5:
		return parser.EqualFold(name, "range")
	case 8:
		return parser.EqualFold(name, "if-match") || parser.EqualFold(name, "if-range")
	case 13:
		return parser.EqualFold(name, "if-none-match")
	case 17:
		return parser.EqualFold(name, "if-modified-since")
	case 19:
		return parser.EqualFold(name, "if-unmodified-since")
	}
	return false
}

// appendPath appends the upstream path: rewritten from the route's template,
// with its prefix stripped, or as received.
func (d *exchange) appendPath(b []byte, rt *route) []byte {
	path := d.req.Path
	if rt.rewrite != nil {
		return rt.rewrite.Append(b, &d.match.Params)
	}
	if rt.strip != nil && bytes.HasPrefix(path, rt.strip) &&
		(len(path) == len(rt.strip) || path[len(rt.strip)] == '/') {
		rest := path[len(rt.strip):]
		if len(rest) == 0 {
			return append(b, '/')
		}
		return append(b, rest...)
	}
	return append(b, path...)
}

// localError renders the response for an engine error into d.out.
func (d *exchange) localError(err error) {
	d.observeLocalError(err)
	d.local = true
	d.status = Status(err)
	d.renderLocal(d.status, nil)
}

// renderLocal renders a short text response (status, reason) into d.out.
func (d *exchange) renderLocal(status int, extra []byte) {
	d.local = true
	d.status = status
	if d.lp.srv.draining.Load() {
		d.closeAfter = true
	}
	if d.grpc.on {
		d.renderGRPCStatus(status, extra) // a trailers-only gRPC answer (grpc.go)
		return
	}
	rs := reason(status)
	b := appendStatusLine(d.out[:0], status, []byte(rs)) // constant: no allocation
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(rs)+5), 10)
	b = append(b, "\r\n"...)
	b = append(b, extra...)
	b = d.appendGateResponse(b)
	b = d.appendConnection(b)
	b = append(b, "\r\n"...)
	if !d.isHead {
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, ' ')
		b = append(b, rs...)
		b = append(b, '\n')
	}
	d.out = b
}

func (d *exchange) renderDirect(dr *compiled.Direct) {
	d.status = 200
	if d.lp.srv.draining.Load() {
		d.closeAfter = true
	}
	b := append(d.out[:0], dr.Head...)
	b = d.appendGateResponse(b)
	b = d.appendConnection(b)
	b = append(b, "\r\n"...)
	if !d.isHead {
		b = append(b, dr.Body...)
	}
	d.out = b
}

// renderRedirect answers 308 with the path's trailing slash toggled
// (308 keeps the method and body).
func (d *exchange) renderRedirect() {
	b := append(d.head[:0], "Location: "...)
	b = trie.AppendRedirect(b, d.req.Path)
	if d.req.Query != nil {
		b = append(b, '?')
		b = append(b, d.req.Query...)
	}
	b = append(b, "\r\n"...)
	d.head = b
	d.renderLocal(308, b)
}

// appendConnection adds the Connection field the client needs: close when
// the connection ends after this response, keep-alive for HTTP/1.0 clients
// that keep it.
func (d *exchange) appendConnection(b []byte) []byte {
	if d.closeAfter || !d.keepAlive {
		d.closeAfter = true
		return append(b, "Connection: close\r\n"...)
	}
	if d.minor == 0 {
		return append(b, "Connection: keep-alive\r\n"...)
	}
	return b
}

// writeResponseHead renders the upstream's final response head for the
// client into d.out; it is written with the first body bytes (one writev)
// or by flushHead.
func (d *exchange) writeResponseHead(r *parser.Response, connArr []parser.Header) {
	d.status = r.Status
	d.dechunk, d.rechunk = false, false
	switch r.Body {
	case parser.BodyChunked:
		if d.minor == 0 {
			d.dechunk, d.closeAfter = true, true // no chunked to HTTP/1.0: close-delimit
		}
	case parser.BodyClose:
		if d.minor >= 1 {
			d.rechunk = true // keep the client connection: frame the body ourselves
		} else {
			d.closeAfter = true
		}
	}
	if d.lp.srv.draining.Load() {
		d.closeAfter = true
	}
	conn := connectionFields(connArr, r.Headers)
	b := appendStatusLine(d.out[:0], r.Status, r.Reason)
	for _, h := range r.Headers {
		if hopByHop(h.Name, conn) || d.dropsResponse(h.Name) {
			continue
		}
		if r.Body == parser.BodyChunked && len(h.Name) == 14 && parser.EqualFold(h.Name, "content-length") {
			continue
		}
		b = append(b, h.Name...)
		b = append(b, ": "...)
		b = append(b, h.Value...)
		b = append(b, "\r\n"...)
	}
	if (r.Body == parser.BodyChunked && !d.dechunk) || d.rechunk {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	b = append(b, d.tbl.viaLine...)
	b = d.appendGateResponse(b)
	b = d.appendConnection(b)
	b = append(b, "\r\n"...)
	d.out = b
	d.outPending, d.started = true, true
	d.respBody.StartResponse(r)
	if d.pol != nil {
		d.policyHead(r)
	}
}

// interim passes an upstream's 1xx response (other than 101) on to the
// client (RFC 9110 §15.2: a proxy forwards them): 103 Early Hints, 102
// Processing, and 100 Continue when the client asked for it (once). An
// HTTP/1.0 client gets none (RFC 9110 §15.2: never sent to 1.0). The head
// is rendered like a final one, without hop-by-hop fields, into d.out,
// which the final head reuses.
func (d *exchange) interim(r *parser.Response, connArr []parser.Header) {
	if d.minor == 0 || d.cl.gone() {
		return
	}
	if r.Status == 100 {
		if !d.expect100 {
			return
		}
		d.expect100 = false
	}
	conn := connectionFields(connArr, r.Headers)
	b := appendStatusLine(d.out[:0], r.Status, r.Reason)
	for _, h := range r.Headers {
		if hopByHop(h.Name, conn) || d.dropsResponse(h.Name) {
			continue
		}
		b = append(b, h.Name...)
		b = append(b, ": "...)
		b = append(b, h.Value...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	d.out = b
	d.obs.bytesOut += len(b)
	d.cl.send(b)
}

// send writes p to the client, preceded by a pending response head.
func (d *exchange) send(p []byte) {
	d.obs.bytesOut += len(p)
	if d.outPending {
		d.outPending = false
		d.obs.bytesOut += len(d.out)
		d.writeHead(p)
		return
	}
	if len(p) > 0 {
		d.cl.send(p)
	}
}

// smallBody is the largest body writeHead copies behind the head rather
// than passing to writev by reference.
const smallBody = 2048

// writeHead writes the head in d.out followed by body (which may be
// empty) in one system call: a small body is copied behind the head and
// sent with write(2), cheaper than a two-element writev; a larger one goes
// by reference in a writev.
func (d *exchange) writeHead(body []byte) {
	switch {
	case len(body) == 0:
		d.cl.send(d.out)
	case len(body) <= smallBody:
		d.out = append(d.out, body...)
		d.cl.send(d.out)
	default:
		d.iov[0], d.iov[1] = d.out, body
		d.cl.sendv(d.iov[:])
		d.iov[0], d.iov[1] = nil, nil
	}
}

// flushHead writes a pending response head on its own.
func (d *exchange) flushHead() {
	if d.outPending && !d.cl.gone() {
		d.send(nil)
	}
}

// forwardBody passes response body bytes from b to the client with the
// framing chosen in writeResponseHead. It returns the bytes of b consumed
// and whether the body is complete.
func (d *exchange) forwardBody(b []byte) (n int, done bool, err error) {
	if d.pol != nil && d.pol.xon {
		return d.xformBody(b)
	}
	switch {
	case d.dechunk:
		// Chunked from the upstream, raw to an HTTP/1.0 client.
		for n < len(b) && !done {
			m, data, dn, derr := d.respBody.Decode(b[n:])
			if derr != nil {
				return n, false, derr
			}
			n += m
			done = dn
			if len(data) > 0 {
				d.send(data)
			}
			if m == 0 {
				break
			}
		}
		return n, done, nil
	case d.rechunk:
		// Close-delimited from the upstream, chunked to an HTTP/1.1 client.
		d.sendChunk(b)
		return len(b), false, nil
	}
	n, done, err = d.respBody.Skip(b)
	if n > 0 {
		d.send(b[:n])
	}
	return n, done, err
}

// sendChunk writes p to the client as one chunk (RFC 9112 §7.1), preceded
// by a pending response head: one writev.
func (d *exchange) sendChunk(p []byte) {
	if len(p) == 0 {
		return
	}
	h := strconv.AppendInt(d.chunkHdr[:0], int64(len(p)), 16)
	h = append(h, "\r\n"...)
	d.chunkHdr = h
	iov := d.iov4[:0]
	if d.outPending {
		d.outPending = false
		d.obs.bytesOut += len(d.out)
		iov = append(iov, d.out)
	}
	iov = append(iov, h, p, crlf)
	d.obs.bytesOut += len(h) + len(p) + len(crlf)
	d.cl.sendv(iov)
	clear(d.iov4[:])
}

var (
	crlf      = []byte("\r\n")
	lastChunk = []byte("0\r\n\r\n")
)
