package cache

import (
	"sync"
	"time"
)

// Waiter is a parked request waiting for a leader's response. The engine
// implements it on its per-request state (a pointer: Cancel compares
// waiters with ==). Resume is called once, from the goroutine that called
// Complete or Fail (the leader's loop): it must not do the follower's work
// there, only post it to the follower's own loop (gnet: the connection's
// AsyncWrite/Wake, or a per-loop queue) and return.
//
// e is the leader's stored entry; the follower checks Cache.Fits(e, req)
// before serving it (the response may vary on headers the follower sends
// differently). e is nil when the leader failed or the response could not
// be stored (it may be private to the leader's client): the follower goes
// upstream itself, or serves its Result.Entry if the upstream fails and
// Entry.UsableOnError.
type Waiter interface {
	Resume(e *Entry)
}

// flights coalesces concurrent misses. The map is guarded by a mutex per
// shard: this is the miss path, which is about to make an upstream request
// costing far more than an uncontended lock; hits never touch it.
type flights struct {
	shards [64]flightShard
}

type flightShard struct {
	mu sync.Mutex
	m  map[uint64]*flight
	// recent holds the last entries completed in this shard. Ristretto
	// applies sets asynchronously, so a miss right after Complete may not
	// find the entry yet; recent closes that gap, so that a thundering herd
	// still makes one upstream request. It pins at most len(recent)
	// entries per shard until they are overwritten.
	recent [4]recentEntry
	next   int
}

type recentEntry struct {
	key uint64
	e   *Entry
}

// flight is one upstream fetch in progress. Its id (never 0) lets a late
// Complete from a leader whose flight timed out and was replaced be told
// apart from the current one.
type flight struct {
	id       uint64
	deadline int64 // Unix ns; after it a new miss takes over as leader
	waiters  []Waiter
}

var flightPool = sync.Pool{New: func() any { return new(flight) }}

func (fs *flights) shard(key uint64) *flightShard {
	return &fs.shards[key%uint64(len(fs.shards))]
}

// join makes res the leader of a new flight for its key, parks w on the
// current flight, or (w == nil) leaves res a plain miss.
func (fs *flights) join(res *Result, w Waiter, req *Request, cc *directives, now time.Time, c *Cache) Result {
	key := res.Ticket.key
	sh := fs.shard(key)
	sh.mu.Lock()
	f := sh.m[key]
	if f == nil {
		for _, r := range sh.recent {
			if r.key == key && r.e != nil && r.e.Fresh(now) && c.acceptable(r.e, cc, int64(r.e.Age(now))) && c.Fits(r.e, req) {
				sh.mu.Unlock()
				return Result{State: Hit, Entry: r.e, Ticket: res.Ticket}
			}
		}
	}
	switch {
	case f == nil || now.UnixNano() > f.deadline:
		nf := c.newFlight(now.UnixNano())
		if f != nil { // the old leader is overdue: its waiters move to the new one
			nf.waiters = append(nf.waiters, f.waiters...)
			clear(f.waiters)
			f.waiters = f.waiters[:0]
			flightPool.Put(f)
		}
		sh.m[key] = nf
		res.Leader = true
		res.Ticket.flight = nf.id
	case w != nil:
		f.waiters = append(f.waiters, w)
		res.State = Wait
	}
	sh.mu.Unlock()
	return *res
}

// claim makes res the revalidation leader of a stale entry unless a
// flight for its key is already under way.
func (fs *flights) claim(res *Result, now int64, c *Cache) {
	key := res.Ticket.key
	sh := fs.shard(key)
	sh.mu.Lock()
	if f := sh.m[key]; f == nil || now > f.deadline {
		if f != nil {
			// keep the overdue flight's waiters on the new one
			nf := c.newFlight(now)
			nf.waiters = append(nf.waiters, f.waiters...)
			sh.m[key] = nf
			res.Ticket.flight = nf.id
		} else {
			nf := c.newFlight(now)
			sh.m[key] = nf
			res.Ticket.flight = nf.id
		}
		res.Leader = true
	}
	sh.mu.Unlock()
}

func (c *Cache) newFlight(now int64) *flight {
	f := flightPool.Get().(*flight)
	f.id = c.flightIDs.Add(1)
	f.deadline = now + c.coalesce
	return f
}

// Complete ends the leader's flight: every waiter is resumed with e (the
// entry Store returned, or nil when it stored nothing). Call it exactly
// once per Result with Leader set, after Store. Complete for a flight that
// was taken over after its deadline does nothing.
func (c *Cache) Complete(t Ticket, e *Entry) {
	if t.flight == 0 {
		return
	}
	sh := c.flights.shard(t.key)
	sh.mu.Lock()
	f := sh.m[t.key]
	if f == nil || f.id != t.flight {
		sh.mu.Unlock()
		return
	}
	delete(sh.m, t.key)
	if e != nil && !e.index {
		sh.recent[sh.next] = recentEntry{t.key, e}
		sh.next = (sh.next + 1) % len(sh.recent)
	}
	sh.mu.Unlock()
	for _, w := range f.waiters {
		w.Resume(e)
	}
	clear(f.waiters)
	f.waiters = f.waiters[:0]
	flightPool.Put(f)
}

// Fail ends the leader's flight without an entry (the upstream failed or
// the response was not storable): waiters are resumed with nil.
func (c *Cache) Fail(t Ticket) { c.Complete(t, nil) }

// Cancel removes a parked waiter whose own deadline passed. It returns
// true if w was removed (it will not be resumed: go upstream); false if it
// was not parked any more (Resume has been or is being called: wait for
// it).
func (c *Cache) Cancel(t Ticket, w Waiter) bool {
	sh := c.flights.shard(t.key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	f := sh.m[t.key]
	if f == nil {
		return false
	}
	for i, x := range f.waiters {
		if x == w {
			last := len(f.waiters) - 1
			f.waiters[i] = f.waiters[last]
			f.waiters[last] = nil
			f.waiters = f.waiters[:last]
			return true
		}
	}
	return false
}
