package pool

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// MaxTried is how many endpoints a Tried set remembers: a request retried
// more often than that may meet an endpoint again.
const MaxTried = 8

// Tried is the set of endpoints a request has tried, so that its retries
// go elsewhere. The zero value is empty; it does not allocate.
type Tried struct {
	ids [MaxTried]int32
	n   uint8
}

// Add records e.
func (t *Tried) Add(e *Endpoint) {
	if t.Has(e) {
		return
	}
	if int(t.n) < len(t.ids) {
		t.ids[t.n] = int32(e.ID)
		t.n++
	}
}

// Has reports whether e was recorded.
func (t *Tried) Has(e *Endpoint) bool {
	for _, id := range t.ids[:t.n] {
		if id == int32(e.ID) {
			return true
		}
	}
	return false
}

// Len is the number of endpoints recorded.
func (t *Tried) Len() int { return int(t.n) }

// Reset empties the set.
func (t *Tried) Reset() { t.n = 0 }

// Picker wraps an upstream's balancer with what a pick needs beyond the
// balancing algorithm:
//
//   - retries go to an endpoint the request has not tried (Tried), as
//     nginx's proxy_next_upstream does;
//   - slow start: an endpoint that came back (its passive ejection ended,
//     or active checks found it healthy again) gets a share of the picks
//     that grows linearly over SlowStart, from a tenth, as nginx's and
//     Envoy's slow start do;
//   - panic mode: when passive ejection has taken out every endpoint that
//     active checks still find up, they are all used anyway (Envoy's panic
//     threshold, nginx's reset of max_fails when all servers failed): an
//     outlier detector that ejects everything would turn a partial outage
//     into a total one. Endpoints that active checks found down, or that a
//     reload retired, are never picked.
//
// Safe for concurrent use; Pick does not allocate.
type Picker struct {
	Balancer  Balancer
	Endpoints []*Endpoint
	SlowStart time.Duration // 0: off
}

// pickDraws bounds the draws a Pick spends on endpoints it must pass over
// (tried, or held back by slow start) before it scans.
const pickDraws = 4

// Pick returns an endpoint for a request with hash key (see Balancer),
// never one in tried (nil for none), or nil when no endpoint may be used.
func (p *Picker) Pick(key uint64, tried *Tried) *Endpoint {
	for range pickDraws {
		e := p.Balancer.Pick(key)
		if e == nil {
			break
		}
		if tried != nil && tried.Has(e) {
			continue
		}
		if p.SlowStart > 0 {
			if f := e.warmth(e.now(), int64(p.SlowStart)); f < 1 && rand.Float64() >= f {
				continue // held back while it warms up: draw again
			}
		}
		return e
	}
	return p.scan(tried)
}

// scan is the slow path: a healthy endpoint not tried, else (panic mode)
// one that only passive ejection holds back. It starts at a random index so
// that the fallback does not pile onto the first endpoint.
func (p *Picker) scan(tried *Tried) *Endpoint {
	n := len(p.Endpoints)
	if n == 0 {
		return nil
	}
	start := rand.IntN(n)
	usable := func(e *Endpoint) bool { return !e.Retired() && (tried == nil || !tried.Has(e)) }
	for i := range n {
		if e := p.Endpoints[(start+i)%n]; e.Healthy() && usable(e) {
			return e
		}
	}
	for _, e := range p.Endpoints {
		if e.Healthy() {
			return nil // a healthy endpoint exists, but the request tried it
		}
	}
	for i := range n {
		if e := p.Endpoints[(start+i)%n]; !e.ActiveDown() && usable(e) {
			return e // panic mode: every usable endpoint is passively ejected
		}
	}
	return nil
}

// RetryBudget bounds the retries in flight on an upstream, as Envoy's
// retry budget does: at most Percent of the requests in flight, but at
// least MinConcurrent, so that retries cannot multiply an outage's load.
// Safe for concurrent use.
type RetryBudget struct {
	Percent       int // of the requests in flight; 0 means 50
	MinConcurrent int // retries always allowed in flight; 0 means 10

	active atomic.Int64
}

// Acquire takes a retry out of the budget given the requests in flight;
// it reports false (and takes nothing) when the budget is spent. Every
// true must be matched by Release.
func (b *RetryBudget) Acquire(inFlight int64) bool {
	pct, minC := int64(b.Percent), int64(b.MinConcurrent)
	if pct <= 0 {
		pct = 50
	}
	if minC <= 0 {
		minC = 10
	}
	limit := max(inFlight*pct/100, minC)
	for {
		n := b.active.Load()
		if n >= limit {
			return false
		}
		if b.active.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release gives back a retry taken by Acquire.
func (b *RetryBudget) Release() { b.active.Add(-1) }

// Active is the number of retries in flight.
func (b *RetryBudget) Active() int64 { return b.active.Load() }

// InFlight sums the endpoints' requests in flight.
func InFlight(eps []*Endpoint) int64 {
	var n int64
	for _, e := range eps {
		n += e.InFlight()
	}
	return n
}
