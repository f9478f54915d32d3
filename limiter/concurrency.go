package limiter

import "sync/atomic"

// Concurrency bounds the requests in flight (per route or per upstream:
// max_in_flight). Acquire is one load and one CAS; a full limiter answers
// at once, so the engine can reply 503 (StatusServiceUnavailable) without
// queueing. It is safe for concurrent use and must not be copied.
type Concurrency struct {
	// n is the number of requests in flight. Invariant: 0 <= n <= max.
	// Acquire increments it only by CAS from a value < max, Release
	// decrements it; both are sequentially consistent atomics, so a slot
	// released on one loop is visible to the next Acquire on any loop.
	n   atomic.Int64
	max int64
	_   [48]byte // keep neighbouring limiters off this cache line
}

// NewConcurrency returns a limiter admitting at most max requests at once,
// or ErrMax.
func NewConcurrency(max int) (*Concurrency, error) {
	if max < 1 {
		return nil, ErrMax
	}
	return &Concurrency{max: int64(max)}, nil
}

// Acquire takes a slot and reports whether it got one. Every true result
// must be paired with exactly one Release when the request ends.
func (c *Concurrency) Acquire() bool {
	for {
		n := c.n.Load()
		if n >= c.max {
			return false
		}
		if c.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release returns a slot taken by Acquire. It panics on a Release without
// an Acquire, which is an engine bug that would otherwise raise the limit.
func (c *Concurrency) Release() {
	if c.n.Add(-1) < 0 {
		panic("limiter: Concurrency.Release without Acquire")
	}
}

// InFlight returns the number of slots taken, for metrics.
func (c *Concurrency) InFlight() int { return int(c.n.Load()) }

// Max returns the limit.
func (c *Concurrency) Max() int { return int(c.max) }
