package engine

import (
	"github.com/panjf2000/gnet/v2"

	"github.com/hotpath/hotpath/pool"
)

// When every connection an endpoint's pool may open on this loop
// (pool.max_conns) is busy, a request waits in that endpoint's queue, in
// arrival order, instead of being refused at once. A connection that comes
// back to the pool, or a slot that a close frees, goes to the oldest waiter.
// A request that finds the queue at pool.max_pending, or is still waiting
// after timeouts.pending, is answered 503 (ErrPoolExhausted).
//
// Slots free up inside many callbacks (a response completes, an upstream
// closes, a client leaves, a dial fails, a tunnel ends), so rather than
// hooking each of them the server calls settle after every event on the
// loop; with nothing queued that is one comparison.
//
// A waiting request is parked (park.go) on a slot: its entry holds the
// park's number. Entries are removed lazily: a client that closes or whose
// exchange ends otherwise leaves a stale entry that settle pops and a full
// queue compacts.

// pending is one loop's queues of requests waiting for a connection.
type pending struct {
	queues   []*waitQueue // by pool.Endpoint.ID, like loop.conns
	listed   []*waitQueue // queues holding entries
	entries  int          // entries in all queues, stale ones included
	settling bool         // inside settle or tickPending: no re-entry
	expired  []*exchange  // tickPending's scratch
}

// waitQueue is the FIFO of requests waiting for one endpoint's connections
// on one loop: a ring that grows up to pool.max_pending.
type waitQueue struct {
	conns  *pool.Conns[*up]
	ring   []waiter
	head   int
	n      int
	listed bool
}

type waiter struct {
	d        *exchange // nil once expired
	seq      uint32    // d's park (parkSlot) for this entry
	deadline int64     // loop clock
}

func (q *waitQueue) at(i int) *waiter {
	j := q.head + i
	if j >= len(q.ring) {
		j -= len(q.ring)
	}
	return &q.ring[j]
}

func (q *waitQueue) push(w waiter) {
	if q.n == len(q.ring) {
		grown := make([]waiter, max(8, 2*len(q.ring)))
		for i := 0; i < q.n; i++ {
			grown[i] = *q.at(i)
		}
		q.ring, q.head = grown, 0
	}
	*q.at(q.n) = w
	q.n++
}

func (q *waitQueue) pop() {
	*q.at(0) = waiter{}
	q.head++
	if q.head == len(q.ring) {
		q.head = 0
	}
	q.n--
}

// live reports whether w still stands for a request waiting in q.
func (q *waitQueue) live(w *waiter) bool {
	d := w.d
	return d != nil && d.waitsOn(parkSlot, w.seq) && d.cl.current(d) &&
		d.u == nil && d.ep != nil
}

// compact drops stale entries, keeping the order of the live ones; it
// returns how many it dropped.
func (q *waitQueue) compact() int {
	kept := 0
	for i := 0; i < q.n; i++ {
		if w := q.at(i); q.live(w) {
			*q.at(kept) = *w
			kept++
		}
	}
	for i := kept; i < q.n; i++ {
		*q.at(i) = waiter{}
	}
	dropped := q.n - kept
	q.n = kept
	return dropped
}

// queueFor returns this loop's queue for d's endpoint, creating it.
func (p *pending) queueFor(d *exchange) *waitQueue {
	id := d.ep.ID
	if id >= len(p.queues) {
		grown := make([]*waitQueue, max(id+1, pool.EndpointIDs()))
		copy(grown, p.queues)
		p.queues = grown
	}
	q := p.queues[id]
	if q == nil || q.conns != d.conns {
		q = &waitQueue{conns: d.conns}
		p.queues[id] = q
	}
	return q
}

// waitTurn queues d behind requests already waiting for its endpoint, so
// that a newcomer cannot take a connection that the oldest waiter is owed.
// It reports whether d was queued (or refused).
func (lp *loop) waitTurn(d *exchange) bool {
	p := &lp.pending
	if p.entries == 0 || d.ep.ID >= len(p.queues) {
		return false
	}
	q := p.queues[d.ep.ID]
	if q == nil || q.conns != d.conns {
		return false
	}
	for q.n > 0 && !q.live(q.at(0)) {
		q.pop()
		p.entries--
	}
	if q.n == 0 {
		return false
	}
	lp.enqueue(d)
	return true
}

// enqueue makes d wait for a connection to its endpoint, or answers 503
// when the queue is full or disabled (pool.max_pending 0).
func (lp *loop) enqueue(d *exchange) {
	limit := d.rt.up.maxPending
	if limit <= 0 {
		d.gatewayError(ErrPoolExhausted)
		return
	}
	p := &lp.pending
	q := p.queueFor(d)
	if q.n >= limit && !p.settling {
		p.entries -= q.compact()
	}
	if q.n >= limit {
		d.gatewayError(ErrPoolExhausted)
		return
	}
	q.push(waiter{d: d, seq: d.newWake().seq, deadline: lp.now + d.tbl.timeouts.pending})
	d.parkOn(parkSlot, nil, nil)
	p.entries++
	if !q.listed {
		q.listed = true
		p.listed = append(p.listed, q)
	}
}

// settle hands free connections to waiting requests. The server calls it
// after every event on the loop.
func (lp *loop) settle() {
	if lp.pending.entries > 0 || len(lp.redo) > 0 {
		lp.settleSlow()
	}
}

func (lp *loop) settleSlow() {
	p := &lp.pending
	if p.settling {
		return // nested in a callback that settle itself caused
	}
	p.settling = true
	kept := 0
	for i := 0; i < len(lp.redo); i++ { // redispatch may append
		d := lp.redo[i]
		lp.redo[i] = nil
		if d.cl.inCallback() {
			lp.redo[kept] = d // inside d's own callback: the settle after it
			kept++
			continue
		}
		lp.redispatch(d)
	}
	lp.redo = lp.redo[:kept]
	for i := 0; i < len(p.listed); {
		q := p.listed[i]
		lp.serve(q, lp.now)
		if q.n > 0 {
			i++
			continue
		}
		q.listed = false
		last := len(p.listed) - 1
		p.listed[i], p.listed[last] = p.listed[last], nil
		p.listed = p.listed[:last]
	}
	p.settling = false
}

// serve gives q's waiters, oldest first, the idle connections and free
// slots its pool has.
func (lp *loop) serve(q *waitQueue, now int64) {
	p := &lp.pending
	for q.n > 0 {
		w := q.at(0)
		if !q.live(w) {
			q.pop()
			p.entries--
			continue
		}
		d := w.d
		if d.cl.inCallback() {
			return // inside d's own callback: the settle after it serves d
		}
		if d.pipelinable() && lp.joinPipe(d) {
			q.pop()
			p.entries--
			d.parkOver()
			continue
		}
		if q.conns.IdleLen() > 0 {
			if u, ok := q.conns.Get(now); ok {
				q.pop()
				p.entries--
				d.parkOver()
				u.attach(d, true)
				u.send()
				continue
			}
			q.conns.Expire(now, lp.closeIdle) // only expired ones are left
		}
		if !q.conns.CanDial() {
			return
		}
		q.pop()
		p.entries--
		d.parkOver()
		d.connect(true)
	}
}

// tickPending answers 503 to requests that waited timeouts.pending, keeps
// the client-body deadline of those still waiting from firing (the gateway
// is the slow side), and settles.
func (lp *loop) tickPending(now int64) {
	p := &lp.pending
	if p.entries == 0 {
		return
	}
	p.settling = true
	for _, q := range p.listed {
		for i := 0; i < q.n; i++ {
			w := q.at(i)
			if !q.live(w) {
				continue
			}
			d := w.d
			if now >= w.deadline {
				w.d = nil
				d.parkOver()
				p.expired = append(p.expired, d)
				continue
			}
			d.cl.holdBody(now)
		}
	}
	p.settling = false
	for i, d := range p.expired {
		p.expired[i] = nil
		if !d.cl.gone() {
			d.gatewayError(ErrPoolExhausted)
		}
	}
	p.expired = p.expired[:0]
	lp.settle()
}

// settleAfter settles the loop that owns c after an event on c.
func settleAfter(c gnet.Conn) {
	switch x := c.Context().(type) {
	case *h1conn:
		x.lp.settle()
	case *h2conn:
		x.lp.settle()
	case *up:
		x.lp.settle()
	case *tunnelEnd:
		x.t.lp.settle()
	}
}
