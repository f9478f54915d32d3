package pool

import "time"

// Limits bound the connections one event loop keeps to one endpoint (so the
// process-wide figures are these times the number of loops). The engine
// enforces them, directly or through Conns. Field names follow nginx's
// upstream directives (max_conns, keepalive, keepalive_requests,
// keepalive_timeout).
type Limits struct {
	// MaxConns caps open connections, busy and idle together; when reached,
	// a request waits for one to come back or fails over. 0 means no cap.
	MaxConns int
	// MaxIdle caps idle keep-alive connections (Idle.MaxIdle): 0 means
	// DefaultMaxIdle, negative keeps none.
	MaxIdle int
	// MaxRequests is how many requests one connection serves before it is
	// closed instead of kept alive: 0 means DefaultMaxRequests, negative
	// means no limit.
	MaxRequests int
	// IdleTimeout closes connections idle longer (Idle.IdleTimeout): 0 means
	// DefaultIdleTimeout, negative means never.
	IdleTimeout time.Duration
}

// Conns is one loop's connections to one endpoint: the idle stack plus a
// count of every open connection, with the Limits checks. Like Idle it is
// owned by one loop and not safe for concurrent use, and now is int64
// nanoseconds on the loop's clock. The zero value has default Limits; set
// Limits before first use.
//
// Accounting: call Dialed when a dial starts. Every connection Conns hands
// back to be closed (from Release, or to Expire's closeFn) is already
// uncounted; call Closed only for a connection that ends otherwise (dial
// failure, upstream close, error, or a response that cannot be kept alive).
//
//	c, ok := conns.Get(now)
//	if !ok {
//		if !conns.CanDial() { /* queue or 503 */ }
//		conns.Dialed(); c = dial()
//	}
//	... request, response ...
//	if toClose, ok := conns.Release(c, c.served, now); ok { toClose.Close() }
type Conns[C comparable] struct {
	Limits Limits
	// Endpoint is the endpoint the connections go to, when the owner sets
	// it: its Retired tells the owner to CloseIdle.
	Endpoint *Endpoint
	idle     Idle[C]
	active   int
}

func (p *Conns[C]) sync() {
	p.idle.MaxIdle, p.idle.IdleTimeout = p.Limits.MaxIdle, p.Limits.IdleTimeout
}

// Active is the number of open connections, busy and idle.
func (p *Conns[C]) Active() int { return p.active }

// IdleLen is the number of idle connections.
func (p *Conns[C]) IdleLen() int { return p.idle.Len() }

// Get returns an idle connection to reuse (see Idle.Get); it stays counted.
func (p *Conns[C]) Get(now int64) (C, bool) {
	p.sync()
	return p.idle.Get(now)
}

// CanDial reports whether another connection may be opened under MaxConns.
func (p *Conns[C]) CanDial() bool {
	return p.Limits.MaxConns <= 0 || p.active < p.Limits.MaxConns
}

// Dialed counts a new connection (call it when the dial starts, so that
// concurrent dials count against MaxConns).
func (p *Conns[C]) Dialed() { p.active++ }

// Closed uncounts a connection that ended other than through Release or
// Expire, and removes it from the idle stack if it was there.
func (p *Conns[C]) Closed(c C) {
	p.idle.Remove(c)
	p.active--
}

// Reusable reports whether a connection that has served served requests may
// serve another under MaxRequests.
func (l Limits) Reusable(served int) bool {
	m := l.MaxRequests
	if m == 0 {
		m = DefaultMaxRequests
	}
	return m < 0 || served < m
}

// Release returns a connection whose response completed cleanly (keep-alive
// allowed by both sides) after serving served requests. It is kept idle
// unless MaxRequests is reached; a connection to close comes back with ok
// true (c itself, or the oldest idle one evicted by MaxIdle) and is already
// uncounted.
func (p *Conns[C]) Release(c C, served int, now int64) (toClose C, ok bool) {
	p.sync()
	if !p.Limits.Reusable(served) {
		p.active--
		return c, true
	}
	toClose, ok = p.idle.Put(c, now)
	if ok {
		p.active--
	}
	return toClose, ok
}

// CloseIdle closes every idle connection through closeFn and uncounts
// them, for an endpoint that was retired.
func (p *Conns[C]) CloseIdle(closeFn func(C)) {
	before := p.idle.Len()
	p.idle.Drain(closeFn)
	p.active -= before - p.idle.Len()
}

// Expire closes idle connections past IdleTimeout through closeFn and
// uncounts them. Call it from the loop's periodic tick.
func (p *Conns[C]) Expire(now int64, closeFn func(C)) {
	p.sync()
	before := p.idle.Len()
	p.idle.Expire(now, closeFn)
	p.active -= before - p.idle.Len()
}
