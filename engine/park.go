package engine

import (
	"context"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
)

// Parking: an exchange that waits for something off its loop or later (a
// connection slot, another request's cache fill, a Basic-credential check,
// an aggregation's parts) is parked, one thing at a time, in its park
// record, and resumed on its loop by whoever ends the wait. A wait can end
// three ways, in any order with the others racing: the resume arrives, the
// wait's deadline passes, or the exchange ends (its client left, it was
// answered otherwise); only the first counts.
//
//   - A park is numbered: the exchange's seq counts its parks and is never
//     reset (exchanges are reused, loop.releaseExchange), so the number
//     names one park of one request. Whoever may end the wait holds a wake,
//     the exchange, its loop and that number, fixed when it is made: a
//     resume whose number is not the exchange's current park (woken) is
//     late and does nothing.
//   - A wait that runs off the loop leaves a hook in the park (the cache
//     flight's waiter, the Basic job, the aggregation): unpark, when the
//     exchange stops waiting first, tells it to stop (stop reports whether
//     the wait was still running: false means its resume is on the way).
//   - Resumes from other goroutines reach the loop through post
//     (EventLoop.Execute), as dial results do; nothing but the wake is read
//     there. A connection slot is resumed on the loop itself (pending.go):
//     its queue entries hold the number, and a park costs no allocation.
//
// What each kind keeps apart: the cache's waiter is a cache.Waiter the
// flight compares by pointer (Cancel), and the Basic job is owned by its
// worker until it posts the outcome, so both are allocated per park (the
// hit path allocates nothing: its waiter is made once and offered to each
// lookup until one parks it); an aggregation's hook is its cancel func.

// parkKind is what a parked exchange waits for.
type parkKind uint8

const (
	parkNone  parkKind = iota
	parkSlot           // a connection to its endpoint (pending.go)
	parkCache          // another request's cache fill (cachepath.go)
	parkAuth           // a Basic-credential check on a worker (authpool.go)
	parkAgg            // an aggregation's parts (aggregatepath.go)
)

// park is an exchange's wait, if any.
type park struct {
	kind parkKind
	seq  uint32   // the exchange's parks so far (newWake); never reset
	hook parkHook // stops a wait running off the loop; nil for a slot
	// gauge counts the requests parked so (the cache's CacheWaiting): one
	// more while this park lasts.
	gauge *atomic.Int64
}

// parkHook stops a wait running off the loop when the exchange stops
// waiting first. stop reports whether the wait was still running (false:
// its resume has been posted or is being posted). It runs on the loop.
type parkHook interface {
	stop() bool
}

// wake is where a park's resume goes: fixed when made, so that another
// goroutine may read it.
type wake struct {
	d   *exchange      // touched only on d's loop: d may have ended and be reused meanwhile
	el  gnet.EventLoop // d's loop
	seq uint32         // which of d's parks
}

// newWake numbers d's next park and returns its wake, to hand to whoever
// will end the wait before parkOn makes it d's park. A wake whose park
// never took effect matches nothing. d must not be parked.
func (d *exchange) newWake() wake {
	d.pk.seq++
	return wake{d: d, el: d.lp.el, seq: d.pk.seq}
}

// parkOn parks d for k under the number of its last newWake; hook stops
// an off-loop wait, gauge (if any) counts the park while it lasts.
func (d *exchange) parkOn(k parkKind, hook parkHook, gauge *atomic.Int64) {
	d.pk.kind, d.pk.hook, d.pk.gauge = k, hook, gauge
	if gauge != nil {
		gauge.Add(1)
	}
}

// parkedOn reports whether d waits for k.
func (d *exchange) parkedOn(k parkKind) bool { return d.pk.kind == k }

// waitsOn reports whether park seq, of kind k, is still d's.
func (d *exchange) waitsOn(k parkKind, seq uint32) bool {
	return d.pk.kind == k && d.pk.seq == seq
}

// woken ends park seq of kind k on its resume, on d's loop. It reports
// false for a late resume (d stopped waiting, or its client is gone),
// which must do nothing more.
func (d *exchange) woken(k parkKind, seq uint32) bool {
	if !d.waitsOn(k, seq) || d.cl == nil || d.cl.gone() {
		return false
	}
	d.parkOver()
	return true
}

// unpark ends d's park, if any, before its resume: an off-loop wait is
// told to stop, and a resume already on its way finds the park over.
func (d *exchange) unpark() {
	if h := d.pk.hook; h != nil {
		h.stop()
	}
	d.parkOver()
}

// parkOver ends d's park, if any, whose wait is over or stopped.
func (d *exchange) parkOver() {
	if g := d.pk.gauge; g != nil {
		g.Add(-1)
	}
	d.pk.kind, d.pk.hook, d.pk.gauge = parkNone, nil, nil
}

// parked arms the deadline of d's wait, from dispatch, and reports
// whether d is parked: its resume continues the exchange.
func (d *exchange) parked(now int64) bool {
	switch d.pk.kind {
	case parkAuth:
		d.cl.setDeadline(dlAuthWait, now+d.tbl.timeouts.pending)
	case parkCache:
		d.cl.setDeadline(dlCacheWait, now+int64(d.tbl.pol.store.CoalesceWait))
	case parkAgg: // bounded by aggregate.timeout, off the loop
	default:
		return false
	}
	return true
}

// post runs fn on w's loop, from any goroutine, after the loop's clock
// reading (a task Execute'd on the loop is a wake-up of its own).
func (w *wake) post(fn func()) {
	d := w.d
	_ = w.el.Execute(context.Background(), runnable(func() {
		d.lp.wake()
		fn()
	}))
}
