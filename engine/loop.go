package engine

import (
	"context"
	"errors"
	"net"
	"slices"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/netpoll"
	"github.com/panjf2000/gnet/v2/pkg/queue"

	"github.com/hotpath/hotpath/h2"
	"github.com/hotpath/hotpath/pool"
	"github.com/hotpath/hotpath/tlsloop"
)

// loop is one event loop's private state. Only that loop's goroutine touches
// it (callbacks and Execute'd tasks), so nothing in it is locked.
type loop struct {
	srv  *Server
	el   gnet.EventLoop
	epfd int   // the loop's epoll descriptor for pause-read, -1 if unknown
	lnfd []int // the loop's listening sockets

	// now is the loop clock (Server.now) as read once at the start of the
	// callback or task running on the loop (wake); the code below it uses
	// this reading, so one wake-up sees one time.
	now int64

	downs   []*h1conn // open client connections (index in h1conn.idx)
	h2conns []*h2conn // open HTTP/2 client connections (h2conn.idx)
	h2bufs  *h2.Buffers
	ups     []*up // open or dialing upstream connections (index in up.idx)

	// conns holds this loop's connections per endpoint, indexed by
	// pool.Endpoint.ID (dense and process-unique across reloads).
	conns []*pool.Conns[*up]

	freeConns     []*h1conn   // closed client connections' state for reuse (newConn)
	freeExchanges []*exchange // finished exchanges for reuse (newExchange)
	// The free list holds up to keepExchanges (at least maxFreeExchanges):
	// it grows by the exchanges that found it empty during a tick, so that
	// a loop with more exchanges in flight (HTTP/2 streams) keeps as many,
	// and shrinks slowly when they are no longer needed (tickFreeLists).
	keepExchanges int
	xMisses       int

	pending pending // requests waiting for a connection (pending.go)

	// Pipelining (pipeline.go): the connection per endpoint ID that
	// pipelinable requests join, the requests to send again after their
	// pipelined connection failed, and the connections with request heads
	// to write after this batch of events.
	pipes      []*up
	redo       []*exchange
	flushes    []*up
	h2flushes  []*h2conn // HTTP/2 connections whose output waits for this batch's end (h2conn.flushOut)
	flushArmed bool
	poller     *netpoll.Poller // nil: flush through EventLoop.Execute
	flushFn    queue.Func
	tunnels    []*tunnel   // upgraded connection pairs (tunnel.go)
	h2up       up2Loop     // HTTP/2 upstream connections and their streams (up2.go)
	grpcCalls  *grpcCounts // gRPC calls per method and code; nil until the first (grpcstats.go)

	stoppedAccepting bool // draining
	acceptPaused     bool // the descriptor budget is spent (fdguard.go)

	obs  loopObs  // metrics and access-log buffer (observe.go)
	gate loopGate // verified credentials, request IDs (authpath.go)
}

func newLoop(s *Server, el gnet.EventLoop, c gnet.Conn) *loop {
	lp := &loop{srv: s, el: el, epfd: epollFD(c), lnfd: listenerFDs(c), obs: s.obs.newLoop(), poller: pollerOf(c)}
	lp.flushFn = lp.flushTask
	if lp.epfd < 0 {
		s.log.Warn("gnet layout unknown: pause-read unavailable, falling back to closing connections over 4x limits.max_buffered_bytes")
	}
	return lp
}

// wake reads the loop clock into lp.now. Every gnet callback and every
// task Execute'd on the loop calls it first.
func (lp *loop) wake() { lp.now = lp.srv.now() }

// Run implements gnet.Runnable: the periodic tick, Execute'd on the loop by
// Server.OnTick. It enforces deadlines, resumes paused connections whose
// peer has drained, and expires idle upstream connections.
func (lp *loop) Run(context.Context) error {
	lp.wake()
	now := lp.now
	for i := 0; i < len(lp.downs); i++ {
		d := lp.downs[i]
		d.tick(now)
		if i < len(lp.downs) && lp.downs[i] != d {
			i-- // d closed and was swapped out: revisit this index
		}
	}
	for i := 0; i < len(lp.h2conns); i++ {
		hc := lp.h2conns[i]
		hc.tick(now)
		if i < len(lp.h2conns) && lp.h2conns[i] != hc {
			i--
		}
	}
	for i := 0; i < len(lp.ups); i++ {
		u := lp.ups[i]
		u.tick(now)
		if i < len(lp.ups) && lp.ups[i] != u {
			i--
		}
	}
	for _, p := range lp.conns {
		switch {
		case p == nil || p.IdleLen() == 0:
		case p.Endpoint != nil && p.Endpoint.Retired():
			p.CloseIdle(lp.closeIdle) // a reload dropped the endpoint
		default:
			p.Expire(now, lp.closeIdle)
		}
	}
	if lp.acceptPaused {
		lp.resumeAccepting()
	} else {
		if lp.srv.fd.paused.Load() > 0 {
			// Another loop waits for descriptors, and the budget is
			// global: this loop's idle upstream connections go too.
			lp.shedIdleUpstreams()
		}
		if lp.srv.fd.burstOpen.Load() {
			lp.srv.endBurst(now)
		}
	}
	lp.srv.edgeTick(now)
	lp.tickTunnels(now)
	lp.h2up.tick(lp, now) // up2.go
	lp.tickPending(now)
	lp.settle() // requests a timeout sent back from a pipelined connection
	lp.tickFreeLists()
	lp.obs.tick(lp)
	return nil
}

// closeIdle closes an idle connection its pool has uncounted (the closeFn
// of Conns.Expire and CloseIdle): at once, from the loop's tick.
func (lp *loop) closeIdle(u *up) {
	u.counted = false
	u.state = upClosed
	_ = lp.el.Close(rawConn(u.c))
}

// drain runs on the loop when Shutdown starts: stop accepting, close idle
// client connections; busy ones close after their current response.
func (lp *loop) drain() {
	lp.wake()
	if !lp.stoppedAccepting {
		lp.stoppedAccepting = true
		stopAccepting(lp.epfd, lp.lnfd)
	}
	for i := 0; i < len(lp.downs); i++ {
		d := lp.downs[i]
		if (d.state == downIdle && d.c.InboundBuffered() == 0) || d.dl == dlLinger {
			d.close()
			if i < len(lp.downs) && lp.downs[i] != d {
				i--
			}
		}
	}
}

func (lp *loop) openDown(c gnet.Conn) *h1conn {
	h := lp.newConn(c)
	h.idx = len(lp.downs)
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		h.clientIP = append(h.clientIP, a.IP.String()...)
		h.ipHash = pool.HashKey(h.clientIP)
	}
	c.SetContext(h)
	lp.downs = append(lp.downs, h)
	lp.srv.active.Add(1)
	lp.obs.downOpened()
	t := lp.srv.tbl.Load()
	h.setDeadline(dlHeader, lp.now+t.timeouts.clientHeader)
	return h
}

// The loop's free lists: closed client connections' state (about 150
// bytes each, plus an address buffer) and finished exchanges (about 5 KiB
// each, plus their buffers of up to maxKeptBuf each). The exchanges' list
// keeps at least maxFreeExchanges, more while more are in flight, up to
// maxKeptExchanges.
const (
	maxFreeConns     = 256
	maxFreeExchanges = 256
	maxKeptExchanges = 16384
	maxKeptBuf       = 4 << 10
)

// tickFreeLists sizes the exchanges' free list to the loop's load (see
// keepExchanges): up at once by the exchanges allocated since the last
// tick, down by 1/64 of the excess per tick (about 2 s to halve it at
// 50 ms ticks), dropping what is beyond.
func (lp *loop) tickFreeLists() {
	if lp.xMisses > 0 {
		lp.keepExchanges = min(max(lp.keepExchanges, maxFreeExchanges)+lp.xMisses, maxKeptExchanges)
		lp.xMisses = 0
		return
	}
	if lp.keepExchanges <= maxFreeExchanges {
		return
	}
	lp.keepExchanges -= max((lp.keepExchanges-maxFreeExchanges)/64, 1)
	if n := len(lp.freeExchanges); n > lp.keepExchanges {
		clear(lp.freeExchanges[lp.keepExchanges:])
		lp.freeExchanges = lp.freeExchanges[:lp.keepExchanges]
	}
}

// newConn returns a zeroed client connection for c: a recycled one
// (keeping its address buffer) or a new one. With a new connection per
// request this saves an allocation and the GC's work on it.
func (lp *loop) newConn(c gnet.Conn) *h1conn {
	n := len(lp.freeConns)
	if n == 0 {
		return &h1conn{lp: lp, c: c}
	}
	h := lp.freeConns[n-1]
	lp.freeConns[n-1] = nil
	lp.freeConns = lp.freeConns[:n-1]
	*h = h1conn{lp: lp, c: c, clientIP: keptBuf(h.clientIP)}
	return h
}

// recycle keeps a closed client connection for newConn. Only onClose calls
// it, after its exchange was released: nothing else points at h.
func (lp *loop) recycle(h *h1conn) {
	if len(lp.freeConns) < maxFreeConns {
		lp.freeConns = append(lp.freeConns, h)
	}
}

// newExchange returns an exchange for a request on h: a finished one from
// the free list, with its parser, buffers, policy and aggregation state
// kept (each request resets what it uses), or a new one.
func (lp *loop) newExchange(h client) *exchange {
	var x *exchange
	if n := len(lp.freeExchanges); n > 0 {
		x = lp.freeExchanges[n-1]
		lp.freeExchanges[n-1] = nil
		lp.freeExchanges = lp.freeExchanges[:n-1]
	} else {
		lp.xMisses++
		x = &exchange{lp: lp}
		x.conn = x.connArr[:0]
	}
	x.cl = h
	x.tbl = lp.srv.tbl.Load()
	x.edge.reset()
	x.req.Reset()
	x.req.Limits = x.tbl.limits
	if x.pol != nil {
		x.pol.peerOK = false // the client address is the new connection's
	}
	return x
}

// releaseExchange takes back an exchange that has ended (exchange.end):
// nothing points at it any more, except what checks the number of the
// park it resumes before touching it (a pending-queue entry, a cache
// waiter, a Basic-auth job or an aggregation result: park.go; the end
// unparked it, and the number is kept, never reset). An exchange still
// due for a redispatch is left to the garbage collector.
//
// x.cl is kept until the exchange is taken again: code up the stack of a
// write that failed (gnet closes the connection inside Write) still finds
// x.cl.closed set and stops, as it did when the connection held the
// exchange's state itself.
func (lp *loop) releaseExchange(x *exchange) {
	x.u, x.ep, x.rt, x.conns = nil, nil, nil, nil
	x.pk.kind, x.pk.hook = parkNone, nil // end unparked it; the number stays
	if len(lp.freeExchanges) >= max(maxFreeExchanges, lp.keepExchanges) || slices.Contains(lp.redo, x) {
		return
	}
	x.head, x.out, x.chunkHdr, x.pathBuf = keptBuf(x.head), keptBuf(x.out), keptBuf(x.chunkHdr), keptBuf(x.pathBuf)
	lp.freeExchanges = append(lp.freeExchanges, x)
}

// keptBuf returns b emptied for reuse, or nil when it grew too large to keep.
func keptBuf(b []byte) []byte {
	if cap(b) > maxKeptBuf {
		return nil
	}
	return b[:0]
}

// listed is what a loop keeps in a list it removes from in O(1): each
// element knows its index (-1 when not listed).
type listed interface {
	comparable
	slot() *int
}

func (d *h1conn) slot() *int  { return &d.idx }
func (hc *h2conn) slot() *int { return &hc.idx }
func (u *up) slot() *int      { return &u.idx }
func (t *tunnel) slot() *int  { return &t.idx }
func (hc *up2) slot() *int    { return &hc.idx }

// unlist removes x from list by moving the last element into its place,
// and marks x unlisted; it reports whether x was there.
func unlist[T listed](list *[]T, x T) bool {
	l, i := *list, *x.slot()
	*x.slot() = -1
	last := len(l) - 1
	if i < 0 || i > last || l[i] != x {
		return false
	}
	l[i] = l[last]
	*l[i].slot() = i
	var zero T
	l[last] = zero
	*list = l[:last]
	return true
}

// detachDown takes d out of the loop's HTTP/1.1 connections without
// counting it closed: its socket goes on as another protocol (h2conn).
func (lp *loop) detachDown(d *h1conn) { unlist(&lp.downs, d) }

// removeH2 takes a closed HTTP/2 connection out of the loop.
func (lp *loop) removeH2(hc *h2conn) {
	unlist(&lp.h2conns, hc)
	lp.srv.active.Add(-1)
	lp.obs.downClosed()
}

func (lp *loop) removeDown(d *h1conn) {
	unlist(&lp.downs, d)
	if d.perIP {
		d.perIP = false
		lp.srv.edgeRelease(peerAddrOf(d.c)) // edge.go
	}
	lp.srv.active.Add(-1)
	lp.obs.downClosed()
}

func (lp *loop) addUp(u *up) {
	u.idx = len(lp.ups)
	lp.ups = append(lp.ups, u)
	lp.srv.fd.ups.Add(1)
}

func (lp *loop) removeUp(u *up) {
	if unlist(&lp.ups, u) {
		lp.srv.fd.ups.Add(-1)
	}
}

// connsFor returns this loop's connection set for ep.
func (lp *loop) connsFor(ep *pool.Endpoint, lim pool.Limits) *pool.Conns[*up] {
	if ep.ID >= len(lp.conns) {
		n := pool.EndpointIDs()
		if n <= ep.ID {
			n = ep.ID + 1
		}
		grown := make([]*pool.Conns[*up], n)
		copy(grown, lp.conns)
		lp.conns = grown
	}
	p := lp.conns[ep.ID]
	if p == nil {
		p = &pool.Conns[*up]{Limits: lim, Endpoint: ep}
		lp.conns[ep.ID] = p
	}
	p.Limits = lim // a reload may have changed the pool settings of a kept endpoint
	return p
}

// pause stops reading c (see pause.go). It reports whether the pause took.
func (lp *loop) pause(c gnet.Conn, paused *bool) {
	if setReading(lp.epfd, c, false) && !*paused {
		*paused = true
		lp.srv.paused.Add(1)
	}
}

// resume reads c again.
func (lp *loop) resume(c gnet.Conn, paused *bool) {
	if !*paused {
		return
	}
	*paused = false
	lp.srv.paused.Add(-1)
	setReading(lp.epfd, c, true)
}

// dial connects to ep in a goroutine with the connect timeout and enrolls
// the connection into this loop; u.onOpen or u.dialFailed then runs on the
// loop. This goroutine is per new upstream connection, not per request.
// EventLoop.Register would not remove it and has no connect timeout: see
// "Upstream connects" in doc.go.
func (lp *loop) dial(u *up, addr string, timeout time.Duration, tu *upstream) {
	go func() {
		timedOut, failed, stopped := lp.connect(addr, timeout, tu, false, u, func(tc *tlsloop.Conn) { u.tlsc = tc })
		if failed && !stopped {
			_ = lp.el.Execute(context.Background(), runnable(func() {
				lp.wake()
				u.dialFailed(timedOut)
				u.lp.settle()
			}))
		}
	}()
}

// connect is the body of a dial goroutine (dial, dialH2): it connects to
// addr within timeout; for an upstream with TLS it runs the handshake here,
// blocking, within the same timeout (requiring ALPN h2 when h2 is set) and
// hands the session to setTLS, so that the loop gets the connection
// established (tls.go); then it enrolls the connection into the loop with
// ctx as its context. It reports a failure (and whether it was a timeout),
// or stopped when the loops stopped meanwhile: gnet's enroll worker then
// waits for a registration that will never run (see doc.go).
func (lp *loop) connect(addr string, timeout time.Duration, tu *upstream, h2 bool, ctx any, setTLS func(*tlsloop.Conn)) (timedOut, failed, stopped bool) {
	deadline := time.Now().Add(timeout)
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err == nil && tu.tls != nil {
		var tc *tlsloop.Conn
		if tc, err = dialTLS(tu.tls, conn, addr, deadline); err == nil && h2 && tc.Info().ALPN != "h2" {
			err = errNoALPNH2
		}
		if err != nil {
			_ = conn.Close()
			lp.srv.upstreamTLSFailed(tu, addr, err)
			if errors.Is(err, context.DeadlineExceeded) {
				err = errDialTimeout
			}
		} else {
			setTLS(tc)
		}
	}
	if err == nil {
		var ch <-chan gnet.RegisteredResult
		ch, err = lp.el.Enroll(gnet.NewContext(context.Background(), ctx), conn)
		if err != nil {
			_ = conn.Close()
		} else {
			select {
			case r := <-ch:
				err = r.Err
			case <-lp.srv.done:
				return false, true, true
			}
		}
	}
	if err == nil {
		return false, false, false
	}
	timedOut = err == errDialTimeout
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		timedOut = true
	}
	return timedOut, true, false
}
