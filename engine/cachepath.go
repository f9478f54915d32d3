package engine

import (
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/hotpath/hotpath/accesslog"
	"github.com/hotpath/hotpath/cache"
	"github.com/hotpath/hotpath/compression"
	"github.com/hotpath/hotpath/metrics"
	"github.com/hotpath/hotpath/parser"
	"github.com/hotpath/hotpath/pool"
)

// The response cache on the request path.
//
//   - Hit: the stored response is written from the loop (head rendered into
//     d.out, body written from the immutable entry with one writev). No
//     upstream work and, in steady state, no allocation.
//   - Miss, leader: the request is proxied; the response is streamed to the
//     client and captured on the way (compress.go), up to max_object_bytes
//     (a larger one is not stored and its capture is dropped at once), then
//     stored and handed to the requests waiting for it.
//   - Miss, another request is fetching the key (Wait): the request is
//     parked. The leader's Complete calls cacheWaiter.Resume on the leader's
//     goroutine, which only posts the follower's continuation to the
//     follower's own loop (EventLoop.Execute, as dial results are); the
//     follower then serves the entry or goes upstream itself. No loop ever
//     blocks on another.
//   - Stale within stale-while-revalidate: served at once; one request per
//     key starts a background refresh (refresh.go).
//   - Upstream failure (an error, or a 5xx head) with a stale entry within
//     stale-if-error: the stale entry is served instead.
//
// Cache keys include the negotiated content coding (compression.Encoding
// as cache.Request.Variant), so a gzip client and a zstd or identity client
// never share an entry.

// cacheState is a connection's cache state for its current exchange.
type cacheState struct {
	creq    cache.Request
	variant uint64 // creq.Variant, for a refresh's snapshot

	w      *cacheWaiter // offered to the next Lookup; replaced once it parks (the park's hook then)
	parkEP *pool.Endpoint
	late   bool // the park deadline passed once: the resume is on its way

	ticket     cache.Ticket
	looked     bool         // a cacheable lookup missed: X-Cache: MISS
	lead       bool         // this exchange fetches for the cache: Complete or Fail
	stale      *cache.Entry // entry to serve if the upstream fails (stale-if-error)
	invalidate bool         // unsafe method: purge the URL on a non-error response
	snap       reqSnapshot  // the request, copied: its bytes are gone after begin
	reqTime    time.Time
	body       []byte // an entry's body, written after d.out by writeLocal

	// Capture of the proxied response for Store.
	capOn     bool
	capOver   bool // larger than max_object_bytes: not stored
	bodyDone  bool // the whole body went through
	status    int
	respTime  time.Time
	capBody   []byte
	capArena  []byte
	capFields []cache.Field
}

// cacheVariant is the discriminator mixed into a request's cache keys: the
// content coding the gateway applies, and the scheme and port the upstream
// is told through X-Forwarded-Proto and X-Forwarded-Port, which change the
// links it writes (a response for "https" never goes to an "http" client,
// nor one for a port a client made up).
func cacheVariant(enc compression.Encoding, fv *forwardedView, secure bool) uint64 {
	v := enc.Variant()
	// The client's fields as forwarded (a trusted proxy's), then the
	// gateway's own X-Forwarded-Proto when it sent none: "https" on a TLS
	// listener, mixed in as a trusted proxy's "https" would be; "http"
	// leaves the variant as it was before TLS listeners existed.
	proto := false
	for _, h := range fv.h[:fv.n] {
		var tag uint64
		switch {
		case len(h.Name) == 16 && parser.EqualFold(h.Name, "x-forwarded-port"):
			tag = 1
		case len(h.Name) == 17 && parser.EqualFold(h.Name, "x-forwarded-proto"):
			tag, proto = 2, true
		default:
			continue
		}
		v = v*31 + (tag ^ xxhash.Sum64(h.Value))
	}
	if secure && !proto {
		v = v*31 + (2 ^ httpsHash)
	}
	return v
}

// httpsHash is the hash of the X-Forwarded-Proto value "https".
var httpsHash = xxhash.Sum64String("https")

// reqSnapshot is a copy of what the cache needs of a request after its
// bytes have left the read buffer: for Store (Vary values, Authorization)
// and for Fits when a parked request resumes.
type reqSnapshot struct {
	buf  []byte
	hdrs []parser.Header
	creq cache.Request
}

func (s *reqSnapshot) Len() int                     { return len(s.hdrs) }
func (s *reqSnapshot) Field(i int) ([]byte, []byte) { return s.hdrs[i].Name, s.hdrs[i].Value }

// take copies r, with the fields hs (the request as forwarded, see
// forward.go), into s, reusing s's buffers.
func (s *reqSnapshot) take(r *parser.Request, hs []parser.Header, variant uint64) {
	n := len(r.Method) + len(r.Host) + len(r.Path) + len(r.Query)
	for _, h := range hs {
		n += len(h.Name) + len(h.Value)
	}
	if cap(s.buf) < n {
		s.buf = make([]byte, 0, n)
	}
	b := s.buf[:0]
	cp := func(v []byte) []byte {
		if v == nil {
			return nil
		}
		start := len(b)
		b = append(b, v...)
		return b[start:len(b):len(b)]
	}
	s.creq = cache.Request{Method: cp(r.Method), Host: cp(r.Host), Path: cp(r.Path), Query: cp(r.Query), Variant: variant}
	s.hdrs = s.hdrs[:0]
	for _, h := range hs {
		s.hdrs = append(s.hdrs, parser.Header{Name: cp(h.Name), Value: cp(h.Value)})
	}
	s.buf = b
	s.creq.Headers = s
}

// cacheWaiter is a parked request's waiter in a cache flight (park.go):
// the flight compares waiters by pointer, so a new one is made for every
// park; its wake is renumbered for each lookup it is offered to.
type cacheWaiter struct {
	wake
}

// Resume implements cache.Waiter. It runs on the goroutine that completed
// the flight and only posts the continuation to the waiter's own loop.
func (w *cacheWaiter) Resume(e *cache.Entry) {
	w.post(func() { w.d.cacheResumed(w.seq, e) })
}

// stop takes the waiter out of its flight (on the loop); false: the
// flight has completed, and the resume is on its way.
func (w *cacheWaiter) stop() bool {
	ps := w.d.pol
	return ps.rp.cache.Cancel(ps.ticket, w)
}

// cacheBegin looks the request up. It returns true when the exchange is
// answered (hit, stale, only-if-cached) or parked.
func (d *exchange) cacheBegin(rt *route, rp *routePolicy) bool {
	ps := d.pol
	r := &d.req
	if d.reqBody.Kind() != parser.BodyNone {
		return false // a request with a body is never answered from the cache
	}
	switch string(r.Method) {
	case "GET", "HEAD":
	case "POST", "PUT", "DELETE", "PATCH":
		// RFC 9111 §4.4: a non-error response to an unsafe method
		// invalidates the stored responses for its URL.
		ps.invalidate = true
		ps.snap.take(r, nil, 0) // only its URL is used
		return false
	default:
		return false
	}
	// The cache sees the request as the upstream will (forward.go): Vary
	// and the uncacheable fields are read from the forwarded fields, so a
	// client's copy of a field the gateway sets (an identity, a forwarding
	// field) neither keys nor poisons an entry.
	fv := d.forwarded(rt)
	creq := &ps.creq
	creq.Method, creq.Host, creq.Path, creq.Query = r.Method, r.Host, r.Path, r.Query
	ps.variant = cacheVariant(ps.enc, fv, d.cl.tls() != nil)
	creq.Variant = ps.variant
	creq.Headers = fv
	if ps.w == nil {
		ps.w = new(cacheWaiter)
	}
	ps.w.wake = d.newWake() // not in a flight: only a Wait below puts it there
	now := d.lp.srv.wallNow()
	ps.reqTime = now
	res := rp.cache.Lookup(creq, now, ps.w)
	creq.Headers = nil
	switch res.State {
	case cache.Hit:
		d.cacheResult(metrics.CacheHit)
		d.serveEntry(res.Entry, now, r.Headers)
		return true
	case cache.Stale:
		d.cacheResult(metrics.CacheStale)
		d.serveEntry(res.Entry, now, r.Headers)
		if res.Leader {
			d.startRefresh(rt, rp, res.Ticket, res.Entry)
		}
		return true
	case cache.Miss:
		d.cacheResult(metrics.CacheMiss)
		ps.looked, ps.ticket, ps.stale = true, res.Ticket, res.Entry
		if res.OnlyIfCached {
			if res.Leader {
				rp.cache.Fail(res.Ticket)
			}
			d.setReason(accesslog.ReasonOnlyIfCached)
			d.renderLocal(cache.StatusGatewayTimeout, nil)
			return true
		}
		if res.Leader {
			ps.lead = true
			ps.capOn = !r.IsHead // a HEAD response has no body to store
			ps.snap.take(r, fv.h[:fv.n], creq.Variant)
		}
		return false
	case cache.Wait:
		ps.looked, ps.ticket, ps.stale = true, res.Ticket, res.Entry
		d.parkOn(parkCache, ps.w, &rp.stats.CacheWaiting)
		ps.w, ps.late = nil, false
		ps.snap.take(r, fv.h[:fv.n], creq.Variant)
		// Prepare the upstream request now, while the head is readable:
		// the wait may end with going upstream after all.
		if ep := rt.up.pick.Pick(d.hashKey(rt.up), nil); ep != nil {
			d.buildRequestHead(rt, ep)
			ps.parkEP = ep
		}
		return true
	}
	return false // Bypass
}

// serveEntry renders a stored response into d.out (head) and ps.body, for
// writeLocal, as the request fields hs ask (nil when they are gone: the
// whole response): 304 Not Modified when its validators match (RFC 9111
// §4.3.2), 206 or 416 for a Range on a GET (Entry.Range), else the whole
// response. Fields the gateway adds: Via, RateLimit, Vary: Accept-Encoding
// on compressing routes (the entry is one coding of several), Connection.
func (d *exchange) serveEntry(e *cache.Entry, now time.Time, hs []parser.Header) {
	d.local = true
	d.status = e.Status()
	if d.lp.srv.draining.Load() {
		d.closeAfter = true
	}
	var inm, ims, rng, ifRange []byte
	for _, h := range hs {
		v := h.Value[:len(h.Value):len(h.Value)]
		switch len(h.Name) {
		case 5:
			if rng == nil && parser.EqualFold(h.Name, "range") {
				rng = v
			}
		case 8:
			if ifRange == nil && parser.EqualFold(h.Name, "if-range") {
				ifRange = v
			}
		case 13:
			if inm == nil && parser.EqualFold(h.Name, "if-none-match") {
				inm = v
			}
		case 17:
			if ims == nil && parser.EqualFold(h.Name, "if-modified-since") {
				ims = v
			}
		}
	}
	body := e.Body()
	var b []byte
	switch {
	case (inm != nil || ims != nil) && e.NotModified(inm, ims, now):
		d.status, body = 304, nil
		b = e.AppendNotModified(d.out[:0], now)
	case rng != nil && !d.isHead:
		r := e.Range(rng, ifRange)
		switch r.Kind {
		case cache.RangePartial:
			d.status, body = 206, body[r.Start:r.End+1]
			b = e.AppendRange(d.out[:0], now, r)
		case cache.RangeUnsatisfiable:
			d.status, body = 416, nil
			b = e.AppendRange(d.out[:0], now, r)
		default:
			b = e.AppendResponse(d.out[:0], now, true)
		}
	default:
		b = e.AppendResponse(d.out[:0], now, true)
	}
	b = b[:len(b)-2] // reopen the head: the Append functions end it
	b = d.filterResponseHead(b, 0)
	b = append(b, d.tbl.viaLine...)
	b = d.appendGateResponse(b)
	b = d.appendPolicyFields(b)
	if d.pol.rp.comp != nil {
		b = append(b, "Vary: Accept-Encoding\r\n"...)
	}
	b = d.appendConnection(b)
	b = append(b, "\r\n"...)
	d.out = b
	if !d.isHead {
		d.pol.body = body
	}
}

// writeLocal writes a local response: d.out, then an entry's body, in one
// system call (writeHead; a large body goes straight from the shared
// immutable entry).
func (d *exchange) writeLocal() {
	var body []byte
	if ps := d.pol; ps != nil {
		body, ps.body = ps.body, nil
	}
	d.writeHead(body)
}

// cacheResumed runs on d's loop when the flight d waits for (park seq)
// completes.
func (d *exchange) cacheResumed(seq uint32, e *cache.Entry) {
	if !d.woken(parkCache, seq) {
		return // the request ended, or stopped waiting, meanwhile
	}
	ps := d.pol
	d.cl.setDeadline(dlNone, 0)
	now := d.lp.srv.wallNow()
	if e != nil && e.Fresh(now) && ps.rp.cache.Fits(e, &ps.snap.creq) {
		d.cacheResult(metrics.CacheHit) // served by the leader's fetch
		d.serveEntry(e, now, ps.snap.hdrs)
		d.respDone, d.started = true, true
		d.writeLocal()
		d.maybeFinish()
		return
	}
	// The leader failed, its response was not storable, or it varies
	// differently: go upstream for this request alone.
	d.cacheResult(metrics.CacheMiss)
	d.proxyParked()
}

// cacheWaitExpired handles the end of a parked request's coalesce_wait.
func (d *exchange) cacheWaitExpired(now int64) {
	if !d.parkedOn(parkCache) {
		d.cl.setDeadline(dlNone, 0)
		return
	}
	if ps := d.pol; !d.pk.hook.stop() && !ps.late {
		// Not parked any more: the leader completed and the resume is
		// on its way to this loop. Give it a moment.
		ps.late = true
		d.cl.setDeadline(dlCacheWait, now+int64(time.Second))
		return
	}
	d.parkOver()
	d.cl.setDeadline(dlNone, 0)
	d.cacheResult(metrics.CacheMiss)
	d.proxyParked()
}

// proxyParked sends a formerly parked request upstream (head prepared in
// cacheBegin).
func (d *exchange) proxyParked() {
	ps := d.pol
	ep := ps.parkEP
	ps.parkEP = nil
	if ep == nil || d.rt == nil || d.rt.up == nil {
		d.gatewayError(ErrNoHealthyEndpoint)
		return
	}
	d.ep = ep
	d.conns = d.lp.connsFor(ep, d.rt.up.limits)
	ep.Begin()
	d.acquire(false)
}

// staleOnError serves the stale entry instead of an error when the
// upstream failed before the response started (RFC 5861 stale-if-error).
// It also ends an exchange whose client already has a stale response and
// whose upstream body was only being drained. It reports whether it
// handled the failure.
func (d *exchange) staleOnError(err error) bool {
	ps := d.pol
	if ps == nil || ps.rp == nil {
		return false
	}
	if ps.xdiscard {
		d.dropUpstream(true)
		d.respDone = true
		d.maybeFinish()
		return true
	}
	if d.started || ps.stale == nil || ps.rp.cache == nil {
		return false
	}
	now := d.lp.srv.wallNow()
	if !ps.stale.UsableOnError(now) {
		return false
	}
	d.dropUpstream(err != ErrPoolExhausted)
	ps.rp.stats.StaleOnError.Add(1)
	d.obs.cache = accesslog.CacheStale // the lookup was counted as a miss
	e := ps.stale
	ps.stale = nil
	d.serveEntry(e, now, nil) // the request's fields are gone: the whole response
	d.respDone, d.started = true, true
	d.writeLocal()
	d.maybeFinish()
	return true
}

// dropUpstream closes the exchange's upstream connection and reports the
// outcome to the endpoint, as gatewayError does.
func (d *exchange) dropUpstream(failed bool) {
	if u := d.u; u != nil {
		d.detach()
		u.drop()
	}
	d.endEP(failed)
}

// staleForErrorStatus answers with the stale entry instead of the
// upstream's 5xx head; the upstream body is drained and dropped.
func (d *exchange) staleForErrorStatus(r *parser.Response, now time.Time) {
	ps := d.pol
	ps.rp.stats.StaleOnError.Add(1)
	d.obs.cache = accesslog.CacheStale // the lookup was counted as a miss
	e := ps.stale
	ps.stale = nil
	ps.capOn = false // nothing of this response is stored
	d.serveEntry(e, now, nil)
	d.local = false
	d.status = r.Status // the endpoint still failed this request
	d.outPending = false
	d.writeLocal()
	ps.xon, ps.xdiscard = true, true
}

// captureHead starts capturing the proxied response for Store: the
// end-to-end fields (with the coding the gateway applies), status, time.
func (d *exchange) captureHead(r *parser.Response, enc compression.Encoding, now time.Time) {
	ps := d.pol
	ps.capArena, ps.capFields = appendStoreFields(ps.capArena[:0], ps.capFields[:0], r.Headers, enc)
	ps.status, ps.respTime = r.Status, now
	ps.capBody, ps.capOver = ps.capBody[:0], false
	ps.bodyDone = r.Body == parser.BodyNone
}

// appendStoreFields copies the end-to-end fields of a response (hop-by-hop
// fields dropped) for cache.Store. When enc is a coding the gateway
// applies, Content-Length is dropped, Content-Encoding added and a strong
// ETag made weak (the bytes differ from the upstream's). arena is sized
// first so that the field slices stay valid.
func appendStoreFields(arena []byte, fields []cache.Field, hs []parser.Header, enc compression.Encoding) ([]byte, []cache.Field) {
	var connArr [8]parser.Header
	conn := connectionFields(connArr[:0], hs)
	n := 32
	for _, h := range hs {
		n += len(h.Name) + len(h.Value) + 2
	}
	if cap(arena) < n {
		arena = make([]byte, 0, n)
	}
	cp := func(v []byte) []byte {
		start := len(arena)
		arena = append(arena, v...)
		return arena[start:len(arena):len(arena)]
	}
	for _, h := range hs {
		if hopByHop(h.Name, conn) {
			continue
		}
		name, value := cp(h.Name), []byte(nil)
		if enc != compression.Identity {
			if parser.EqualFold(h.Name, "content-length") {
				continue
			}
			if parser.EqualFold(h.Name, "etag") && len(h.Value) > 0 && h.Value[0] == '"' {
				start := len(arena)
				arena = append(arena, "W/"...)
				arena = append(arena, h.Value...)
				value = arena[start:len(arena):len(arena)]
			}
		}
		if value == nil {
			value = cp(h.Value)
		}
		fields = append(fields, cache.Field{Name: name, Value: value})
	}
	if enc != compression.Identity {
		fields = append(fields, cache.Field{Name: []byte("Content-Encoding"), Value: []byte(enc.String())})
	}
	return arena, fields
}

// capture appends response body bytes (as the client gets them) to the
// capture, or drops it for good once it exceeds max_object_bytes.
func (d *exchange) capture(p []byte) {
	ps := d.pol
	if !ps.capOn || ps.capOver || len(p) == 0 {
		return
	}
	if int64(len(ps.capBody)+len(p)) > d.tbl.pol.store.MaxObjectBytes {
		ps.capOver = true
		ps.capBody = nil // never hold more than max_object_bytes
		return
	}
	ps.capBody = append(ps.capBody, p...)
}

// cacheEnd settles the exchange's cache state (end has stopped a wait,
// unpark): store a complete captured response and complete the flight (or fail it, so that
// its waiters go upstream), then reset for the next request.
func (d *exchange) cacheEnd(rp *routePolicy) {
	ps := d.pol
	if ps.lead {
		ps.lead = false
		var e *cache.Entry
		if ps.capOn && ps.bodyDone && !ps.capOver && ps.status != 0 {
			e, _ = rp.cache.Store(ps.ticket, &ps.snap.creq, &cache.Response{
				Status:       ps.status,
				Header:       ps.capFields,
				Body:         ps.capBody,
				RequestTime:  ps.reqTime,
				ResponseTime: ps.respTime,
			}, &rp.cpol)
			if e != nil {
				rp.stats.CacheStored.Add(1)
			}
		}
		rp.cache.Complete(ps.ticket, e)
	}
	ps.looked, ps.invalidate, ps.capOn, ps.capOver, ps.bodyDone = false, false, false, false, false
	ps.stale, ps.body, ps.parkEP, ps.ticket = nil, nil, nil, cache.Ticket{}
	clear(ps.capFields)
	ps.capFields, ps.capBody, ps.status = ps.capFields[:0], ps.capBody[:0], 0
	if cap(ps.capBody) > 64<<10 {
		ps.capBody = nil // a large capture is not kept per connection
	}
	if cap(ps.snap.buf) > 16<<10 {
		ps.snap = reqSnapshot{}
	}
	if cap(ps.view.lines) > 16<<10 {
		ps.view = forwardedView{} // a large head's view is not kept either
	}
}
