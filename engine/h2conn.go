package engine

import (
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/panjf2000/gnet/v2"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/h2"
	"github.com/hotpath/hotpath/parser"
	"github.com/hotpath/hotpath/tlsloop"
)

// HTTP/2 toward clients (docs/http2.md): an h2conn is a client connection
// that speaks HTTP/2, and each of its streams carries one exchange, which
// goes through the same route, policies and upstream path as an HTTP/1.1
// request. The protocol itself (frames, HPACK, stream states, flow control,
// request checks, limits against hostile clients) is package h2's; this
// file maps its events to exchanges.
//
// A stream is the exchange's client (exchange.go's interface), and the
// translation is done at its edges, so that the exchange is the same code
// for both protocols:
//
//   - the request: the checked HTTP/2 head is rendered as an HTTP/1.1 head
//     (request line from :method and :path, Host from :authority, cookies
//     joined, Content-Length, or Transfer-Encoding: chunked when the length
//     is unknown) that the exchange parses as it would a client's; DATA goes
//     upstream as it is, or as chunks, and is credited to the client's
//     window only once it left for the upstream, so that a slow upstream
//     closes the client's window instead of filling memory;
//   - the response: the exchange renders an HTTP/1.1 response, which the
//     stream parses back (parser.Response, parser.Chunked) into HEADERS and
//     DATA frames; what the client's window does not take waits in the
//     stream, and the exchange's backpressure (queued) stops reading the
//     upstream until a WINDOW_UPDATE lets it out.
//
// A connection starts as an h1conn; on a listener with h2c, the HTTP/2
// preface turns it into an h2conn (h1conn.readHead).

// h2conn is an HTTP/2 client connection, owned by its loop.
type h2conn struct {
	lp       *loop
	c        gnet.Conn
	idx      int // in lp.h2conns
	sc       *h2.ServerConn
	streams  []*h2stream // open streams, in no order
	free     []*h2stream // finished streams for reuse, up to the most open at once (peak)
	peak     int
	clientIP []byte
	ipHash   uint64
	sendW    sendWatch

	busy, wantClose, closed bool
	goneAway                bool // a GOAWAY was queued: close once the streams end
	flushQueued             bool // listed in loop.h2flushes

	// reading: inside read, a stream's request DATA waits in its body
	// until the whole read is parsed (pumps lists those streams), so that
	// the frames of one read go upstream as one chunk in one write, with
	// one window credit: a gRPC stream's read brings many messages.
	reading bool
	pumps   []*h2stream
}

// h2stream is one stream of an h2conn and its exchange's client.
type h2stream struct {
	hc *h2conn
	id uint32
	x  *exchange

	head       []byte // the request rendered as HTTP/1.1, which x.req views
	body       []byte // request DATA not yet sent upstream
	bodyEnd    bool   // the client ended the request
	chunked    bool   // the body goes upstream chunked (its length is unknown)
	chunk      []byte // scratch for a chunk's size line
	reqTrailer []byte // the request's trailer section as the last chunk (setTrailers)
	iov        [3][]byte
	pumpQueued bool // listed in hc.pumps

	// The response, from the exchange's HTTP/1.1 bytes.
	resp      parser.Response
	rbuf      []byte // head bytes until the head is whole
	headDone  bool
	rbody     parser.Body // where the response body ends
	pending   []byte      // DATA the client's window did not take
	endQueued bool        // END_STREAM goes with the last of pending
	trailers  []byte      // a chunked response's trailer section, sent as HEADERS that end the stream (gRPC's grpc-status)
	respEnded bool        // END_STREAM sent
	reset     bool        // the stream was reset (either side) or the connection closed

	dl       dlKind
	deadline int64
}

// compileListenerProtocols compiles a listener's protocols and its http2
// section (mapped onto h2.Limits).
func compileListenerProtocols(l *config.Listener) listenerProtocols {
	h := l.HTTP2
	return listenerProtocols{
		h2c:   slices.Contains(l.Protocols, "h2c"),
		http1: slices.Contains(l.Protocols, "http1"),
		h2: h2.Limits{
			MaxConcurrentStreams: uint32(h.MaxConcurrentStreams),
			MaxHeaderListSize:    uint32(h.MaxHeaderListBytes),
			MaxHeaders:           h.MaxHeaders,
			MaxHeaderBlock:       uint32(h.MaxHeaderBlockBytes),
			HeaderTableSize:      uint32(h.HeaderTableBytes),
			MaxFrameSize:         uint32(h.MaxFrameBytes),
			InitialWindowSize:    uint32(h.StreamWindowBytes),
			ConnWindowSize:       uint32(h.ConnectionWindowBytes),
			MaxPrematureResets:   h.MaxPrematureResets,
			MaxControlFrames:     h.MaxControlFrames,
			ControlFrameRate:     h.ControlFramesPerSecond,
		},
	}
}

// h2Limits is listener i's http2 section as h2.Limits.
func h2Limits(t *table, i int) h2.Limits {
	if i < len(t.listeners) {
		return t.listeners[i].h2
	}
	return h2.Limits{}
}

func listenerPort(addr string) (int, bool) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(p)
	return n, err == nil
}

// h2cOn reports whether c came in on a listener with h2c, and which.
func (s *Server) h2cOn(c gnet.Conn) (int, bool) {
	i, ok := s.listenerOf(c)
	return i, ok && s.tbl.Load().listeners[i].h2c
}

// listenerOf returns the index of the listener c came in on.
func (s *Server) listenerOf(c gnet.Conn) (int, bool) {
	a, ok := c.LocalAddr().(*net.TCPAddr)
	if !ok {
		return 0, false
	}
	i, ok := s.lnPorts[a.Port]
	return i, ok
}

// h2Only reports whether c came in on a listener that speaks HTTP/2 only.
func (s *Server) h2Only(c gnet.Conn) bool {
	i, ok := s.h2cOn(c)
	return ok && !s.tbl.Load().listeners[i].http1
}

// toH2 turns h, whose input starts with the HTTP/2 preface, into an
// h2conn on listener i: h's exchange is given back, h leaves the
// loop's client connections (the connection stays open and counted), and
// the h2conn takes the socket and its input.
func (h *h1conn) toH2(listener int) {
	lp := h.lp
	if x := h.x; x != nil {
		h.x = nil
		lp.releaseExchange(x)
	}
	hc := &h2conn{lp: lp, c: h.c, clientIP: append([]byte(nil), h.clientIP...), ipHash: h.ipHash}
	if lp.h2bufs == nil {
		lp.h2bufs = new(h2.Buffers)
	}
	hc.sc = h2.NewServerConn(h2Limits(lp.srv.tbl.Load(), listener), lp.now)
	hc.sc.SetBuffers(lp.h2bufs)
	if h.paused {
		lp.resume(h.c, &h.paused)
	}
	lp.detachDown(h)
	h.upgraded = hc
	hc.idx = len(lp.h2conns)
	lp.h2conns = append(lp.h2conns, hc)
	h.c.SetContext(hc)
}

func (hc *h2conn) onTraffic() gnet.Action {
	hc.busy = true
	hc.lp.h2up.hold = true // upstream frames from this read: one write per HTTP/2 upstream (up2.go)
	hc.read()
	hc.lp.h2up.release()
	hc.flush()
	hc.busy = false
	if hc.wantClose || hc.closed {
		return gnet.Close
	}
	return gnet.None
}

// read feeds the buffered input to the protocol and handles its events.
func (hc *h2conn) read() {
	buf, _ := hc.c.Peek(-1)
	now := hc.lp.now
	off := 0
	hc.reading = true
	for !hc.closed && !hc.wantClose {
		n, ev := hc.sc.Feed(buf[off:], now)
		off += n
		if ev.Kind == h2.EventNone {
			break
		}
		hc.event(ev, now)
	}
	hc.reading = false
	discard(hc.c, off)
	for i, s := range hc.pumps {
		hc.pumps[i] = nil
		if s.pumpQueued { // not reset and reused meanwhile
			s.pumpQueued = false
			s.pump()
		}
	}
	hc.pumps = hc.pumps[:0]
}

func (hc *h2conn) event(ev *h2.Event, now int64) {
	switch ev.Kind {
	case h2.EventRequest:
		hc.open(ev.Stream, ev.Request, ev.EndStream, now)
	case h2.EventData:
		if s := hc.stream(ev.Stream); s != nil && s.x != nil {
			s.data(ev.Data, ev.EndStream)
		} else {
			hc.sc.Consumed(ev.Stream, len(ev.Data)) // nobody waits for it
		}
	case h2.EventTrailers:
		if s := hc.stream(ev.Stream); s != nil && s.x != nil {
			s.setTrailers(ev.Request.Fields)
			s.data(nil, true)
		}
	case h2.EventReset:
		if s := hc.stream(ev.Stream); s != nil {
			s.kill()
		}
	case h2.EventWritable:
		if s := hc.stream(ev.Stream); s != nil {
			s.flushPending()
		}
	case h2.EventGoAway:
	case h2.EventClose:
		hc.flush()
		hc.close()
	}
}

// flush writes what the protocol produced: one write per call.
func (hc *h2conn) flush() {
	if out := hc.sc.Output(); len(out) > 0 && !hc.closed {
		_, _ = hc.c.Write(out)
		hc.sc.ClearOutput()
	}
}

func (hc *h2conn) close() {
	if hc.closed {
		return
	}
	if hc.busy {
		hc.wantClose = true
		return
	}
	_ = hc.lp.el.Close(rawConn(hc.c))
}

func (hc *h2conn) stream(id uint32) *h2stream {
	for _, s := range hc.streams {
		if s.id == id {
			return s
		}
	}
	return nil
}

// open starts the exchange of a new stream.
func (hc *h2conn) open(id uint32, r *h2.Request, endStream bool, now int64) {
	var s *h2stream
	if n := len(hc.free); n > 0 {
		s = hc.free[n-1]
		hc.free = hc.free[:n-1]
		*s = h2stream{hc: hc, id: id, head: s.head[:0], body: s.body[:0], chunk: s.chunk[:0], rbuf: s.rbuf[:0], pending: s.pending[:0], trailers: s.trailers[:0], reqTrailer: s.reqTrailer[:0]}
	} else {
		s = &h2stream{hc: hc, id: id}
	}
	hc.streams = append(hc.streams, s)
	hc.peak = max(hc.peak, len(hc.streams))
	s.chunked = !endStream && r.ContentLength < 0
	s.bodyEnd = endStream
	s.head = appendH1Head(s.head, r, s.chunked)
	x := hc.lp.newExchange(s)
	s.x = x
	n, err := x.req.Parse(s.head)
	if err != nil || n != len(s.head) {
		// The HTTP/2 checks passed but the HTTP/1.1 parser refuses what
		// they let through (a target byte, a limit): answered as it would
		// be over HTTP/1.1.
		x.observeParseError(err, s.head)
		x.observeReject(0)
		x.keepAlive, x.isHead, x.minor = true, false, 1
		x.renderLocal(parser.Status(err), nil)
		x.respDone, x.started, x.reqDone = true, true, true
		s.send(x.out)
		x.finish()
		return
	}
	x.begin(s.head, n, now)
	x.dispatch()
}

// appendH1Head renders an HTTP/2 request head as HTTP/1.1 for the exchange
// to parse: the request line, Host, the fields (cookies joined with "; ",
// RFC 9113 §8.2.3), and the body's framing when its length is unknown.
func appendH1Head(b []byte, r *h2.Request, chunked bool) []byte {
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = append(b, r.Path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, r.Host...)
	b = append(b, "\r\n"...)
	cookie := false
	for _, f := range r.Fields {
		if string(f.Name) == "cookie" {
			if !cookie {
				cookie = true
				b = append(b, "cookie: "...)
				b = r.AppendCookie(b)
				b = append(b, "\r\n"...)
			}
			continue
		}
		if string(f.Name) == "host" {
			continue // the Host line above is :authority or this one
		}
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	if chunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	return append(b, "\r\n"...)
}

// setTrailers renders the request's trailer fields (views of the input:
// copied) as the last chunk of a body going upstream chunked. A body of
// known length goes upstream with Content-Length, which leaves no place
// for trailers: they are dropped (RFC 9110 §6.5.1 lets a proxy discard
// them). Fields that frame, route or authenticate a message are never
// taken from trailers (§6.5.1).
func (s *h2stream) setTrailers(fields []h2.Field) {
	if !s.chunked {
		return
	}
	b := append(s.reqTrailer[:0], "0\r\n"...)
	for _, f := range fields {
		if forbiddenTrailer(f.Name) {
			continue
		}
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	s.reqTrailer = append(b, "\r\n"...)
}

// forbiddenTrailer reports whether a field may not come from a trailer
// section: framing, routing, connection and credential fields (names are
// lower case over HTTP/2).
func forbiddenTrailer(name []byte) bool {
	switch string(name) {
	case "content-length", "transfer-encoding", "host", "te", "trailer", "connection",
		"keep-alive", "upgrade", "proxy-connection", "content-type", "content-encoding",
		"content-range", "authorization", "cookie", "set-cookie", "cache-control", "expect", "range":
		return true
	}
	return false
}

// data takes request body bytes (a view of the input: copied) and sends
// what it can upstream.
func (s *h2stream) data(p []byte, end bool) {
	s.body = append(s.body, p...)
	s.bodyEnd = s.bodyEnd || end
	if hc := s.hc; hc.reading {
		if !s.pumpQueued { // sent once the read is parsed (h2conn.read)
			s.pumpQueued = true
			hc.pumps = append(hc.pumps, s)
		}
		return
	}
	s.pump()
}

// pump sends the buffered request body upstream once the exchange's
// upstream connection is ready (or drops it for a local answer), credits
// the client's window, and ends the request body at END_STREAM.
func (s *h2stream) pump() {
	x := s.x
	if x == nil || x.reqDone {
		return
	}
	u := x.u
	if !x.local && (u == nil || u.state != upActive) {
		return // connecting: the body waits here, the client's window closes
	}
	hc := s.hc
	if n := len(s.body); n > 0 {
		if !x.local {
			if s.chunked {
				s.chunk = strconv.AppendInt(s.chunk[:0], int64(n), 16)
				s.chunk = append(s.chunk, "\r\n"...)
				s.iov[0], s.iov[1], s.iov[2] = s.chunk, s.body, crlf
				_, _ = u.c.Writev(s.iov[:])
				s.iov = [3][]byte{}
			} else {
				_, _ = u.c.Write(s.body)
			}
			if x.keepBody {
				x.keep(s.body)
			}
		}
		x.obs.bytesIn += n
		hc.sc.Consumed(s.id, n)
		s.body = s.body[:0]
		if s.x != x || x.reqDone {
			return // a write failed and ended the exchange
		}
	}
	now := hc.lp.now
	if !s.bodyEnd {
		s.setDeadline(dlBody, now+x.tbl.timeouts.clientBody)
		hc.flushOut() // the WINDOW_UPDATE: inside the connection's read, with what the read produces
		return
	}
	if s.chunked && !x.local {
		if len(s.reqTrailer) > 0 {
			_, _ = u.c.Write(s.reqTrailer)
		} else {
			_, _ = u.c.Write(lastChunk)
		}
	}
	x.reqDone = true
	s.setDeadline(dlNone, 0)
	if !x.local && x.u == u && u.state == upActive && !u.headDone {
		u.setDeadline(dlUpHeader, now+x.tbl.timeouts.upstreamHeader)
	}
	hc.flushOut()
	x.maybeFinish()
}

// The client side of the stream's exchange (exchange.go).

// send takes the exchange's HTTP/1.1 response bytes, in order: the head
// becomes HEADERS (a 1xx head too), the framed body DATA.
func (s *h2stream) send(p []byte) {
	hc := s.hc
	if s.reset || hc.closed {
		return
	}
	for len(p) > 0 && !s.reset {
		if !s.headDone {
			s.rbuf = append(s.rbuf, p...)
			p = nil
			n, err := s.resp.Parse(s.rbuf, s.x != nil && s.x.isHead)
			if err == parser.ErrNeedMore {
				return
			}
			if err != nil {
				s.abort()
				return
			}
			rest := s.rbuf[n:]
			if !s.writeHead() {
				return
			}
			if s.resp.Status < 200 {
				s.resp.Reset()
				s.rbuf = append(s.rbuf[:0], rest...)
				p, s.rbuf = s.rbuf, nil
				continue
			}
			s.headDone = true
			s.rbody.StartResponse(&s.resp)
			p = rest
			if s.rbody.Kind() == parser.BodyNone {
				s.respEnded = true
				p = nil
			}
			continue
		}
		t0 := s.rbody.TrailerBytes()
		m, data, end, err := s.rbody.Decode(p)
		if err != nil {
			s.abort()
			return
		}
		if t := s.rbody.TrailerBytes() - t0; t > 0 {
			s.trailers = append(s.trailers, p[m-t:m]...)
		}
		if end && s.x != nil && s.x.grpc.on {
			s.x.grpcStatusIn(s.trailers) // grpcstats.go
		}
		p = p[m:]
		if m == 0 || end {
			p = nil // bytes past the body: nothing a response carries
		}
		if len(data) > 0 || end {
			s.write(data, end)
		}
	}
	hc.flushOut()
}

// writeHead turns the parsed response head into HEADERS.
func (s *h2stream) writeHead() bool {
	sc := s.hc.sc
	if s.resp.Status == 101 {
		s.abort() // no upgrade over HTTP/2
		return false
	}
	if err := sc.StartHeaders(s.id, s.resp.Status); err != nil {
		s.abort()
		return false
	}
	for _, f := range s.resp.Headers {
		sc.Field(f.Name, f.Value) // connection-specific fields are dropped
		if x := s.x; x != nil && x.grpc.on && len(f.Name) == 11 && parser.EqualFold(f.Name, "grpc-status") {
			x.grpcStatus(f.Value) // a trailers-only response (grpcstats.go)
		}
	}
	end := s.resp.Status >= 200 && s.resp.Body == parser.BodyNone
	if err := sc.EndHeaders(end); err != nil {
		s.abort()
		return false
	}
	return true
}

// write sends DATA as the windows allow and keeps the rest.
func (s *h2stream) write(p []byte, end bool) {
	if len(s.pending) > 0 || s.endQueued {
		s.pending = append(s.pending, p...)
		s.endQueued = s.endQueued || end
		return
	}
	n, err := s.hc.sc.WriteData(s.id, p, end && !s.hasTrailers(), s.hc.lp.now)
	if err != nil {
		s.abort()
		return
	}
	if n < len(p) {
		s.pending = append(s.pending, p[n:]...)
		s.endQueued = end
		return
	}
	if end && s.hasTrailers() {
		s.sendTrailers()
	}
	s.respEnded = s.respEnded || end
}

// hasTrailers reports a trailer section with fields (not only its CRLF).
func (s *h2stream) hasTrailers() bool { return len(s.trailers) > 2 }

// sendTrailers sends the trailer section as HEADERS with END_STREAM.
func (s *h2stream) sendTrailers() {
	sc := s.hc.sc
	if sc.StartTrailers(s.id) != nil {
		s.abort()
		return
	}
	for name, value := range parser.Fields(s.trailers) {
		sc.Field(name, value)
	}
	s.trailers = s.trailers[:0]
	if sc.EndHeaders(true) != nil {
		s.abort()
	}
}

// flushPending sends what waited for the client's window.
func (s *h2stream) flushPending() {
	if len(s.pending) == 0 && !s.endQueued {
		return
	}
	n, err := s.hc.sc.WriteData(s.id, s.pending, s.endQueued && !s.hasTrailers(), s.hc.lp.now)
	if err != nil {
		s.abort()
		return
	}
	rest := copy(s.pending, s.pending[n:])
	s.pending = s.pending[:rest]
	if rest == 0 && s.endQueued && s.hasTrailers() {
		s.sendTrailers()
	}
	if rest == 0 {
		s.respEnded = s.respEnded || s.endQueued
		s.endQueued = false
		if s.x == nil && s.respEnded {
			s.hc.drop(s) // its exchange ended while the tail waited
		}
	}
	s.hc.flushOut()
}

// flushOut writes what the streams produced outside the connection's own
// callback (which flushes as it returns). While other streams are open,
// their responses may arrive in the same batch of events (from other
// upstream connections): the write then waits for the batch's end, so that
// they go out together (loop.flush, pipeline.go). Arming that costs gnet
// an allocation (a task queue node), once per batch; a lone stream is
// written at once.
func (hc *h2conn) flushOut() {
	if hc.busy || hc.flushQueued {
		return
	}
	if len(hc.streams) <= 1 {
		hc.flush()
		return
	}
	hc.flushQueued = true
	hc.lp.h2flushes = append(hc.lp.h2flushes, hc)
	hc.lp.armFlush()
}

func (s *h2stream) sendv(iov [][]byte) {
	for _, p := range iov {
		s.send(p)
	}
}

func (s *h2stream) queued() int      { return len(s.pending) + s.hc.c.OutboundBuffered() }
func (s *h2stream) gone() bool       { return s.reset || s.hc.closed }
func (s *h2stream) inCallback() bool { return s.hc.busy }
func (s *h2stream) addrText() []byte { return s.hc.clientIP }
func (s *h2stream) addrHash() uint64 { return s.hc.ipHash }
func (s *h2stream) resume()          { s.pump() }

func (s *h2stream) current(x *exchange) bool { return s.x == x && !s.gone() }

func (s *h2stream) tls() *tlsloop.Info    { return tlsOf(s.hc.c).info() }
func (s *h2stream) listener() (int, bool) { return s.hc.lp.srv.listenerOf(s.hc.c) }

func (s *h2stream) remoteAddr() netip.AddrPort {
	if a, ok := s.hc.c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort()
	}
	return netip.AddrPort{}
}

func (s *h2stream) setDeadline(k dlKind, at int64) {
	s.dl, s.deadline = k, at
	if k == dlNone {
		s.deadline = 0
	}
}

func (s *h2stream) holdBody(now int64) {
	if s.dl == dlBody {
		s.setDeadline(dlBody, now+s.hc.lp.srv.tbl.Load().timeouts.clientBody)
	}
}

// ended: the exchange finished. The stream ends with it, once the last of
// its response has gone out.
func (s *h2stream) ended(x *exchange) {
	hc := s.hc
	s.x = nil
	hc.lp.releaseExchange(x)
	switch {
	case s.reset:
	case !s.respEnded && !s.endQueued:
		// Finished without a whole response (a close-delimited body ends
		// here): end the stream.
		s.write(nil, true)
	}
	if !s.bodyEnd && !s.reset {
		hc.sc.Reset(s.id, h2.CodeNo) // §8.1: the rest of the request is not needed
		s.reset = true
	}
	if len(s.pending) == 0 || s.reset {
		hc.drop(s)
	}
	hc.flushOut()
}

// abort cuts the stream off (RST_STREAM) and ends its exchange.
func (s *h2stream) abort() {
	if !s.reset {
		s.hc.sc.Reset(s.id, h2.CodeInternal)
	}
	s.kill()
	s.hc.flushOut()
}

// kill ends the stream's exchange at once: the client reset the stream,
// or it was aborted, or the connection closed.
func (s *h2stream) kill() {
	s.reset = true
	if x := s.x; x != nil {
		s.x = nil
		x.clientGone()
		s.hc.lp.releaseExchange(x)
	}
	s.hc.drop(s)
}

// drop removes s from the open streams, for reuse.
func (hc *h2conn) drop(s *h2stream) {
	for i, o := range hc.streams {
		if o == s {
			last := len(hc.streams) - 1
			hc.streams[i] = hc.streams[last]
			hc.streams[last] = nil
			hc.streams = hc.streams[:last]
			if cap(s.body) <= maxKeptBuf && cap(s.pending) <= maxKeptBuf && len(hc.free) < max(hc.peak, 8) {
				hc.free = append(hc.free, s)
			}
			return
		}
	}
}

func (hc *h2conn) onClose() {
	hc.closed = true
	for len(hc.streams) > 0 {
		hc.streams[0].kill()
	}
	hc.lp.removeH2(hc)
}

// tick enforces the connection's and its streams' deadlines.
func (hc *h2conn) tick(now int64) {
	t := hc.lp.srv.tbl.Load()
	sc := hc.sc
	if hc.sendW.stalled(hc.c, now, t.timeouts.clientSend) ||
		(sc.BlockedSince() != 0 && now-sc.BlockedSince() > t.timeouts.clientSend) {
		abort(hc.c) // a client that takes nothing: reset
		hc.close()
		return
	}
	if u := sc.SettingsUnackedSince(); u != 0 && now-u > t.timeouts.clientHeader {
		sc.GoAway(h2.CodeSettingsTimeout)
		hc.flush()
		hc.close()
		return
	}
	if len(hc.streams) == 0 {
		idle := sc.IdleSince() != 0 && now-sc.IdleSince() > t.timeouts.keepalive
		if hc.goneAway || idle || hc.lp.srv.draining.Load() {
			if !hc.goneAway {
				sc.GoAway(h2.CodeNo)
				hc.flush()
			}
			hc.close()
			return
		}
	}
	if hc.lp.srv.draining.Load() && !hc.goneAway {
		hc.goneAway = true
		sc.GoAway(h2.CodeNo) // streams in flight finish; no new ones
		hc.flush()
	}
	for i := 0; i < len(hc.streams); i++ {
		s := hc.streams[i]
		if s.deadline == 0 || now < s.deadline || s.x == nil {
			continue
		}
		x := s.x
		switch s.dl {
		case dlBody:
			x.clientTimedOut()
		case dlCacheWait:
			x.cacheWaitExpired(now)
		case dlAuthWait:
			x.authWaitExpired()
		}
		if i < len(hc.streams) && hc.streams[i] != s {
			i--
		}
	}
}

var _ client = (*h2stream)(nil)

// isH2 reports whether x's client is an HTTP/2 stream.
func (d *exchange) isH2() bool {
	_, ok := d.cl.(*h2stream)
	return ok
}
