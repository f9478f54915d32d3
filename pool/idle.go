package pool

import "time"

// Idle is a per-loop LIFO stack of idle keep-alive connections to one
// endpoint. It belongs to one event loop and is not safe for concurrent use
// (it needs no lock because only its loop touches it). The zero value is
// ready to use; its storage is allocated once, at the first Put, with room
// for MaxIdle connections, and reused afterwards.
//
// Its methods take now as int64 nanoseconds on the owning loop's clock (a
// monotonic clock of any origin, read once per wake-up), as the engine's
// loops and the limiter do.
type Idle[C comparable] struct {
	// MaxIdle is the most idle connections kept; a Put beyond it hands back
	// the oldest for the caller to close. 0 means DefaultMaxIdle; a negative
	// value keeps none (every Put hands its connection back).
	MaxIdle int
	// IdleTimeout is how long a connection may sit idle: Get does not return
	// one idle longer, and Expire closes them. 0 means DefaultIdleTimeout; a
	// negative value means never.
	IdleTimeout time.Duration

	// items is a ring buffer: the oldest idle connection is at head, the most
	// recent at (head+n-1) % len(items).
	items []idleItem[C]
	head  int
	n     int
}

type idleItem[C any] struct {
	conn  C
	since int64 // the loop clock when it went idle
}

// Defaults for Idle and Limits, as in nginx's upstream keepalive
// (keepalive 32, keepalive_timeout 60s, keepalive_requests 1000).
const (
	DefaultMaxIdle     = 32
	DefaultIdleTimeout = 60 * time.Second
	DefaultMaxRequests = 1000
)

func (p *Idle[C]) maxIdle() int {
	switch {
	case p.MaxIdle == 0:
		return DefaultMaxIdle
	case p.MaxIdle < 0:
		return 0
	}
	return p.MaxIdle
}

// expired reports whether a connection idle since since is past IdleTimeout.
func (p *Idle[C]) expired(since, now int64) bool {
	t := p.IdleTimeout
	if t == 0 {
		t = DefaultIdleTimeout
	}
	return t > 0 && time.Duration(now-since) > t
}

// Len is the number of idle connections held, expired ones included until
// Expire drops them.
func (p *Idle[C]) Len() int { return p.n }

func (p *Idle[C]) at(i int) *idleItem[C] {
	j := p.head + i
	if j >= len(p.items) {
		j -= len(p.items)
	}
	return &p.items[j]
}

// Put pushes c, idle since now. If that makes more than MaxIdle, the oldest
// idle connection is removed and returned with ok true: the caller closes it
// (with MaxIdle < 0 that is c itself). Put does not allocate after the first
// call, unless MaxIdle grows.
func (p *Idle[C]) Put(c C, now int64) (evicted C, ok bool) {
	m := p.maxIdle()
	if m == 0 {
		return c, true
	}
	if len(p.items) != m {
		p.resize(m)
	}
	if p.n == m {
		old := p.at(0)
		evicted, ok = old.conn, true
		*old = idleItem[C]{}
		p.head++
		if p.head == len(p.items) {
			p.head = 0
		}
		p.n--
	}
	*p.at(p.n) = idleItem[C]{conn: c, since: now}
	p.n++
	return evicted, ok
}

// resize moves the held connections into a ring of capacity m; if m is
// smaller than Len, the oldest are dropped from the stack without being
// closed, so only shrink MaxIdle on an empty Idle (or Expire first).
func (p *Idle[C]) resize(m int) {
	items := make([]idleItem[C], m)
	skip := max(p.n-m, 0)
	for i := skip; i < p.n; i++ {
		items[i-skip] = *p.at(i)
	}
	p.items, p.head, p.n = items, 0, p.n-skip
}

// Get pops the most recently idled connection (LIFO: it is the one most
// likely still open at the upstream and warm in caches). If that one has
// been idle longer than IdleTimeout, so have all the others: Get returns ok
// false and leaves them for Expire to close.
func (p *Idle[C]) Get(now int64) (c C, ok bool) {
	if p.n == 0 {
		return c, false
	}
	top := p.at(p.n - 1)
	if p.expired(top.since, now) {
		return c, false
	}
	c = top.conn
	*top = idleItem[C]{} // drop the reference for the GC
	p.n--
	return c, true
}

// Expire removes the connections idle longer than IdleTimeout at now and
// passes each to closeFn (oldest first). Call it from a periodic tick on the
// owning loop. closeFn must not call back into p.
func (p *Idle[C]) Expire(now int64, closeFn func(C)) {
	for p.n > 0 && p.expired(p.at(0).since, now) {
		closeFn(p.popOldest())
	}
}

// popOldest removes and returns the oldest idle connection (p.n > 0).
func (p *Idle[C]) popOldest() C {
	old := p.at(0)
	c := old.conn
	*old = idleItem[C]{}
	p.head++
	if p.head == len(p.items) {
		p.head = 0
	}
	p.n--
	return c
}

// Drain removes every idle connection and passes each to closeFn (oldest
// first). closeFn must not call back into p.
func (p *Idle[C]) Drain(closeFn func(C)) {
	for p.n > 0 {
		closeFn(p.popOldest())
	}
}

// Remove takes c out of the stack, for an idle connection the upstream
// closed; it reports whether c was there. O(Len).
func (p *Idle[C]) Remove(c C) bool {
	for i := p.n - 1; i >= 0; i-- {
		if p.at(i).conn != c {
			continue
		}
		for j := i; j < p.n-1; j++ {
			*p.at(j) = *p.at(j + 1)
		}
		*p.at(p.n - 1) = idleItem[C]{}
		p.n--
		return true
	}
	return false
}
