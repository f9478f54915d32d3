package engine

import (
	"context"

	"github.com/panjf2000/gnet/v2/pkg/queue"

	"github.com/hotpath/hotpath/parser"
)

// Upstream pipelining (pool.pipeline > 1, docs/pipeline.md).
//
// A proxied request costs four syscalls on the loop (read the client, write
// the upstream, read the upstream, write the client) plus a share of
// epoll_wait, and those syscalls are most of its CPU. With pipelining on, one
// keep-alive connection carries up to pool.pipeline outstanding requests from
// different clients of the same loop, and the request heads queued for one
// connection while the loop handles a batch of events go out in one write; the
// upstream's responses then tend to arrive together and are read with one
// read. The client side is unchanged.
//
// The first request on a connection with nothing outstanding is written at
// once (unless this batch's flush is armed already), so a lone request costs
// what it costs without pipelining. A request that joins a connection with
// requests outstanding is deferred to the end of the batch through the
// loop's task queue: the first such head in a batch arms a task (gnet's
// poller Trigger: one eventfd write when the queue was empty, and one small
// queue node that gnet allocates per batch, not per request), the task runs
// after the next epoll_wait's events and writes every connection's pending
// heads, one write each. Later heads in the same batch only append.
//
// Safety, because a pipelined request may be lost when its connection fails:
//
//   - Only GET, HEAD and OPTIONS requests without a body, an Upgrade or an
//     Expect are pipelined, and only on their first attempt. Everything else
//     takes an idle connection or a new one, alone, as without pipelining.
//   - Responses are matched to requests in order (RFC 9112 §9.3.2). A
//     response that ends the connection (Connection: close, HTTP/1.0, or a
//     close-delimited body) stops new requests from joining; the requests
//     behind it are sent again on another connection.
//   - When the connection fails with requests outstanding, the first gets
//     the usual handling (502/504, or one retry on a reused connection when
//     no response byte arrived); the ones behind it, which the upstream may
//     or may not have processed, are retried once on a fresh connection,
//     alone (they are idempotent).
//   - A client that leaves while its request is outstanding leaves its slot
//     in the queue: its response is read and dropped, so the next response
//     still goes to the next client. (A client that leaves in the middle of
//     a chunked response body closes the connection instead, and the
//     requests behind it are retried.)
//   - timeouts.upstream_header runs for each request from when the response
//     before it completed (the upstream answers in order), so a stalled
//     upstream fails the first request, and the rest are retried.

// pipeSlot is a request written (or about to be) behind the one a
// connection is answering.
type pipeSlot struct {
	d      *exchange // nil once its client left: the response is read and dropped
	isHead bool      // a HEAD request: its response has no body
	tbl    *table    // for the response parser limits and the header timeout
}

// pipe is an upstream connection's pipelining state.
type pipe struct {
	on    bool // requests may join (the current exchange is pipelinable)
	ended bool // a response ends the connection: no more requests join
	max   int  // pool.pipeline

	q  []pipeSlot // requests behind up.d, oldest at qh; capacity max
	qh int

	batch    []byte // request heads not written yet
	flushing bool   // listed in loop.flushes

	// skip: the client of the response being read left; the response is
	// read and dropped (skipHead: it answers a HEAD request). Once its head
	// is parsed, skipBody says where its body ends.
	skip     bool
	skipHead bool
	skipTbl  *table
	skipBody parser.Body
}

func (p *pipe) queued() int { return len(p.q) - p.qh }

func (p *pipe) push(s pipeSlot) {
	if p.q == nil {
		p.q = make([]pipeSlot, 0, p.max)
	}
	if len(p.q) == cap(p.q) && p.qh > 0 {
		n := copy(p.q, p.q[p.qh:])
		clear(p.q[n:])
		p.q, p.qh = p.q[:n], 0
	}
	p.q = append(p.q, s)
}

func (p *pipe) pop() pipeSlot {
	s := p.q[p.qh]
	p.q[p.qh] = pipeSlot{}
	p.qh++
	if p.qh == len(p.q) {
		p.q, p.qh = p.q[:0], 0
	}
	return s
}

// orphan marks d's slot: its client left.
func (p *pipe) orphan(d *exchange) {
	for i := p.qh; i < len(p.q); i++ {
		if p.q[i].d == d {
			p.q[i].d = nil
			return
		}
	}
}

// compact drops orphaned slots of requests never sent (a dialing connection).
func (p *pipe) compact() {
	n := 0
	for i := p.qh; i < len(p.q); i++ {
		if p.q[i].d != nil {
			p.q[n] = p.q[i]
			n++
		}
	}
	clear(p.q[n:])
	p.q, p.qh = p.q[:n], 0
}

// isSafe reports whether method is one that pipelining may send twice.
func isSafe(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS":
		return true
	}
	return false
}

// pipelinable reports whether d's request may share a connection with
// other outstanding requests.
func (d *exchange) pipelinable() bool {
	return d.rt != nil && d.rt.up != nil && d.rt.up.pipeline > 1 && d.safe &&
		d.reqDone && d.reqBody.Kind() == parser.BodyNone && !d.upgrade && !d.expect100 && !d.retried
}

// outstanding counts the requests u has sent or queued and not yet answered.
func (u *up) outstanding() int {
	n := u.pipe.queued()
	if u.d != nil || u.pipe.skip {
		n++
	}
	return n
}

// canJoin reports whether d may be queued on u behind its requests.
func (u *up) canJoin(d *exchange) bool {
	p := &u.pipe
	if !p.on || p.ended || u.conns != d.conns {
		return false
	}
	switch u.state {
	case upActive:
		if u.d == nil && !p.skip {
			return false
		}
	case upDialing:
	default:
		return false
	}
	n := u.outstanding()
	return n < p.max && u.conns.Limits.Reusable(u.served+n)
}

// join queues d's request on u, behind the ones outstanding.
func (u *up) join(d *exchange) {
	d.u = u
	if u.state == upDialing && u.d == nil {
		u.d = d // its first client left while it connected
		return
	}
	u.pipe.push(pipeSlot{d: d, isHead: d.isHead, tbl: d.tbl})
	if u.state == upActive {
		u.write(d.head)
	}
}

// startPipe makes u, now serving the pipelinable d, the connection that
// later requests to its endpoint join.
func (u *up) startPipe(d *exchange) {
	p := &u.pipe
	p.on, p.ended, p.max = true, false, d.rt.up.pipeline
	lp := u.lp
	id := u.ep.ID
	if id >= len(lp.pipes) {
		grown := make([]*up, max(id+1, len(lp.conns)))
		copy(grown, lp.pipes)
		lp.pipes = grown
	}
	lp.pipes[id] = u
}

// endPipe stops requests from joining u.
func (u *up) endPipe() {
	u.pipe.on = false
	if id := u.ep.ID; id < len(u.lp.pipes) && u.lp.pipes[id] == u {
		u.lp.pipes[id] = nil
	}
}

// joinPipe queues d on the endpoint's pipelining connection if it has room.
func (lp *loop) joinPipe(d *exchange) bool {
	id := d.ep.ID
	if id >= len(lp.pipes) {
		return false
	}
	u := lp.pipes[id]
	if u == nil || !u.canJoin(d) {
		return false
	}
	u.join(d)
	return true
}

// write queues p for u, to go out with the rest of this batch's heads.
func (u *up) write(p []byte) {
	u.pipe.batch = append(u.pipe.batch, p...)
	if !u.pipe.flushing {
		u.pipe.flushing = true
		u.lp.flushes = append(u.lp.flushes, u)
		u.lp.armFlush()
	}
}

// sendPipelined writes the head of u's first pipelinable request, with
// those of the requests that joined while u connected, in one write at once:
// a connection with nothing outstanding has nothing to wait for, and a lone
// request (one client, low load) costs what it costs without pipelining.
// Only when a flush is armed already do they wait for it. Requests that join
// later are batched (write).
func (u *up) sendPipelined() {
	d := u.d
	p := &u.pipe
	p.compact()
	u.setDeadline(dlUpHeader, d.lp.now+d.tbl.timeouts.upstreamHeader)
	if u.lp.flushArmed {
		// Another connection's heads already wait for this batch's
		// flush: joining it costs neither a syscall nor a task.
		u.write(d.head)
		for i := p.qh; i < len(p.q); i++ {
			u.write(p.q[i].d.head)
		}
		return
	}
	b := append(p.batch[:0], d.head...)
	for i := p.qh; i < len(p.q); i++ {
		b = append(b, p.q[i].d.head...)
	}
	p.batch = b[:0]
	_, _ = u.c.Write(b) // on failure onClose has run: d and the queue are handled
}

// advance makes the next queued request the one being answered.
func (u *up) advance() {
	s := u.pipe.pop()
	u.d = s.d
	u.pipe.skip, u.pipe.skipHead, u.pipe.skipTbl = s.d == nil, s.isHead, s.tbl
	u.reused = true
	u.gotResp, u.headDone = false, false
	u.sendLeft = 0
	u.resp.Reset()
	u.resp.Limits = s.tbl.limits
	u.setDeadline(dlUpHeader, u.lp.now+s.tbl.timeouts.upstreamHeader)
}

// promote makes the first live queued request the head of a connection
// still dialing, whose head's client left (nothing has been sent).
func (u *up) promote() {
	for u.pipe.queued() > 0 {
		if s := u.pipe.pop(); s.d != nil {
			u.d = s.d
			return
		}
	}
}

// orphanHead keeps u reading after its current client left, so that the
// responses queued behind stay matched; it reports false when the rest of
// the response cannot be skipped (a close-delimited body ends only with the
// connection).
func (u *up) orphanHead(d *exchange) bool {
	p := &u.pipe
	if u.headDone {
		if d.respBody.Kind() == parser.BodyClose {
			return false
		}
		p.skipBody = d.respBody // the rest, from where d's reading left it
	}
	p.skip, p.skipHead, p.skipTbl = true, d.isHead, d.tbl
	return true
}

// dropQueue ends pipelining on u as it closes: the requests behind the
// current one go back to be retried on another connection (settle).
func (u *up) dropQueue() {
	p := &u.pipe
	if p.on {
		u.endPipe()
	}
	p.skip = false
	p.batch = p.batch[:0]
	for p.queued() > 0 {
		if d := p.pop().d; d != nil && d.u == u {
			d.u = nil
			u.lp.redo = append(u.lp.redo, d)
		}
	}
}

// failQueued answers err to the requests queued on a connection that never
// opened.
func (u *up) failQueued(err error) {
	p := &u.pipe
	if p.on {
		u.endPipe()
	}
	for p.queued() > 0 {
		if d := p.pop().d; d != nil && d.u == u {
			d.u = nil
			d.gatewayError(err)
		}
	}
}

// redispatch sends a request whose pipelined connection failed behind
// another one again, once, on a fresh connection.
func (lp *loop) redispatch(d *exchange) {
	if d.cl == nil || !d.cl.current(d) || d.u != nil || d.ep == nil || d.respDone {
		return
	}
	if d.retried {
		d.gatewayError(ErrUpstreamClosed)
		return
	}
	d.retried = true
	d.acquire(true)
}

// skipResponse reads and drops the response of a request whose client
// left. It reports whether u moved on to another response with bytes
// possibly buffered.
func (u *up) skipResponse() bool {
	p := &u.pipe
	buf, _ := u.c.Peek(-1)
	u.gotResp = u.gotResp || len(buf) > 0
	consumed := 0
	done := u.headDone && p.skipBody.Done()
	for consumed < len(buf) && !done {
		b := buf[consumed:]
		if !u.headDone {
			n, err := u.resp.Parse(b, p.skipHead)
			if err == parser.ErrNeedMore {
				break
			}
			if err != nil || u.resp.Status == 101 {
				discard(u.c, consumed)
				u.drop()
				return false
			}
			consumed += n
			if u.resp.Status < 200 {
				lim := u.resp.Limits
				u.resp.Reset()
				u.resp.Limits = lim
				continue
			}
			u.headDone = true
			if u.resp.Body == parser.BodyClose {
				discard(u.c, consumed)
				u.drop()
				return false
			}
			if !u.resp.KeepAlive {
				p.ended = true
			}
			p.skipBody.StartResponse(&u.resp)
			done = p.skipBody.Done()
			continue
		}
		n, bodyDone, err := p.skipBody.Skip(b)
		if err != nil {
			discard(u.c, consumed)
			u.drop()
			return false
		}
		done = bodyDone
		consumed += n
		if n == 0 {
			break
		}
	}
	discard(u.c, consumed)
	if !done {
		u.setDeadline(dlUpRead, u.lp.now+p.skipTbl.timeouts.upstreamRead)
		return false
	}
	p.skip = false
	u.served++
	leftover := len(buf) > consumed
	switch {
	case !u.resp.KeepAlive || u.lp.srv.stopping.Load():
	case p.queued() > 0:
		u.advance()
		return leftover
	case !leftover:
		u.idle()
		return false
	}
	u.drop()
	return false
}

// flushTask is the loop task that writes the batched request heads.
func (lp *loop) flushTask(any) error {
	lp.wake()
	lp.flush()
	return nil
}

// armFlush makes the loop write the batched heads (and the HTTP/2
// connections' output, h2conn.flushOut) after this batch of events.
// Through gnet's poller Trigger with a func made once per loop it costs
// one allocation per batch, gnet's task queue node; EventLoop.Execute (the
// fallback when the layout is unknown) allocates a closure too.
func (lp *loop) armFlush() {
	if lp.flushArmed {
		return
	}
	lp.flushArmed = true
	var err error
	if lp.poller != nil {
		err = lp.poller.Trigger(queue.LowPriority, lp.flushFn, nil)
	} else {
		err = lp.el.Execute(context.Background(), runnable(func() { _ = lp.flushTask(nil) }))
	}
	if err != nil {
		lp.flush() // the loop is stopping: write now
	}
}

// flush writes each connection's batched heads, one write per connection,
// then settles the requests that a failed write sent back.
func (lp *loop) flush() {
	lp.flushArmed = false
	for i := 0; i < len(lp.flushes); i++ {
		u := lp.flushes[i]
		lp.flushes[i] = nil
		u.pipe.flushing = false
		if len(u.pipe.batch) > 0 && u.state == upActive && u.c != nil {
			_, _ = u.c.Write(u.pipe.batch) // copied or sent before it returns
		}
		u.pipe.batch = u.pipe.batch[:0]
	}
	lp.flushes = lp.flushes[:0]
	for i := 0; i < len(lp.h2flushes); i++ {
		hc := lp.h2flushes[i]
		lp.h2flushes[i] = nil
		hc.flushQueued = false
		if !hc.closed {
			hc.flush()
		}
	}
	lp.h2flushes = lp.h2flushes[:0]
	lp.flushUp2() // up2.go
	lp.settle()
}
