package engine

import (
	"errors"
	"io"

	"github.com/panjf2000/gnet/v2"

	"github.com/hotpath/hotpath/metrics"
	"github.com/hotpath/hotpath/parser"
	"github.com/hotpath/hotpath/pool"
	"github.com/hotpath/hotpath/tlsloop"
)

type upState uint8

const (
	upDialing upState = iota // dial in progress (c is nil)
	upActive                 // serving d's exchange
	upIdle                   // in the loop's idle pool
	upClosed                 // closed or abandoned by the engine; accounting done
)

// up is an upstream connection, on the same loop as the client it serves.
type up struct {
	lp    *loop
	c     gnet.Conn
	idx   int // in lp.ups
	ep    *pool.Endpoint
	conns *pool.Conns[*up]
	d     *exchange // the exchange being served; nil when idle

	state    upState
	served   int
	reused   bool // taken from the idle pool for this exchange
	gotResp  bool // a response byte arrived for this exchange
	written  bool // the request head was handed to the kernel (retry.go: sent or not)
	headDone bool // final response head received
	resp     parser.Response
	connArr  [8]parser.Header

	dl       dlKind
	deadline int64
	// sendLeft is the request bytes still queued for the upstream when the
	// response-head deadline last expired: while that shrinks the upstream
	// is still reading the request (a large body into a slow reader) and the
	// deadline is renewed, as nginx's proxy_send_timeout would allow.
	sendLeft int

	busy      bool
	wantClose bool
	paused    bool
	// counted: u holds a slot in conns, from count (the dial) until
	// uncount, which drop, dialFailed and onClose call; the pool uncounts
	// the connections it hands back to close itself (release, closeIdle).
	counted bool

	pipe pipe // requests queued behind d when pipelining (pipeline.go)
	iov  [2][]byte

	tlsc *tlsloop.Conn // TLS established by the dial goroutine, until onOpen wraps c (tls.go)
}

func (u *up) setDeadline(k dlKind, at int64) {
	u.dl, u.deadline = k, at
	if k == dlNone {
		u.deadline = 0
	}
}

// attach makes u serve d's exchange.
func (u *up) attach(d *exchange, reused bool) {
	u.d = d
	d.u = u
	u.reused = reused
	u.gotResp, u.headDone, u.written = false, false, false
	u.sendLeft = 0
	u.resp.Reset()
	u.resp.Limits = d.tbl.limits
	if d.pipelinable() {
		u.startPipe(d)
	}
}

// send writes the request head (and, once reading resumes, the body) to a
// connected upstream.
func (u *up) send() {
	d := u.d
	u.state = upActive
	if u.pipe.on {
		u.sendPipelined()
		return
	}
	if len(d.bodyKept) > 0 {
		// A retry after the request went out: its kept body goes again.
		u.iov[0], u.iov[1] = d.head, d.bodyKept
		_, _ = u.c.Writev(u.iov[:])
		u.iov[0], u.iov[1] = nil, nil
	} else {
		_, _ = u.c.Write(d.head)
	}
	if u.d != d || d.cl.gone() {
		return // the write failed and the failure has been handled
	}
	u.written = true
	now := d.lp.now
	if d.reqDone {
		u.setDeadline(dlUpHeader, now+d.tbl.timeouts.upstreamHeader)
	} else {
		u.setDeadline(dlNone, 0)
		d.cl.resume() // forward body bytes already buffered
	}
}

// count takes a slot in u's pool for u, a connection being dialed.
func (u *up) count() {
	u.conns.Dialed()
	u.counted = true
}

// uncount gives u's slot in its pool back, once.
func (u *up) uncount() {
	if u.counted {
		u.counted = false
		u.conns.Closed(u)
	}
}

// drop closes u (now, or when u's callback returns) and gives its slot in
// the pool back: the one way the engine closes an upstream connection
// (its exchange failed, its client left, it cannot be kept alive). A
// second call does no accounting.
func (u *up) drop() {
	u.uncount()
	u.dropQueue()
	u.state = upClosed
	u.d = nil
	if u.c == nil {
		return // still dialing: onOpen will close it
	}
	if u.busy {
		u.wantClose = true
		return
	}
	// Closed after the loop's current batch of events (gnet's Conn.Close
	// queues the close as a task), not at once: this is mostly called from
	// the client connection's callback, and the upstream's own event may
	// be later in the same batch (its response arriving as the client
	// leaves). Closed at once, gnet would find that event's descriptor gone
	// and log it as a stale connection, or hand it to a new connection
	// given the same descriptor number in between.
	_ = u.c.Close()
}

// abandon is called when d, a client u serves, goes away mid-exchange. A
// dialing connection is kept for the pool (or for the requests queued on
// it); an active one cannot be reused, unless requests are pipelined behind
// d's: then d's response is read and dropped (pipeline.go).
func (u *up) abandon(d *exchange) {
	d.u = nil
	if u.d != d {
		u.pipe.orphan(d) // queued behind another: keep the FIFO in step
		return
	}
	u.d = nil
	if u.state == upDialing {
		u.promote()
		return
	}
	if u.pipe.queued() > 0 && u.orphanHead(d) {
		return
	}
	u.drop()
}

func (u *up) onOpen(c gnet.Conn) gnet.Action {
	u.c = c
	if u.tlsc != nil {
		u.c = &tlsConn{Conn: c, t: u.tlsc, listener: -1, opened: true}
		u.tlsc = nil
	}
	u.busy = true
	switch {
	case u.state != upDialing:
		u.wantClose = true // timed out while dialing
	case u.d == nil:
		u.pipe.compact()
		u.idle() // its client left: keep it warm for the next one
	default:
		u.attach(u.d, false)
		u.send()
	}
	u.busy = false
	if u.wantClose {
		return gnet.Close
	}
	return gnet.None
}

// dialFailed runs on the loop when the dial goroutine gives up.
func (u *up) dialFailed(timedOut bool) {
	if u.state != upDialing {
		return
	}
	u.state = upClosed
	u.lp.removeUp(u)
	u.uncount()
	err := ErrUpstreamConnect
	if timedOut {
		err = ErrConnectTimeout
	}
	if d := u.d; d != nil {
		d.detach()
		if !d.retry(metrics.RetryConnect) {
			d.gatewayError(err)
		}
	}
	u.failQueued(err)
}

func (u *up) onClose(err error) {
	u.lp.removeUp(u)
	if u.paused {
		u.paused = false
		u.lp.srv.paused.Add(-1)
	}
	prev := u.state
	u.state = upClosed
	u.uncount()
	if prev == upClosed || prev == upIdle {
		return
	}
	u.dropQueue() // requests pipelined behind d are retried (pipeline.go)
	d := u.d
	if d == nil {
		return
	}
	d.detach()
	if !u.headDone {
		// RFC 9112 §9.3.1: a request on a reused connection that closed
		// before any response byte may be retried if it is idempotent and
		// its body was not consumed.
		if !u.gotResp && u.reused && d.idempotent && d.reqBody.Kind() == parser.BodyNone && !d.retried {
			d.retried = true
			d.acquire(true)
			return
		}
		why := metrics.RetryReset
		if !u.written {
			why = metrics.RetryConnect // the request never went out
		}
		if !u.gotResp && d.retry(why) {
			return
		}
		d.gatewayError(ErrUpstreamClosed)
		return
	}
	if d.respBody.Kind() == parser.BodyClose && (err == nil || errors.Is(err, io.EOF)) {
		// The close delimits the body: the response is complete. A
		// re-chunked body ends with the last chunk and the client
		// connection stays open; otherwise closing it ends the body.
		d.flushHead()
		d.endEP(false)
		d.respDone = true
		if d.pol != nil && d.pol.xon {
			d.xformFinish() // the policy transform frames the end (compress.go)
		} else if d.rechunk {
			d.send(lastChunk)
		} else {
			d.closeAfter = true
		}
		d.maybeFinish()
		return
	}
	d.observeUpstreamError(ErrUpstreamClosed)
	d.endEP(true) // truncated body: the client sees the connection close
	d.flushHead()
	d.cl.abort()
}

func (u *up) onTraffic() gnet.Action {
	u.busy = true
	u.readResponse()
	u.busy = false
	if u.wantClose {
		return gnet.Close
	}
	if u.paused {
		setReading(u.lp.epfd, u.c, false)
	}
	return gnet.None
}

// readResponse parses the responses buffered from the upstream: the current
// one, and with pipelining the ones queued behind it.
func (u *up) readResponse() {
	for {
		var more bool
		if u.pipe.skip && u.state == upActive {
			more = u.skipResponse()
		} else {
			more = u.readOne()
		}
		if !more {
			return
		}
	}
}

// readOne parses the response head and streams the body to the client. It
// reports whether u moved on to a pipelined response that may have bytes
// buffered.
func (u *up) readOne() bool {
	d := u.d
	if u.state != upActive || d == nil {
		u.drop() // bytes or EOF on an idle connection: it cannot be reused
		return false
	}
	buf, _ := u.c.Peek(-1)
	u.gotResp = u.gotResp || len(buf) > 0
	consumed := 0
	finished := false
	var failure error
	for consumed < len(buf) && u.d == d && !finished {
		b := buf[consumed:]
		if !u.headDone {
			n, err := u.resp.Parse(b, d.isHead)
			if err == parser.ErrNeedMore {
				break
			}
			if err != nil {
				failure = ErrUpstreamMalformed
				break
			}
			consumed += n
			if u.resp.Status < 200 {
				if u.resp.Status == 101 {
					if d.upgrade {
						if failure = u.switchProtocols(consumed); failure == nil {
							return false // the connection pair is a tunnel now
						}
						break
					}
					failure = ErrUpstreamMalformed // no Upgrade was forwarded
					break
				}
				d.interim(&u.resp, u.connArr[:0])
				u.resp.Reset()
				u.resp.Limits = d.tbl.limits
				continue
			}
			if d.rt != nil && d.rt.retry.onStatus(u.resp.Status) && d.retry(metrics.RetryStatus) {
				discard(u.c, consumed) // the rest goes with the connection, which retry dropped
				return false
			}
			d.writeResponseHead(&u.resp, u.connArr[:0])
			u.headDone = true
			if !u.resp.KeepAlive || u.resp.Body == parser.BodyClose {
				u.pipe.ended = true // nothing more may follow on this connection
			}
			now := d.lp.now
			d.observeUpstreamHead(now)
			u.setDeadline(dlUpRead, now+d.tbl.timeouts.upstreamRead)
			if d.respBody.Kind() == parser.BodyNone {
				d.flushHead()
				finished = true
			}
			continue
		}
		n, done, err := d.forwardBody(b)
		consumed += n
		if err != nil {
			failure = ErrUpstreamMalformed
			break
		}
		if done {
			finished = true
		}
		if n == 0 {
			break
		}
	}
	discard(u.c, consumed)
	d.obs.upIn += consumed
	if u.d != d {
		// The client went away while we wrote to it; with requests
		// pipelined behind, the rest of its response is skipped.
		return u.pipe.skip && u.state == upActive
	}
	if failure != nil {
		d.gatewayError(failure)
		return false
	}
	if u.headDone && !finished {
		d.flushHead()
		u.setDeadline(dlUpRead, d.lp.now+d.tbl.timeouts.upstreamRead)
	}
	if finished {
		return u.complete(len(buf) > consumed)
	}
	if d.cl.queued() > d.tbl.maxBuf {
		u.lp.pause(u.c, &u.paused)
		u.setDeadline(dlNone, 0) // the client is slow, not the upstream
	}
	if u.c.InboundBuffered() > 4*d.tbl.maxBuf {
		d.gatewayError(ErrUpstreamMalformed) // head too large for the parser's limits
	}
	return false
}

// complete ends a response that arrived whole: the connection moves on to
// the next pipelined request, or goes back to the pool when both sides
// allow it, and the client's exchange finishes. It reports whether u moved
// on to a pipelined response that may have bytes buffered.
func (u *up) complete(leftover bool) bool {
	d := u.d
	failed := d.status == 502 || d.status == 503 || d.status == 504
	d.endEP(failed)
	keep := u.resp.KeepAlive && d.reqDone && !d.lp.srv.stopping.Load()
	d.detach()
	u.served++
	u.setDeadline(dlNone, 0)
	next := false
	switch {
	case keep && u.pipe.queued() > 0:
		u.advance() // before d finishes: its next request may join u
		next = leftover
	case keep && !leftover:
		u.idle()
	default:
		u.drop() // requests queued behind d are retried
	}
	d.respDone = true
	d.maybeFinish()
	return next && u.state == upActive
}

// idle returns u, its exchanges all answered, to the pool. The pool may
// hand back a connection to close (u at max requests, or the oldest idle
// one), already uncounted.
func (u *up) idle() {
	u.state = upIdle
	u.endPipe()
	u.setDeadline(dlNone, 0)
	if toClose, ok := u.conns.Release(u, u.served, u.lp.now); ok {
		toClose.counted = false
		toClose.drop()
	}
}

// tick enforces u's deadline and resumes reading once the client drained.
func (u *up) tick(now int64) {
	d := u.d
	if u.paused {
		if d == nil || d.cl.queued() <= d.tbl.maxBuf/2 {
			u.lp.resume(u.c, &u.paused)
			if d != nil {
				u.setDeadline(dlUpRead, now+d.tbl.timeouts.upstreamRead)
			}
		}
	}
	if u.deadline == 0 || now < u.deadline {
		return
	}
	switch u.dl {
	case dlConnect:
		u.dialFailed(true)
	case dlUpHeader, dlUpRead:
		if u.dl == dlUpHeader && d != nil && u.c != nil && !u.gotResp {
			if left := u.c.OutboundBuffered(); left > 0 && left != u.sendLeft {
				u.sendLeft = left
				u.setDeadline(dlUpHeader, now+d.tbl.timeouts.upstreamHeader)
				return
			}
		}
		switch {
		case d != nil && u.dl == dlUpHeader && !u.gotResp && d.retry(metrics.RetryTimeout):
		case d != nil:
			d.gatewayError(ErrUpstreamTimeout) // requests queued behind d are retried
		case u.pipe.skip:
			u.drop()
		default:
			u.setDeadline(dlNone, 0)
		}
	}
}
