package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/hotpath/hotpath/h2"
	"github.com/hotpath/hotpath/parser"
	"github.com/hotpath/hotpath/pool"
	"github.com/hotpath/hotpath/tlsloop"
)

// HTTP/2 upstreams (upstreams[].protocol h2c or h2, docs/http2.md). Each
// loop keeps, per endpoint, a few HTTP/2 connections (up2) driven by
// h2.ClientConn in proxy mode, and multiplexes the requests of all its
// clients onto them: a stream per request, up to the upstream's
// SETTINGS_MAX_CONCURRENT_STREAMS per connection, a new connection only
// when every open one is full. What the streams produce during one batch
// of events goes out in one write per connection (loop.flush).
//
// The exchange does not know it: each stream is an up (up.go) whose
// connection is an up2stream, a gnet.Conn whose byte methods are the
// stream's, as tlsConn's are TLS's (tls.go). The up writes the HTTP/1.1
// request head and body it always writes, which the stream turns into
// HEADERS and DATA; the upstream's HEADERS, DATA and trailers come back
// rendered as an HTTP/1.1 response (chunked when the length is unknown,
// trailers in the chunked trailer section) that the up parses and streams
// as it would a socket's. Deadlines, retries, failures, backpressure and
// observability are the up's, unchanged; only the ends differ:
//
//   - the up's close is RST_STREAM CANCEL when the stream is still open
//     (a client that went away, a timeout);
//   - pausing the up (its client reads slowly) stops crediting the
//     stream's window, so the upstream stops sending on that stream only;
//   - the request body waits for the stream's send window, and what waits
//     counts as the up's outbound buffer, which pauses the client;
//   - a stream the upstream did not process (REFUSED_STREAM, or above a
//     GOAWAY's last stream) is sent again on another connection.

// Upstream protocols (upstreams[].protocol).
const (
	protoHTTP1 uint8 = iota
	protoH2C
	protoH2
)

func upstreamProto(s string) uint8 {
	switch s {
	case "h2c":
		return protoH2C
	case "h2":
		return protoH2
	}
	return protoHTTP1
}

type up2State uint8

const (
	up2Dialing up2State = iota
	up2Open
	up2Closed
)

// up2 is one HTTP/2 connection to an upstream endpoint, on one loop.
type up2 struct {
	lp    *loop
	c     gnet.Conn
	ep    *pool.Endpoint
	tu    *upstream
	idx   int // in lp.h2up.all
	cc    h2.ClientConn
	state up2State

	slots   []*up2stream // by tag; nil when free
	free    []uint32     // free tags
	waiting []*up        // requests waiting for a stream (dialing, or at the upstream's limit)

	busy, wantClose bool
	flushQueued     bool
	ready           []*up2stream // streams with response bytes from this read, delivered once it is parsed
	idleSince       int64        // no stream open since (0: streams open)
	pingAt          int64        // a PING is out since; 0 none
	served          int
	tlsc            *tlsloop.Conn
}

// up2Loop is a loop's HTTP/2 upstream state.
type up2Loop struct {
	byEP    [][]*up2 // connections per endpoint ID
	all     []*up2
	streams pool.Conns[*up] // the streams' accounting (never kept idle)
	freeUps []*up           // stream ups for reuse
	dead    []*up           // closed stream ups, reusable once the batch ends
	freeS   []*up2stream
	flushes []*up2
	// hold: an HTTP/2 client connection is handling what one read
	// brought (many streams' frames, or many messages of one stream):
	// the upstream output it produces waits in held until that read is
	// done, then goes out in one write per connection (h2conn.onTraffic).
	hold bool
	held []*up2
}

const maxFreeUps = 1024

// connectH2 sends d's request on a stream of an HTTP/2 connection to its
// endpoint: one with a free stream, or a new one.
func (lp *loop) connectH2(d *exchange) {
	h := &lp.h2up
	if h.streams.Limits.MaxIdle == 0 {
		h.streams.Limits = pool.Limits{MaxIdle: -1, MaxRequests: 1}
	}
	d.conns = &h.streams
	u := h.newUp(lp, d.ep)
	u.count()
	u.attach(d, false)
	u.setDeadline(dlConnect, lp.now+d.tbl.timeouts.connect+int64(time.Second))
	hc := lp.pickH2(d.ep, d.rt.up)
	hc.start(u)
}

func (h *up2Loop) newUp(lp *loop, ep *pool.Endpoint) *up {
	var u *up
	if n := len(h.freeUps); n > 0 {
		u = h.freeUps[n-1]
		h.freeUps[n-1] = nil
		h.freeUps = h.freeUps[:n-1]
		*u = up{}
	} else {
		u = new(up)
	}
	u.lp, u.ep, u.conns, u.state, u.idx = lp, ep, &h.streams, upDialing, -1
	return u
}

// pickH2 returns the connection to ep that takes the next stream: the first
// open one under the upstream's stream limit, else one still connecting
// with room, else a new one (under pool.max_conns, else the least loaded).
func (lp *loop) pickH2(ep *pool.Endpoint, tu *upstream) *up2 {
	h := &lp.h2up
	if ep.ID >= len(h.byEP) {
		grown := make([][]*up2, max(pool.EndpointIDs(), ep.ID+1))
		copy(grown, h.byEP)
		h.byEP = grown
	}
	var least *up2
	for _, hc := range h.byEP[ep.ID] {
		if hc.state == up2Closed || hc.cc.GoingAway() {
			continue
		}
		load := len(hc.slots) - len(hc.free) + len(hc.waiting)
		if uint32(load) < hc.cc.MaxStreams() {
			return hc
		}
		if least == nil || load < len(least.slots)-len(least.free)+len(least.waiting) {
			least = hc
		}
	}
	if least != nil && tu.limits.MaxConns > 0 && len(h.byEP[ep.ID]) >= tu.limits.MaxConns {
		return least // waits for a stream to end
	}
	hc := &up2{lp: lp, ep: ep, tu: tu, idx: len(h.all)}
	hc.cc.InitProxy(h2.ClientLimits{})
	h.all = append(h.all, hc)
	h.byEP[ep.ID] = append(h.byEP[ep.ID], hc)
	lp.srv.fd.ups.Add(1)
	lp.dialH2(hc, ep.Addr, time.Duration(lp.srv.tbl.Load().timeouts.connect), tu)
	return hc
}

// start opens a stream for u now, or queues it until the connection is
// open and under the upstream's limit.
func (hc *up2) start(u *up) {
	if hc.state != up2Open || len(hc.waiting) > 0 || !hc.cc.CanStart() {
		hc.waiting = append(hc.waiting, u)
		return
	}
	hc.open(u)
}

// open gives u a stream (up.onOpen runs with it as the connection).
func (hc *up2) open(u *up) {
	h := &hc.lp.h2up
	var s *up2stream
	if n := len(h.freeS); n > 0 {
		s = h.freeS[n-1]
		h.freeS[n-1] = nil
		h.freeS = h.freeS[:n-1]
		*s = up2stream{in: s.in[:0], raw: s.raw[:0], pend: s.pend[:0], hbuf: s.hbuf[:0], trail: s.trail[:0]}
	} else {
		s = new(up2stream)
	}
	s.hc, s.u = hc, u
	if n := len(hc.free); n > 0 {
		s.tag = hc.free[n-1]
		hc.free = hc.free[:n-1]
		hc.slots[s.tag] = s
	} else {
		s.tag = uint32(len(hc.slots))
		hc.slots = append(hc.slots, s)
	}
	hc.idleSince = 0
	if u.onOpen(s) == gnet.Close {
		s.closeStream()
	}
	if hc.served > 0 {
		u.reused = true // an earlier stream worked: a reset before any byte may be retried (up.onClose)
	}
	hc.served++
}

// openWaiting opens the streams that waited, as far as the upstream allows.
func (hc *up2) openWaiting() {
	n := 0
	for n < len(hc.waiting) && hc.state == up2Open && hc.cc.CanStart() {
		u := hc.waiting[n]
		hc.waiting[n] = nil
		n++
		if u.state != upDialing {
			continue // timed out while it waited (up.tick)
		}
		hc.open(u)
	}
	if n > 0 {
		m := copy(hc.waiting, hc.waiting[n:])
		clear(hc.waiting[m:])
		hc.waiting = hc.waiting[:m]
	}
	hc.flushSoon()
}

func (hc *up2) onOpen(c gnet.Conn) gnet.Action {
	hc.c = c
	if hc.tlsc != nil {
		hc.c = &tlsConn{Conn: c, t: hc.tlsc, listener: -1, opened: true}
		hc.tlsc = nil
	}
	if hc.state != up2Dialing {
		return gnet.Close
	}
	hc.state = up2Open
	hc.idleSince = hc.lp.now
	hc.busy = true
	hc.openWaiting()
	hc.busy = false
	hc.flush()
	if hc.wantClose {
		return gnet.Close
	}
	return gnet.None
}

// dialFailed fails the requests that waited for the connection.
func (hc *up2) dialFailed(timedOut bool) {
	if hc.state != up2Dialing {
		return
	}
	hc.gone()
	for _, u := range hc.takeWaiting() {
		if u.state == upDialing {
			u.dialFailed(timedOut) // retried elsewhere or answered 502/504 (up.go)
		}
	}
}

func (hc *up2) takeWaiting() []*up {
	w := hc.waiting
	hc.waiting = nil
	return w
}

// gone takes hc out of the loop's connections.
func (hc *up2) gone() {
	if hc.state == up2Closed {
		return
	}
	hc.state = up2Closed
	h := &hc.lp.h2up
	unlist(&h.all, hc)
	if id := hc.ep.ID; id < len(h.byEP) {
		l := h.byEP[id]
		for i, o := range l {
			if o == hc {
				l[i] = l[len(l)-1]
				l[len(l)-1] = nil
				h.byEP[id] = l[:len(l)-1]
				break
			}
		}
	}
	hc.lp.srv.fd.ups.Add(-1)
}

// onClose fails the streams in flight and sends the waiting requests
// elsewhere.
func (hc *up2) onClose(err error) {
	if err == nil {
		err = io.EOF
	}
	hc.gone()
	hc.failStreams(false, 0, err)
	hc.requeueWaiting()
}

// requeueWaiting sends the requests that waited for a stream on hc, which
// takes no more, to another connection (once: a second time they fail).
func (hc *up2) requeueWaiting() {
	for _, u := range hc.takeWaiting() {
		if u.state != upDialing || u.d == nil {
			continue
		}
		d := u.d
		d.detach()
		u.drop() // still waiting: nothing to close but its slot
		if d.retried {
			d.gatewayError(ErrUpstreamClosed)
			continue
		}
		d.retried = true
		d.acquire(true) // not sent: on another connection
	}
}

// failStreams ends the streams: on a GOAWAY (goAway) those above last,
// which the upstream did not process and which are sent again; when the
// connection failed, all of them, as their up decides (a stream whose head
// never went out is sent again).
func (hc *up2) failStreams(goAway bool, last uint32, err error) {
	for _, s := range hc.slots {
		if s == nil || s.u == nil || (goAway && s.id != 0 && s.id <= last) {
			continue
		}
		s.fail(err, goAway || s.id == 0)
	}
}

func (hc *up2) onTraffic() gnet.Action {
	hc.busy = true
	buf, _ := hc.c.Peek(-1)
	off := 0
	for hc.state != up2Closed {
		n, ev := hc.cc.Feed(buf[off:])
		off += n
		if ev.Kind == h2.ClientNone {
			break
		}
		hc.event(ev)
		if ev.Kind == h2.ClientClose {
			break
		}
	}
	discard(hc.c, off)
	// Each stream's up reads what this read brought at once (a response's
	// head and body in one write to its client), as from a socket.
	for i := 0; i < len(hc.ready); i++ {
		s := hc.ready[i]
		hc.ready[i] = nil
		s.queued = false
		if s.hc == hc {
			s.deliver()
		}
	}
	hc.ready = hc.ready[:0]
	hc.busy = false
	hc.flush()
	hc.lp.h2up.recycle() // no up is on the stack here
	if hc.wantClose || hc.cc.Closed() {
		return gnet.Close
	}
	return gnet.None
}

func (hc *up2) stream(tag uint32, id uint32) *up2stream {
	if int(tag) < len(hc.slots) {
		if s := hc.slots[tag]; s != nil && s.id == id {
			return s
		}
	}
	return nil
}

func (hc *up2) event(ev *h2.ClientEvent) {
	hc.pingAt = 0 // any frame shows the connection alive
	switch ev.Kind {
	case h2.ClientHeaders:
		if s := hc.stream(ev.Tag, ev.Stream); s != nil {
			s.head(ev.Status, ev.Fields, ev.EndStream)
		}
	case h2.ClientData:
		if s := hc.stream(ev.Tag, ev.Stream); s != nil {
			s.data(ev.Data, ev.EndStream)
		} else {
			hc.cc.Consumed(ev.Stream, len(ev.Data))
		}
	case h2.ClientTrailers:
		if s := hc.stream(ev.Tag, ev.Stream); s != nil {
			s.trailers(ev.Fields)
		}
	case h2.ClientReset:
		if s := hc.stream(ev.Tag, ev.Stream); s != nil {
			s.ended = true
			s.fail(errStreamReset, ev.Code == h2.CodeRefusedStream)
		}
	case h2.ClientWritable:
		for _, s := range hc.slots {
			if s != nil && len(s.pend) > 0 || s != nil && s.pendEnd {
				s.writePending()
			}
		}
	case h2.ClientSettings:
		hc.openWaiting()
	case h2.ClientGoAway:
		hc.failStreams(true, ev.LastStream, errStreamReset)
		hc.requeueWaiting()
	case h2.ClientClose:
		hc.wantClose = true
	}
}

var errStreamReset = errors.New("stream reset")

// flushSoon writes the connection's output now when nothing else is likely
// to join it (inside its own callback it is written as that returns; a
// lone stream is written at once), else after this batch of events.
func (hc *up2) flushSoon() {
	if hc.busy || hc.flushQueued || hc.c == nil {
		return
	}
	if h := &hc.lp.h2up; h.hold {
		hc.flushQueued = true
		h.held = append(h.held, hc)
		return
	}
	if hc.cc.Streams() <= 1 && !hc.lp.flushArmed {
		hc.flush()
		return
	}
	hc.flushQueued = true
	hc.lp.h2up.flushes = append(hc.lp.h2up.flushes, hc)
	hc.lp.armFlush()
}

func (hc *up2) flush() {
	if out := hc.cc.Output(); len(out) > 0 && hc.c != nil && hc.state != up2Closed {
		_, _ = hc.c.Write(out)
		hc.cc.ClearOutput()
	}
	if hc.cc.Closed() && hc.state != up2Closed && hc.c != nil {
		if hc.busy {
			hc.wantClose = true
		} else {
			_ = hc.c.Close()
		}
	}
}

// flushUp2 writes the output of the connections that waited for the end
// of the batch, and recycles the stream ups closed during it (loop.flush).
func (lp *loop) flushUp2() {
	h := &lp.h2up
	for i, hc := range h.flushes {
		h.flushes[i] = nil
		hc.flushQueued = false
		hc.flush()
	}
	h.flushes = h.flushes[:0]
	h.recycle()
}

// release writes what the connections held during a client's read.
func (h *up2Loop) release() {
	h.hold = false
	for i, hc := range h.held {
		h.held[i] = nil
		hc.flushQueued = false
		hc.flush()
	}
	h.held = h.held[:0]
}

func (h *up2Loop) recycle() {
	for i, u := range h.dead {
		h.dead[i] = nil
		if len(h.freeUps) < maxFreeUps && u.state == upClosed && u.d == nil {
			h.freeUps = append(h.freeUps, u)
		}
	}
	h.dead = h.dead[:0]
}

// counts returns the HTTP/2 connections to the endpoint with ID id, open
// (dialing included) and idle (no stream), for hotpath_upstream_connections.
func (h *up2Loop) counts(id int) (open, idle int) {
	if id >= len(h.byEP) {
		return 0, 0
	}
	for _, hc := range h.byEP[id] {
		open++
		if hc.state == up2Open && len(hc.free) == len(hc.slots) && len(hc.waiting) == 0 {
			idle++
		}
	}
	return open, idle
}

// tick runs each loop tick: the streams' deadlines and resumes, the
// connections' idle timeout and PING liveness.
func (h *up2Loop) tick(lp *loop, now int64) {
	if h.hold || len(h.held) > 0 {
		h.release() // a client's read ended without releasing (a contained panic)
	}
	h.recycle()
	for i := 0; i < len(h.all); i++ {
		hc := h.all[i]
		hc.tick(now)
		if i < len(h.all) && h.all[i] != hc {
			i--
		}
	}
}

func (hc *up2) tick(now int64) {
	for _, u := range hc.waiting {
		if u != nil && u.state == upDialing {
			if d := u.d; d != nil && d.grpcExpired(now) {
				continue
			}
			u.tick(now)
		}
	}
	for _, s := range hc.slots {
		if s == nil || s.u == nil {
			continue
		}
		u := s.u
		if d := u.d; d != nil && d.grpcExpired(now) {
			continue // past grpc-timeout (grpc.go)
		}
		u.tick(now)
		if s.u == u && s.wake && !s.paused {
			s.wake = false
			s.deliver()
		}
	}
	if hc.state != up2Open {
		return
	}
	lim := hc.tu.limits
	idle := hc.cc.Streams() == 0 && len(hc.waiting) == 0
	if idle && hc.cc.GoingAway() && len(hc.free) == len(hc.slots) {
		_ = hc.c.Close() // drained after the upstream's GOAWAY
		return
	}
	if idle && hc.idleSince == 0 {
		hc.idleSince = now
	}
	t := hc.lp.srv.tbl.Load().timeouts
	switch {
	case hc.pingAt != 0 && now-hc.pingAt > t.upstreamHeader:
		_ = hc.c.Close() // no answer to the PING: dead
		return
	case idle && lim.IdleTimeout > 0 && now-hc.idleSince > int64(lim.IdleTimeout):
		hc.cc.GoAway()
		hc.flush()
		return
	case idle && hc.pingAt == 0 && now-hc.idleSince > int64(pingAfter(lim.IdleTimeout)):
		hc.pingAt = now
		hc.cc.Ping([8]byte{'h', 'o', 't', 'p', 'a', 't', 'h'})
		hc.flush()
	}
	if hc.ep.Retired() && idle {
		hc.cc.GoAway()
		hc.flush()
	}
}

// pingAfter is how long an idle connection waits before a PING checks it.
func pingAfter(idle time.Duration) time.Duration {
	if idle <= 0 {
		return 30 * time.Second
	}
	return min(idle/2, 30*time.Second)
}

// dialH2 connects hc as loop.dial connects an up (TLS with ALPN h2 for
// protocol h2).
func (lp *loop) dialH2(hc *up2, addr string, timeout time.Duration, tu *upstream) {
	go func() {
		timedOut, failed, stopped := lp.connect(addr, timeout, tu, true, hc, func(tc *tlsloop.Conn) { hc.tlsc = tc })
		if failed && !stopped {
			_ = lp.el.Execute(context.Background(), runnable(func() {
				lp.wake()
				hc.dialFailed(timedOut)
				lp.settle()
			}))
		}
	}()
}

var errNoALPNH2 = errors.New("upstream did not negotiate h2 (ALPN)")

// up2stream is one stream of an up2, and the gnet.Conn of the up that
// carries its exchange: the up's writes become HEADERS and DATA, and the
// upstream's response comes back as HTTP/1.1 bytes for the up to parse.
// Methods not overridden are not called on an upstream connection.
type up2stream struct {
	gnet.Conn // nil: only the methods below are used
	hc        *up2
	u         *up
	tag       uint32
	id        uint32 // 0 until the head went out

	// The request, from the up's HTTP/1.1 bytes.
	hbuf     []byte // head bytes until the head is whole
	headSent bool
	isHead   bool
	reqBody  parser.Body // where the request body ends
	reqEnded bool        // END_STREAM sent (or queued in pend)
	pend     []byte      // DATA waiting for the send windows
	pendEnd  bool        // END_STREAM goes with the last of pend
	trail    []byte      // the request's chunked trailer section, as it arrives
	trailOut bool        // trail goes out as HEADERS once pend is sent

	// The response, rendered as HTTP/1.1.
	in       []byte
	raw      []byte // chunked: DATA since the last delivery, rendered as one chunk (flushRaw)
	credit   int    // DATA bytes in in, credited once taken
	rchunk   bool   // the body is rendered chunked (no content-length)
	paused   bool   // the up stopped reading: nothing is delivered, nothing credited
	wake     bool   // deliver on the next tick (resumed)
	queued   bool   // listed in hc.ready
	ended    bool   // closed at the HTTP/2 level (END_STREAM both ways, or reset)
	closed   bool   // the up closed it
	inDelivr bool
}

// Write takes the up's request bytes: the head first, then the body.
func (s *up2stream) Write(p []byte) (int, error) {
	n := len(p)
	if s.closed || s.hc.state == up2Closed {
		return 0, net.ErrClosed
	}
	if !s.headSent {
		head := p
		if len(s.hbuf) > 0 {
			s.hbuf = append(s.hbuf, p...)
			head = s.hbuf
		}
		end := bytes.Index(head, crlfcrlf)
		if end < 0 {
			if len(s.hbuf) == 0 {
				s.hbuf = append(s.hbuf, p...)
			}
			return n, nil
		}
		if !s.sendHead(head[:end+4]) {
			return 0, net.ErrClosed
		}
		p = head[end+4:]
		if len(p) == 0 {
			s.hbuf = s.hbuf[:0]
			s.hc.flushSoon()
			return n, nil
		}
		s.body(p)
		s.hbuf = s.hbuf[:0]
		s.hc.flushSoon()
		return n, nil
	}
	s.body(p)
	s.hc.flushSoon()
	return n, nil
}

func (s *up2stream) Writev(bs [][]byte) (int, error) {
	n := 0
	for _, b := range bs {
		m, err := s.Write(b)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

var crlfcrlf = []byte("\r\n\r\n")

// sendHead turns the up's HTTP/1.1 request head (rendered by the exchange,
// so well formed) into HEADERS.
func (s *up2stream) sendHead(head []byte) bool {
	hc := s.hc
	sp := bytes.IndexByte(head, ' ')
	line := bytes.Index(head, crlf)
	if sp < 0 || line < sp {
		return false
	}
	method := head[:sp]
	target := head[sp+1 : line]
	if i := bytes.LastIndexByte(target, ' '); i >= 0 {
		target = target[:i]
	}
	fields := head[line+2:]
	var authority []byte
	kind, length := parser.BodyNone, int64(0)
	for name, value := range parser.Fields(fields) {
		switch {
		case len(name) == 4 && parser.EqualFold(name, "host"):
			authority = value
		case len(name) == 14 && parser.EqualFold(name, "content-length"):
			kind = parser.BodyLength
			length, _ = strconv.ParseInt(string(value), 10, 64) // the exchange rendered it
		case len(name) == 17 && parser.EqualFold(name, "transfer-encoding"):
			kind = parser.BodyChunked
		}
	}
	if kind == parser.BodyLength && length == 0 {
		kind = parser.BodyNone
	}
	s.reqBody.Start(kind, length)
	s.isHead = string(method) == "HEAD"
	scheme := schemeHTTP
	if hc.tu.proto == protoH2 {
		scheme = schemeHTTPS
	}
	cc := &hc.cc
	s.id = cc.StartRequest(s.tag, method, scheme, authority, target)
	for name, value := range parser.Fields(fields) {
		if !(len(name) == 14 && parser.EqualFold(name, "content-length") && kind == parser.BodyNone) {
			cc.RequestField(name, value)
		}
	}
	cc.RequestField(teName, trailersValue) // the gateway passes trailers on (gRPC needs it said)
	end := kind == parser.BodyNone
	cc.EndRequest(end)
	s.headSent, s.reqEnded = true, end
	return true
}

var (
	schemeHTTP    = []byte("http")
	schemeHTTPS   = []byte("https")
	teName        = []byte("te")
	trailersValue = []byte("trailers")
)

// body sends request body bytes as DATA: as they are for a known length,
// de-chunked otherwise.
func (s *up2stream) body(p []byte) {
	if s.reqBody.Kind() == parser.BodyNone {
		return
	}
	for len(p) > 0 && !s.reqEnded {
		tb := s.reqBody.TrailerBytes()
		m, data, done, err := s.reqBody.Decode(p)
		if err != nil {
			s.hc.cc.Reset(s.id, h2.CodeCancel)
			s.ended = true
			return
		}
		if t := s.reqBody.TrailerBytes() - tb; t > 0 {
			s.trail = append(s.trail, p[m-t:m]...) // the trailer section ends what Decode consumed
		}
		p = p[m:]
		switch {
		case done && len(s.trail) > 2: // field lines before the final CRLF
			s.sendData(data, false)
			s.reqEnded, s.trailOut = true, true
			if len(s.pend) == 0 {
				s.sendTrailers()
			}
		case len(data) > 0 || done:
			s.sendData(data, done)
		}
		if m == 0 {
			break
		}
	}
}

// sendTrailers sends the request's trailer section, after all its DATA, as
// HEADERS that end the stream (a chunked request's trailers from an
// HTTP/1.1 client, or an HTTP/2 client's trailing HEADERS rendered so).
func (s *up2stream) sendTrailers() {
	s.trailOut = false
	cc := &s.hc.cc
	if s.ended || !cc.StartTrailers(s.id) {
		return
	}
	var lower [32]byte // the longest forbidden name is 17 bytes
	for name, value := range parser.Fields(s.trail) {
		if len(name) <= len(lower) && forbiddenTrailer(appendLower(lower[:0], name)) {
			continue // framing, routing and credentials never come from trailers (as from HTTP/2 clients')
		}
		cc.RequestField(name, value)
	}
	cc.EndRequest(true)
	s.trail = s.trail[:0]
}

func (s *up2stream) sendData(p []byte, end bool) {
	if s.reqEnded || s.ended {
		return
	}
	s.reqEnded = end
	if len(s.pend) > 0 || s.pendEnd {
		s.pend = append(s.pend, p...)
		s.pendEnd = end
		return
	}
	n, err := s.hc.cc.WriteData(s.id, p, end)
	if err != nil {
		return
	}
	if n < len(p) {
		s.pend = append(s.pend, p[n:]...)
		s.pendEnd = end
	}
}

// writePending sends what waited for the windows.
func (s *up2stream) writePending() {
	n, err := s.hc.cc.WriteData(s.id, s.pend, s.pendEnd)
	if err != nil {
		s.pend, s.pendEnd = s.pend[:0], false
		return
	}
	rest := copy(s.pend, s.pend[n:])
	s.pend = s.pend[:rest]
	if rest == 0 {
		s.pendEnd = false
		if s.trailOut {
			s.sendTrailers()
		}
	}
	s.hc.flushSoon()
}

// head renders the response head (or an interim one) as HTTP/1.1.
func (s *up2stream) head(status int, fields []h2.Field, end bool) {
	b := appendStatusLine(s.in, status, []byte(reason(status)))
	hasLength := false
	for _, f := range fields {
		if len(f.Name) == 14 && string(f.Name) == "content-length" {
			hasLength = true
		}
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	if status >= 200 {
		noBody := s.isHead || status == 204 || status == 304
		switch {
		case noBody:
		case end && !hasLength:
			b = append(b, "content-length: 0\r\n"...)
		case !end && !hasLength:
			b = append(b, "transfer-encoding: chunked\r\n"...)
			s.rchunk = true
		}
	}
	s.in = append(b, "\r\n"...)
	s.ready()
}

// data renders body bytes: as they are, or as a chunk.
func (s *up2stream) data(p []byte, end bool) {
	s.credit += len(p)
	if s.rchunk {
		s.raw = append(s.raw, p...) // the frames of one read become one chunk
		if end {
			s.flushRaw()
			s.in = append(s.in, lastChunk...)
		}
	} else {
		s.in = append(s.in, p...)
	}
	if end {
		s.ended = s.ended || s.reqEnded
	}
	s.ready()
}

// flushRaw renders the DATA received since the last delivery as one chunk:
// a gRPC stream's read brings many messages, each in its own frame, which
// the up then parses and the client side re-frames as one.
func (s *up2stream) flushRaw() {
	if len(s.raw) == 0 {
		return
	}
	s.in = strconv.AppendInt(s.in, int64(len(s.raw)), 16)
	s.in = append(s.in, "\r\n"...)
	s.in = append(s.in, s.raw...)
	s.in = append(s.in, "\r\n"...)
	s.raw = s.raw[:0]
}

// trailers renders the trailer section (chunked bodies only: with a
// content-length the body has ended before them and they are dropped).
func (s *up2stream) trailers(fields []h2.Field) {
	if s.rchunk {
		s.flushRaw()
		s.in = append(s.in, "0\r\n"...)
		for _, f := range fields {
			s.in = append(s.in, f.Name...)
			s.in = append(s.in, ": "...)
			s.in = append(s.in, f.Value...)
			s.in = append(s.in, "\r\n"...)
		}
		s.in = append(s.in, "\r\n"...)
	}
	s.ended = s.ended || s.reqEnded
	s.ready()
}

// ready queues the stream for delivery at the end of the read.
func (s *up2stream) ready() {
	if !s.queued {
		s.queued = true
		s.hc.ready = append(s.hc.ready, s)
	}
}

// deliver lets the up read what arrived, as gnet's OnTraffic would.
func (s *up2stream) deliver() {
	u := s.u
	s.flushRaw()
	if u == nil || s.closed || s.paused || s.inDelivr || len(s.in) == 0 {
		return
	}
	s.inDelivr = true
	act := u.onTraffic()
	s.inDelivr = false
	if act == gnet.Close {
		s.closeStream()
	}
}

// fail ends the stream's up for err: the upstream reset it, or the
// connection failed. A request the upstream did not process goes again
// on another connection when nothing of it is lost.
func (s *up2stream) fail(err error, unprocessed bool) {
	u := s.u
	if u == nil || s.closed {
		return
	}
	s.ended = true
	if d := u.d; unprocessed && d != nil && !u.gotResp && !d.retried && !d.started && (d.reqBody.Kind() == parser.BodyNone || d.keepBody && d.reqDone) {
		s.closeStream()
		d.detach()
		u.drop() // the stream is closed already: its slot goes back
		d.retried = true
		d.acquire(true)
		return
	}
	if unprocessed {
		u.reused = true // up.onClose may retry it as a keep-alive race
	}
	s.closed = true
	u.onClose(err)
	s.release()
}

// The gnet.Conn methods the up uses.

func (s *up2stream) Peek(int) ([]byte, error) { return s.in, nil }

func (s *up2stream) Discard(n int) (int, error) {
	if n < 0 || n > len(s.in) {
		n = len(s.in)
	}
	rest := copy(s.in, s.in[n:])
	s.in = s.in[:rest]
	if rest == 0 && s.credit > 0 && !s.closed {
		s.hc.cc.Consumed(s.id, s.credit) // taken by the client: the upstream may send more
		s.credit = 0
		s.hc.flushSoon()
	}
	return n, nil
}

func (s *up2stream) InboundBuffered() int  { return len(s.in) }
func (s *up2stream) OutboundBuffered() int { return len(s.pend) }
func (s *up2stream) Fd() int               { return -1 }

// setReading pauses or resumes the up's reading (pause.go).
func (s *up2stream) setReading(on bool) bool {
	if on && s.paused {
		s.wake = true
	}
	s.paused = !on
	return true
}

// Close is the up closing its connection: the stream is reset if still
// open, and released.
func (s *up2stream) Close() error {
	if s.inDelivr {
		return nil // deliver closes it when up.onTraffic returns
	}
	s.closeStream()
	return nil
}

func (s *up2stream) closeStream() {
	if s.closed && s.u == nil {
		return
	}
	s.closed = true
	hc := s.hc
	if s.id != 0 && hc.state != up2Closed {
		hc.cc.Reset(s.id, h2.CodeCancel) // nothing if it ended already
		if s.credit > 0 {
			hc.cc.Consumed(s.id, s.credit)
		}
		hc.flushSoon()
	}
	s.release()
}

// release frees the stream's slot and hands its up to the loop's free list
// once the batch ends.
func (s *up2stream) release() {
	hc := s.hc
	h := &hc.lp.h2up
	if u := s.u; u != nil {
		s.u = nil
		h.dead = append(h.dead, u)
	}
	if int(s.tag) < len(hc.slots) && hc.slots[s.tag] == s {
		hc.slots[s.tag] = nil
		hc.free = append(hc.free, s.tag)
		if cap(s.in) <= maxKeptBuf && cap(s.raw) <= maxKeptBuf && cap(s.pend) <= maxKeptBuf && len(h.freeS) < maxFreeUps {
			h.freeS = append(h.freeS, s)
		}
	}
	if len(hc.free) == len(hc.slots) {
		hc.idleSince = hc.lp.now
	}
	hc.openWaiting()
}
