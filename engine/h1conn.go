package engine

import (
	"net"
	"net/netip"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/hotpath/hotpath/parser"
	"github.com/hotpath/hotpath/tlsloop"
)

// downState is where a client connection is in its request cycle.
type downState uint8

const (
	downIdle    downState = iota // waiting for or reading a request head
	downActive                   // a request is being answered
	downClosing                  // last response written; close once flushed
)

// deadline kinds, for clients and upstreams.
type dlKind uint8

const (
	dlNone      dlKind = iota
	dlKeepalive        // client idle between requests
	dlHeader           // client request head must complete
	dlBody             // client idle between request body bytes
	dlFlush            // closing client must drain its output
	dlConnect          // upstream connect
	dlUpHeader         // upstream response head must complete
	dlUpRead           // upstream idle between response body bytes
	dlLinger           // half-closed client: wait for its close
	dlCacheWait        // parked on another request's cache fetch (cachepath.go)
	dlAuthWait         // parked for a Basic credential check (authpool.go)
)

// h1conn is an HTTP/1.1 client connection: its socket, where it is in its
// request cycle, its deadline and the flags of its own callbacks. It reads
// request heads and bodies, keeps pipelined requests in order (one exchange
// at a time; the next head waits in the input), keeps the connection alive
// or lingers on close, and hands an upgraded connection to a tunnel.
//
// Everything about one request lives in its exchange (exchange.go), taken
// from the loop's free list when the first byte of a head arrives and given
// back when the response ends: an idle keep-alive connection holds this
// struct and gnet's connection, nothing else.
type h1conn struct {
	lp       *loop
	c        gnet.Conn
	idx      int // in lp.downs
	clientIP []byte
	ipHash   uint64
	tbl      *table    // the table of the last request (nil before the first)
	x        *exchange // the request being read or answered; nil when idle

	state    downState
	dl       dlKind
	deadline int64 // loop clock; 0 = none
	lastOut  int   // output buffered at the last flush check
	sendW    sendWatch

	perIP     bool // holds a limits.per_ip connection count (edge.go)
	busy      bool // inside one of h's own callbacks: close via wantClose
	wantClose bool
	closed    bool
	paused    bool
	upgraded  *h2conn // the connection speaks HTTP/2 now (h2conn.go)
	// quiet: the last exchange's client ended the connection itself
	// (Connection: close, or HTTP/1.0 without keep-alive) and sent its
	// whole request, so it sends nothing more (RFC 9112 §9.6) and linger
	// can close outright.
	quiet bool
}

func (h *h1conn) setDeadline(k dlKind, at int64) {
	h.dl, h.deadline = k, at
	if k == dlNone {
		h.deadline = 0
	}
}

// table returns the routing table the connection's timeouts come from.
func (h *h1conn) table() *table {
	if h.tbl == nil {
		return h.lp.srv.tbl.Load()
	}
	return h.tbl
}

func (h *h1conn) onTraffic() gnet.Action {
	h.busy = true
	h.process()
	h.busy = false
	if hc := h.upgraded; hc != nil {
		return hc.onTraffic() // the preface arrived: HTTP/2 from here on
	}
	if h.wantClose || h.closed {
		return gnet.Close
	}
	h.afterRead()
	return gnet.None
}

// afterRead re-applies a pause (gnet re-enables reading when it flushes) and
// enforces the hard cap when pause-read is unavailable.
func (h *h1conn) afterRead() {
	if h.paused {
		setReading(h.lp.epfd, h.c, false)
	}
	if h.c.InboundBuffered() > 4*h.table().maxBuf {
		h.close()
	}
}

// run processes buffered input from outside h's own callbacks.
func (h *h1conn) run() {
	if h.busy || h.closed {
		return
	}
	h.busy = true
	h.process()
	h.busy = false
	if h.wantClose {
		h.wantClose = false
		_ = h.lp.el.Close(rawConn(h.c))
	}
}

// close closes the client connection now, or when its callback returns.
func (h *h1conn) close() {
	if h.closed {
		return
	}
	if h.busy {
		h.wantClose = true
		return
	}
	_ = h.lp.el.Close(rawConn(h.c))
}

func (h *h1conn) process() {
	for !h.wantClose && !h.closed && h.upgraded == nil {
		switch h.state {
		case downIdle:
			if h.tbl != nil && h.c.OutboundBuffered() > h.tbl.maxBuf {
				// A client that pipelines without reading its responses:
				// stop reading it until it catches up.
				h.lp.pause(h.c, &h.paused)
				return
			}
			if !h.readHead() {
				return
			}
		case downActive:
			if x := h.x; !x.reqDone {
				h.pumpBody(x)
				if h.state != downActive {
					continue // the exchange ended: next request
				}
			}
			// Input waits here: body bytes while the upstream connects, or
			// the next pipelined request until this response completes.
			if h.backlogged() {
				h.lp.pause(h.c, &h.paused)
			}
			return
		case downClosing:
			_, _ = h.c.Discard(-1)
			return
		}
	}
}

// readHead parses the buffered request head and starts its exchange. It
// reports whether it made progress. The exchange is taken when the first
// byte arrives, so a head that trickles in is parsed incrementally into it.
func (h *h1conn) readHead() bool {
	buf, _ := h.c.Peek(-1)
	if len(buf) == 0 {
		return false
	}
	now := h.lp.now
	if h.dl == dlKeepalive {
		// The head timeout runs from the first byte; trickling does not
		// extend it.
		h.setDeadline(dlHeader, now+h.lp.srv.tbl.Load().timeouts.clientHeader)
	}
	x := h.x
	if x == nil {
		x = h.lp.newExchange(h)
		h.x = x
	}
	n, err := x.req.Parse(buf)
	if err == parser.ErrNeedMore {
		return false
	}
	if err == parser.ErrHTTP2Preface {
		if i, ok := h.lp.srv.h2cOn(h.c); ok {
			h.toH2(i) // h2conn.go
			return false
		}
	}
	if h.lp.srv.h2Only(h.c) {
		h.close() // an HTTP/2-only listener: no preface, no answer (RFC 9113 §3.4)
		return false
	}
	if err != nil {
		x.observeParseError(err, buf)
		h.reject(parser.Status(err))
		return false
	}
	h.state = downActive
	h.tbl = h.lp.srv.tbl.Load()
	x.begin(buf, n, now)
	discard(h.c, n)
	x.dispatch()
	return true
}

// reject answers a request that failed to parse and closes the connection:
// its framing can no longer be trusted.
func (h *h1conn) reject(status int) {
	x := h.x
	x.observeReject(h.c.InboundBuffered())
	x.keepAlive, x.closeAfter, x.isHead, x.minor = false, true, false, 1
	x.renderLocal(status, nil)
	_, _ = h.c.Write(x.out)
	h.toClosing()
}

// pumpBody forwards (or, for local responses, discards) the request body
// bytes buffered from the client.
func (h *h1conn) pumpBody(x *exchange) {
	u := x.u
	if !x.local && (u == nil || u.state != upActive) {
		return // connecting: the body waits in the client's input
	}
	buf, _ := h.c.Peek(-1)
	if len(buf) == 0 {
		return
	}
	n, done, err := x.skipBody(buf) // counts against max_body (edge.go)
	if err == ErrBodyTooLarge {
		x.bodyTooLarge()
		return
	}
	if err != nil {
		x.badBody()
		return
	}
	if n > 0 && !x.local {
		_, _ = u.c.Write(buf[:n])
		if x.keepBody {
			x.keep(buf[:n]) // for a retry (retry.go)
		}
	}
	discard(h.c, n)
	x.obs.bytesIn += n
	if h.closed || h.x != x || h.state != downActive {
		return
	}
	now := h.lp.now
	if done {
		x.reqDone = true
		h.setDeadline(dlNone, 0)
		if !x.local && x.u == u && u.state == upActive && !u.headDone {
			u.setDeadline(dlUpHeader, now+x.tbl.timeouts.upstreamHeader)
		}
		x.maybeFinish()
		return
	}
	h.setDeadline(dlBody, now+x.tbl.timeouts.clientBody)
	if !x.local && x.u == u && u.c.OutboundBuffered() > x.tbl.maxBuf {
		h.lp.pause(h.c, &h.paused)
	}
}

// exchangeEnded runs when x, h's exchange, has finished (x.finish, after
// its teardown): h serves its next request, or closes when x or the
// server says so.
func (h *h1conn) exchangeEnded(x *exchange) {
	now := h.lp.now
	if x.closeAfter || !x.keepAlive || h.lp.srv.draining.Load() {
		h.toClosing()
		return
	}
	h.release()
	h.state = downIdle
	h.tbl = h.lp.srv.tbl.Load()
	h.setDeadline(dlKeepalive, now+h.tbl.timeouts.keepalive)
	if h.paused {
		h.lp.resume(h.c, &h.paused)
	}
	if h.c.InboundBuffered() > 0 {
		h.run() // pipelined requests already buffered get no new OnTraffic
	}
}

// release gives h's exchange back to the loop.
func (h *h1conn) release() {
	if x := h.x; x != nil {
		h.quiet = x.clientClose && x.reqDone
		h.x = nil
		h.lp.releaseExchange(x)
	}
}

// lingerTime bounds how long a closing connection waits for the client to
// close after the gateway's FIN.
const lingerTime = int64(time.Second)

// toClosing ends the exchange in progress, if any, and closes the
// connection once its output has drained.
func (h *h1conn) toClosing() {
	if x := h.x; x != nil {
		x.end()
	}
	h.release()
	h.state = downClosing
	if t := tlsOf(h.c); t != nil {
		t.closeNotify() // the last response is complete (tls.go)
	}
	if h.c.OutboundBuffered() == 0 {
		h.linger()
		return
	}
	h.lastOut = h.c.OutboundBuffered()
	h.setDeadline(dlFlush, h.lp.now+h.table().timeouts.clientBody)
}

// linger half-closes a connection whose last response is fully handed to
// the kernel, then reads and drops input until the client closes or
// lingerTime passes. Closing outright with unread input would send a RST
// that can destroy the response before the client reads it (the reason for
// nginx's lingering_close).
func (h *h1conn) linger() {
	if h.dl == dlLinger || h.closed {
		return
	}
	if h.quiet && h.c.InboundBuffered() == 0 {
		// Nothing unread and nothing more to come: close(2) sends a FIN
		// after the queued response, no RST, so lingering would only cost
		// a shutdown, a read and a tick (nginx's lingering_close heuristic
		// decides the same way).
		h.close()
		return
	}
	if h.paused {
		h.lp.resume(h.c, &h.paused)
	}
	if unix.Shutdown(h.c.Fd(), unix.SHUT_WR) != nil {
		h.close()
		return
	}
	_, _ = h.c.Discard(-1)
	h.setDeadline(dlLinger, h.lp.now+lingerTime)
}

func (h *h1conn) onClose() {
	h.closed = true
	if h.paused {
		h.paused = false
		h.lp.srv.paused.Add(-1)
	}
	h.lp.removeDown(h)
	if x := h.x; x != nil {
		x.clientGone()
		h.release()
	}
	h.lp.recycle(h)
}

// tick enforces h's deadline and resumes it when its upstream has drained.
func (h *h1conn) tick(now int64) {
	if h.sendStalled(now) {
		abort(h.c)
		h.close()
		return
	}
	x := h.x
	if h.paused {
		maxBuf := h.table().maxBuf
		var u *up
		if x != nil {
			u = x.u
		}
		busyUp := u != nil && u.state == upActive && u.c.OutboundBuffered() > maxBuf/2
		unread := h.state == downIdle && h.c.OutboundBuffered() > maxBuf/2
		if !busyUp && !unread && !h.backlogged() {
			h.lp.resume(h.c, &h.paused)
			if h.state == downActive && !x.reqDone && h.dl == dlBody {
				h.setDeadline(dlBody, now+x.tbl.timeouts.clientBody)
			}
			h.run()
			if h.closed {
				return
			}
			x = h.x
		} else if h.dl == dlBody {
			h.setDeadline(dlBody, now+x.tbl.timeouts.clientBody) // waiting on the upstream, not the client
		}
	}
	if h.state == downClosing && h.dl != dlLinger && h.c.OutboundBuffered() == 0 {
		h.linger()
		return
	}
	if h.deadline == 0 || now < h.deadline {
		return
	}
	h.observeDeadline()
	switch h.dl {
	case dlKeepalive, dlLinger:
		h.close()
	case dlHeader:
		if h.c.InboundBuffered() > 0 {
			if h.x == nil {
				h.x = h.lp.newExchange(h) // the parser refused nothing: a 408 needs one to render
			}
			h.reject(408)
		} else {
			h.close()
		}
	case dlBody:
		x.clientTimedOut()
	case dlCacheWait:
		x.cacheWaitExpired(now)
	case dlAuthWait:
		x.authWaitExpired()
	case dlFlush:
		if out := h.c.OutboundBuffered(); out < h.lastOut {
			h.lastOut = out
			h.setDeadline(dlFlush, now+h.table().timeouts.clientBody)
			return
		}
		h.close()
	}
}

// backlogged reports whether input the exchange cannot consume yet has
// piled up past the buffer limit.
func (h *h1conn) backlogged() bool {
	x := h.x
	if h.state != downActive || x == nil || h.c.InboundBuffered() <= x.tbl.maxBuf {
		return false
	}
	return x.reqDone || x.u == nil || x.u.state != upActive
}

// discard drops n bytes of c's input. gnet's Discard treats n <= 0 as
// "everything", so a zero count must not reach it.
func discard(c gnet.Conn, n int) {
	if n > 0 {
		_, _ = c.Discard(n)
	}
}

// The client side of h's exchange (exchange.go's client interface).

func (h *h1conn) send(p []byte)            { _, _ = h.c.Write(p) }
func (h *h1conn) sendv(iov [][]byte)       { _, _ = h.c.Writev(iov) }
func (h *h1conn) queued() int              { return h.c.OutboundBuffered() }
func (h *h1conn) gone() bool               { return h.closed }
func (h *h1conn) current(x *exchange) bool { return h.x == x && h.state == downActive && !h.closed }
func (h *h1conn) abort()                   { h.close() }
func (h *h1conn) ended(x *exchange)        { h.exchangeEnded(x) }
func (h *h1conn) resume()                  { h.run() }
func (h *h1conn) inCallback() bool         { return h.busy }
func (h *h1conn) addrText() []byte         { return h.clientIP }
func (h *h1conn) addrHash() uint64         { return h.ipHash }

func (h *h1conn) holdBody(now int64) {
	if h.dl == dlBody {
		h.setDeadline(dlBody, now+h.table().timeouts.clientBody)
	}
}

// remoteAddr returns the peer's address and port.
// tls is the TLS under the connection (its parameters and the client's
// certificate); nil over plain TCP.
func (h *h1conn) tls() *tlsloop.Info { return tlsOf(h.c).info() }

// listener is the index of the listener the connection came in on.
func (h *h1conn) listener() (int, bool) { return h.lp.srv.listenerOf(h.c) }

func (h *h1conn) remoteAddr() netip.AddrPort {
	if a, ok := h.c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort()
	}
	return netip.AddrPort{}
}
