package engine

import (
	"errors"
	"io"
	"net/netip"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/hotpath/hotpath/parser"
)

// Protocol upgrade (RFC 9110 §7.8), WebSocket's handshake among them
// (RFC 6455 §4). A request that lists "upgrade" in Connection and offers
// only protocols its route allows (routes[].upgrade, default [websocket]) is
// forwarded with Connection: Upgrade and its Upgrade field. If the upstream
// answers 101 Switching Protocols, the gateway relays the 101 and the two
// connections become a tunnel: bytes are copied verbatim both ways on the
// loop that owns both, with the same pause-read backpressure as HTTP bodies.
// Any other answer is an ordinary response and both connections go on as
// HTTP. A request whose upgrade the route refuses (or h2c, always) is
// forwarded as plain HTTP, Upgrade dropped as the hop-by-hop field it is.
//
// A tunnel ends when:
//   - one side sends FIN: the other side gets everything relayed so far,
//     then a FIN (shutdown SHUT_WR), and is closed when it closes too or
//     lingerTime later. gnet closes a connection as soon as it reads EOF,
//     so a half-closed tunnel cannot carry bytes the other way.
//   - one side resets (or fails): the other side is reset (SO_LINGER 0).
//   - nothing moved either way for timeouts.tunnel_idle: both are closed.
//   - a side has bytes queued that it takes none of for
//     timeouts.client_send: that side is reset, the other closed.
//
// A tunnel's upstream connection counts against pool.max_conns until the
// tunnel ends and never returns to the pool; the endpoint's request
// accounting (least_conn, EWMA latency) ends at the 101.

// tunnel is an upgraded client connection and the upstream connection it
// was switched on, owned by their loop.
type tunnel struct {
	lp  *loop
	idx int // in lp.tunnels
	cl  tunnelEnd
	up  tunnelEnd
	u   *up // for pool accounting

	maxBuf     int
	idle       int64 // timeouts.tunnel_idle
	sendLimit  int64 // timeouts.client_send
	moved      uint64
	seenMoved  uint64
	lastMoved  int64 // loop clock of the tick that last saw moved change
	lingerTill int64 // after a FIN was passed on
	finished   bool
	perIP      netip.Addr // valid: the client address holds a limits.per_ip count (edge.go)
}

// tunnelEnd is one connection of a tunnel; it is that gnet.Conn's context.
type tunnelEnd struct {
	t    *tunnel
	c    gnet.Conn
	peer *tunnelEnd

	busy      bool // inside this end's own callback: close via wantClose
	wantClose bool
	closed    bool
	paused    bool
	finWanted bool // the peer sent FIN: pass it on once this end's output drained
	finSent   bool
	sendW     sendWatch
}

var tokUpgrade = []byte("upgrade")

// upgradeFor decides whether d's request goes upstream as an upgrade, and
// collects the protocols it offers into d.upgradeVal. It runs in begin,
// while the head's bytes are valid.
func (d *exchange) upgradeFor(rt *route) bool {
	r := &d.req
	if r.Upgrade == nil || len(rt.upgrade) == 0 || d.minor < 1 || r.Body != parser.BodyNone ||
		d.lp.srv.draining.Load() {
		return false // RFC 9110 §7.8: ignore Upgrade in HTTP/1.0; a body would precede the switch
	}
	if rt.up != nil && rt.up.proto != protoHTTP1 {
		return false // an HTTP/2 stream has no Upgrade (RFC 9113 §8.6): sent as plain HTTP
	}
	listed := false
	for _, c := range d.conn {
		if hasToken(c.Value, tokUpgrade) {
			listed = true
			break
		}
	}
	if !listed {
		return false // Upgrade is hop-by-hop: without Connection: upgrade it is void
	}
	v := d.upgradeVal[:0]
	for _, h := range r.Headers {
		if len(h.Name) != 7 || !parser.EqualFold(h.Name, "upgrade") {
			continue
		}
		for list := h.Value; len(list) > 0; {
			var tok []byte
			tok, list = nextToken(list)
			if len(tok) > 0 && !rt.allowsUpgrade(tok) {
				d.upgradeVal = v
				return false // all or nothing: the upstream may pick any offered
			}
		}
		if len(v) > 0 {
			v = append(v, ", "...)
		}
		v = append(v, h.Value...)
	}
	d.upgradeVal = v
	return len(parser.TrimOWS(v)) > 0
}

// allowsUpgrade reports whether protocol ("name" or "name/version") is in
// the route's upgrade list. h2c never is: HTTP/2 would be spoken to an
// upstream connection the gateway pools as HTTP/1.1.
func (rt *route) allowsUpgrade(protocol []byte) bool {
	name := protocol
	for i, c := range protocol {
		if c == '/' {
			name = protocol[:i]
			break
		}
	}
	if parser.EqualFold(name, "h2c") {
		return false
	}
	for _, p := range rt.upgrade {
		if parser.EqualFoldBytes(name, p) || parser.EqualFoldBytes(protocol, p) {
			return true
		}
	}
	return false
}

// nextToken splits the first element off a comma-separated list.
func nextToken(list []byte) (tok, rest []byte) {
	i := 0
	for i < len(list) && list[i] != ',' {
		i++
	}
	tok = parser.TrimOWS(list[:i])
	if i < len(list) {
		i++
	}
	return tok, list[i:]
}

// appendUpgrade adds the upgrade fields to the upstream request head (the
// client's were dropped as hop-by-hop).
func (d *exchange) appendUpgrade(b []byte) []byte {
	b = append(b, "Connection: Upgrade\r\nUpgrade: "...)
	b = append(b, d.upgradeVal...)
	return append(b, "\r\n"...)
}

// switchProtocols handles a 101 answer to an upgrade request: it checks it,
// relays it to the client and turns the pair into a tunnel. consumed is the
// length of the response head(s) in u's input. It runs inside u's OnTraffic;
// on error nothing has changed and the caller answers 502.
func (u *up) switchProtocols(consumed int) error {
	d := u.d
	r := &u.resp
	// RFC 9110 §15.2.2: a 101 names the protocol(s) switched to, and each
	// must be one the client offered.
	named := false
	for _, h := range r.Headers {
		if len(h.Name) != 7 || !parser.EqualFold(h.Name, "upgrade") {
			continue
		}
		for list := h.Value; len(list) > 0; {
			var tok []byte
			tok, list = nextToken(list)
			if len(tok) == 0 {
				continue
			}
			if !hasToken(d.upgradeVal, tok) {
				return ErrUpstreamMalformed
			}
			named = true
		}
	}
	if !named {
		return ErrUpstreamMalformed
	}
	d.render101(r, u.connArr[:0])
	d.status = 101
	d.endEP(false)
	// The HTTP exchange ends here, as every exchange does (exchange.end):
	// it is counted and logged as a 101, and its policies let go (a tunnel
	// holds no max_in_flight slot, no cache flight and no retry budget;
	// the pool's max_conns slot stays taken until it ends).
	d.end()
	discard(u.c, consumed)

	t := newTunnel(d, u)
	// Inside u's callback: closing u.c must wait for it to return.
	t.up.busy = true
	t.cl.busy = true
	_, _ = t.cl.c.Write(d.out)
	d.cl.(*h1conn).release() // the exchange is over; its connection is the tunnel's now
	if !t.cl.closed {
		t.up.relay() // bytes the upstream sent after the 101
	}
	if !t.cl.closed && !t.up.closed {
		t.cl.relay() // bytes the client sent early
	}
	t.up.busy, t.cl.busy = false, false
	if t.cl.wantClose {
		t.cl.close()
	}
	u.wantClose = t.up.wantClose
	return nil
}

// render101 renders the upstream's 101 for the client into d.out: its
// end-to-end fields, then Connection and Upgrade (hop-by-hop, so rebuilt).
func (d *exchange) render101(r *parser.Response, connArr []parser.Header) {
	conn := connectionFields(connArr, r.Headers)
	b := appendStatusLine(d.out[:0], 101, r.Reason)
	for _, h := range r.Headers {
		if !hopByHop(h.Name, conn) {
			b = append(b, h.Name...)
			b = append(b, ": "...)
			b = append(b, h.Value...)
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, "Connection: Upgrade\r\nUpgrade: "...)
	first := true
	for _, h := range r.Headers {
		if len(h.Name) == 7 && parser.EqualFold(h.Name, "upgrade") {
			if !first {
				b = append(b, ", "...)
			}
			b = append(b, h.Value...)
			first = false
		}
	}
	b = append(b, "\r\n"...)
	b = append(b, d.tbl.viaLine...)
	b = append(b, "\r\n"...)
	d.out = b
}

// newTunnel retires d's and u's HTTP state machines and hands their
// connections to a tunnel.
func newTunnel(d *exchange, u *up) *tunnel {
	lp := d.lp
	t := &tunnel{
		lp: lp, u: u,
		maxBuf:    d.tbl.maxBuf,
		idle:      d.tbl.timeouts.tunnelIdle,
		sendLimit: d.tbl.timeouts.clientSend,
		lastMoved: lp.now,
	}
	h := d.cl.(*h1conn) // upgrades are HTTP/1.1's
	t.cl = tunnelEnd{t: t, c: h.c, peer: &t.up, paused: h.paused}
	t.up = tunnelEnd{t: t, c: u.c, peer: &t.cl, paused: u.paused}
	h.paused, u.paused = false, false // the pause counts move with them
	if h.perIP {
		t.perIP, h.perIP = peerAddrOf(h.c), false // the limits.per_ip count too
	}
	d.detach()
	h.closed = true // inert: h is no longer any connection's context
	lp.removeDown(h)
	u.state = upClosed
	lp.removeUp(u)
	lp.srv.active.Add(1) // the client connection stays open
	h.c.SetContext(&t.cl)
	u.c.SetContext(&t.up)
	t.idx = len(lp.tunnels)
	lp.tunnels = append(lp.tunnels, t)
	return t
}

func (e *tunnelEnd) onTraffic() gnet.Action {
	e.busy = true
	e.relay()
	e.busy = false
	if e.wantClose || e.closed {
		return gnet.Close
	}
	if e.paused {
		setReading(e.t.lp.epfd, e.c, false) // gnet re-enables reading when it flushes
	}
	return gnet.None
}

// relay copies e's input to its peer and pauses e while the peer has more
// than limits.max_buffered_bytes queued.
func (e *tunnelEnd) relay() {
	buf, _ := e.c.Peek(-1)
	if len(buf) == 0 {
		return
	}
	t := e.t
	t.moved++
	p := e.peer
	if p.closed {
		discard(e.c, len(buf)) // e's peer is gone: nothing can carry it
		return
	}
	_, _ = p.c.Write(buf) // a failure closes p, and so resets e (onClose)
	if e.closed {
		return
	}
	discard(e.c, len(buf))
	if p.closed {
		return
	}
	if out := p.c.OutboundBuffered(); out > t.maxBuf {
		t.lp.pause(e.c, &e.paused)
		if out > 4*t.maxBuf {
			t.closeBoth() // pause-read unavailable (see pause.go): the hard cap
		}
	}
}

// close closes e now, or when its callback returns.
func (e *tunnelEnd) close() {
	if e.closed {
		return
	}
	if e.busy {
		e.wantClose = true
		return
	}
	_ = e.t.lp.el.Close(rawConn(e.c))
}

func (t *tunnel) closeBoth() {
	t.cl.close()
	t.up.close()
}

// onClose propagates a close to the peer: a FIN as a FIN once the peer has
// every byte relayed to it, anything else as a reset. A close the gateway
// made itself (err nil) was decided for both ends by its caller.
func (e *tunnelEnd) onClose(err error) {
	e.closed = true
	t := e.t
	if e.paused {
		e.paused = false
		t.lp.srv.paused.Add(-1)
	}
	p := e.peer
	switch {
	case p.closed:
		t.finish()
	case err == nil:
	case errors.Is(err, io.EOF):
		p.finWanted = true
		t.lp.resume(p.c, &p.paused) // read p until it closes; its bytes are dropped
		if p.c.OutboundBuffered() == 0 {
			p.sendFIN(t.lp.now)
		}
	default:
		abort(p.c)
		p.close()
	}
}

// sendFIN half-closes e: its peer will see the end of the stream after the
// last relayed byte.
func (e *tunnelEnd) sendFIN(now int64) {
	if e.finSent || e.closed {
		return
	}
	if unix.Shutdown(e.c.Fd(), unix.SHUT_WR) != nil {
		e.close()
		return
	}
	e.finSent = true
	e.t.lingerTill = now + lingerTime
}

// finish runs when both ends have closed.
func (t *tunnel) finish() {
	if t.finished {
		return
	}
	t.finished = true
	lp := t.lp
	unlist(&lp.tunnels, t)
	lp.srv.active.Add(-1)
	if t.perIP.IsValid() {
		lp.srv.edgeRelease(t.perIP) // edge.go; the client's gnet.Conn may be gone
		t.perIP = netip.Addr{}
	}
	t.u.uncount() // its max_conns slot is free (settle hands it on)
}

// tickTunnels runs each tunnel's tick; called from the loop's tick.
func (lp *loop) tickTunnels(now int64) {
	for i := 0; i < len(lp.tunnels); i++ {
		t := lp.tunnels[i]
		t.tick(now)
		if i < len(lp.tunnels) && lp.tunnels[i] != t {
			i-- // t finished and was swapped out: revisit this index
		}
	}
}

// tick resumes paused ends whose peer drained, passes on pending FINs and
// enforces the tunnel's timeouts.
func (t *tunnel) tick(now int64) {
	if t.moved != t.seenMoved {
		t.seenMoved, t.lastMoved = t.moved, now
	}
	for _, e := range [2]*tunnelEnd{&t.cl, &t.up} {
		if e.closed {
			continue
		}
		p := e.peer
		if e.paused && (p.closed || p.c.OutboundBuffered() <= t.maxBuf/2) {
			t.lp.resume(e.c, &e.paused)
		}
		if e.finWanted && e.c.OutboundBuffered() == 0 {
			if e.sendFIN(now); e.closed {
				return
			}
		}
		if e.sendW.stalled(e.c, now, t.sendLimit) {
			abort(e.c)
			t.closeBoth()
			return
		}
		if e.finSent && now >= t.lingerTill {
			e.close()
			return
		}
	}
	if !t.cl.closed && !t.up.closed && now-t.lastMoved >= t.idle {
		t.closeBoth()
	}
}
