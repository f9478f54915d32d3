package pool

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
)

// Balancer picks an endpoint for a request. Implementations are safe for
// concurrent use from every loop without locks and do not allocate. key is a
// 64-bit xxhash of the request's hash key for consistent-hash balancers (the
// engine computes it only when KeyKind != KeyNone) and is ignored by the
// others. Pick returns nil when no endpoint is healthy (the engine answers 503).
type Balancer interface {
	Pick(key uint64) *Endpoint
}

// Balancer kinds for BalancerConfig.Kind, named as operators know them.
const (
	KindRoundRobin         = "round_robin"
	KindWeightedRoundRobin = "weighted_round_robin"
	KindLeastConn          = "least_conn"
	KindP2C                = "p2c"
	KindP2CEWMA            = "p2c_ewma"
	KindMaglev             = "maglev"
	KindRingHash           = "ring_hash"
)

// maxWeightTable bounds the weighted table behind weighted_round_robin and
// the weighted sampling of p2c and p2c_ewma: the sum of the weights divided
// by their greatest common divisor may not exceed it (512 KiB of pointers).
const maxWeightTable = 1 << 16

// pickTries is how many tickets or random draws a Pick spends on unhealthy
// endpoints before it falls back to a scan. Retrying with a fresh draw keeps
// the share of every healthy endpoint proportional to its weight; the scan
// bounds the work when most endpoints are down.
const pickTries = 8

// BalancerConfig chooses a balancing algorithm.
type BalancerConfig struct {
	// Kind is one of the Kind* constants; "" means round_robin.
	Kind string
	// Key is what maglev and ring_hash hash (they require one); other kinds
	// ignore it. The engine hashes the key with HashKey and passes it to Pick.
	Key KeyKind
	// KeyName names the header or cookie for KeyHeader and KeyCookie.
	KeyName string
	// AllowEmpty accepts an empty endpoint list, for an upstream whose
	// endpoints come from discovery that has not answered yet: Pick then
	// returns nil (the engine answers 503).
	AllowEmpty bool
}

// emptyBalancer is the balancer of an upstream without endpoints.
type emptyBalancer struct{}

func (emptyBalancer) Pick(uint64) *Endpoint { return nil }

var _ Balancer = emptyBalancer{}

// NewBalancer builds the balancer cfg names over eps. The slice is copied;
// the endpoints are shared (their health and in-flight counts are read on
// every Pick). Weights must be >= 1. Errors wrap ErrUnknownKind, ErrNoKey,
// ErrNoKeyName, ErrNoEndpoints, ErrNilEndpoint, ErrBadWeight and
// ErrWeightsLarge.
//
//   - round_robin: endpoints in turn, weights ignored.
//   - weighted_round_robin: nginx's smooth weighted round robin (weights 5,1,1
//     give a,a,b,a,c,a,a), precomputed into a table walked by one atomic counter.
//   - least_conn: fewest requests in flight per unit of weight; ties go to a
//     weighted random choice among the tied, so an idle pool is weighted random.
//   - p2c: two endpoints drawn at random in proportion to weight, the one with
//     fewer requests in flight per unit of weight wins.
//   - p2c_ewma: as p2c, scored by peak-EWMA latency × (in flight + 1) / weight.
//   - maglev: Maglev consistent hashing (table of MaglevTableSize entries,
//     shares proportional to weight).
//   - ring_hash: Ketama-style ring of xxhash virtual nodes, count proportional
//     to weight.
//
// Every kind skips unhealthy endpoints and returns nil when none is healthy.
// The hash kinds move only an unhealthy endpoint's keys (maglev rehashes
// them to other slots, ring_hash sends them to the next node clockwise), in
// proportion to the other endpoints' weights, and they come back when it
// recovers. The hash tables are built from the endpoints sorted by Addr, so
// the mapping does not depend on their order in eps.
func NewBalancer(cfg BalancerConfig, eps []*Endpoint) (Balancer, error) {
	switch cfg.Kind {
	case "", KindRoundRobin, KindWeightedRoundRobin, KindLeastConn, KindP2C, KindP2CEWMA:
	case KindMaglev, KindRingHash:
		if cfg.Key == KeyNone {
			return nil, fmt.Errorf("%w: %s", ErrNoKey, cfg.Kind)
		}
		if cfg.Key > KeyPath {
			return nil, fmt.Errorf("%w: %d", ErrUnknownKey, cfg.Key)
		}
		if (cfg.Key == KeyHeader || cfg.Key == KeyCookie) && cfg.KeyName == "" {
			return nil, fmt.Errorf("%w: %s by %s", ErrNoKeyName, cfg.Kind, cfg.Key)
		}
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownKind, cfg.Kind)
	}
	if len(eps) == 0 {
		if cfg.AllowEmpty {
			return emptyBalancer{}, nil
		}
		return nil, ErrNoEndpoints
	}
	for i, e := range eps {
		if e == nil {
			return nil, fmt.Errorf("%w at index %d", ErrNilEndpoint, i)
		}
		if e.Weight < 1 {
			return nil, fmt.Errorf("%w: %s has weight %d", ErrBadWeight, e.Addr, e.Weight)
		}
	}
	eps = append([]*Endpoint(nil), eps...)
	switch cfg.Kind {
	case "", KindRoundRobin:
		return &tableBalancer{table: eps, eps: eps}, nil
	case KindWeightedRoundRobin:
		t, err := smoothTable(eps)
		if err != nil {
			return nil, err
		}
		return &tableBalancer{table: t, eps: eps}, nil
	case KindLeastConn:
		return &leastConn{eps: eps}, nil
	case KindP2C, KindP2CEWMA:
		t, err := weightTable(eps)
		if err != nil {
			return nil, err
		}
		return &p2c{table: t, eps: eps, ewma: cfg.Kind == KindP2CEWMA}, nil
	}
	// Hash tables are built from the endpoints sorted by address, so the
	// mapping does not depend on the order the config lists them in.
	slices.SortStableFunc(eps, func(a, b *Endpoint) int { return strings.Compare(a.Addr, b.Addr) })
	if cfg.Kind == KindMaglev {
		return newMaglev(eps), nil
	}
	return newRing(eps), nil
}

// anyHealthy is the slow-path test that ends a scan early when all are down.
func anyHealthy(eps []*Endpoint) bool {
	for _, e := range eps {
		if e.Healthy() {
			return true
		}
	}
	return false
}

// reducedWeights divides the weights by their greatest common divisor and
// checks that the table they describe fits maxWeightTable.
func reducedWeights(eps []*Endpoint) ([]int, int, error) {
	g := 0
	for _, e := range eps {
		g = gcd(g, e.Weight)
	}
	ws := make([]int, len(eps))
	sum := 0
	for i, e := range eps {
		ws[i] = e.Weight / g
		sum += ws[i]
		if sum > maxWeightTable {
			return nil, 0, fmt.Errorf("%w: weights divided by their gcd (%d) sum to more than %d", ErrWeightsLarge, g, maxWeightTable)
		}
	}
	return ws, sum, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// smoothTable is one period of nginx's smooth weighted round robin: every
// step adds each weight to its endpoint's current value, picks the largest
// current (the first on ties) and subtracts the total from it.
func smoothTable(eps []*Endpoint) ([]*Endpoint, error) {
	ws, sum, err := reducedWeights(eps)
	if err != nil {
		return nil, err
	}
	cur := make([]int, len(eps))
	t := make([]*Endpoint, 0, sum)
	for range sum {
		best := 0
		for i, w := range ws {
			cur[i] += w
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= sum
		t = append(t, eps[best])
	}
	return t, nil
}

// weightTable lists each endpoint as many times as its reduced weight, so a
// uniform index into it is a weighted random draw.
func weightTable(eps []*Endpoint) ([]*Endpoint, error) {
	ws, sum, err := reducedWeights(eps)
	if err != nil {
		return nil, err
	}
	t := make([]*Endpoint, 0, sum)
	for i, w := range ws {
		for range w {
			t = append(t, eps[i])
		}
	}
	return t, nil
}

// tableBalancer serves round_robin (table = endpoints) and
// weighted_round_robin (table = one smooth period). Every Pick takes the
// next ticket from one shared counter; an unhealthy entry costs another
// ticket, so healthy endpoints keep shares proportional to their weights.
type tableBalancer struct {
	_     [64]byte // next gets a cache line to itself: every loop writes it
	next  atomic.Uint64
	_     [56]byte
	table []*Endpoint
	eps   []*Endpoint
}

func (b *tableBalancer) Pick(uint64) *Endpoint {
	n := uint64(len(b.table))
	for range pickTries {
		if e := b.table[(b.next.Add(1)-1)%n]; e.Healthy() {
			return e
		}
	}
	return b.scan()
}

func (b *tableBalancer) scan() *Endpoint {
	if !anyHealthy(b.eps) {
		return nil
	}
	n := uint64(len(b.table))
	start := b.next.Add(1) - 1
	for i := range n {
		if e := b.table[(start+i)%n]; e.Healthy() {
			return e
		}
	}
	return nil // every endpoint went down during the scan
}

// leastConn scans every endpoint: O(n) per Pick, like nginx's least_conn.
type leastConn struct {
	eps []*Endpoint
}

func (b *leastConn) Pick(uint64) *Endpoint { return leastLoaded(b.eps) }

// leastLoaded returns the healthy endpoint with the fewest requests in flight
// per unit of weight. Ties are broken by weighted reservoir sampling (each
// tied endpoint wins with probability weight / total weight of the tied), so
// there is no bias towards the front of the list and an idle pool is served
// in proportion to weight.
func leastLoaded(eps []*Endpoint) *Endpoint {
	var best *Endpoint
	var bestIn, tieW int64
	rnd := rand.Uint64() | 1 // xorshift state, advanced only on ties
	for _, e := range eps {
		if !e.Healthy() {
			continue
		}
		in, w := e.inflight.Load(), int64(e.Weight)
		if best == nil {
			best, bestIn, tieW = e, in, w
			continue
		}
		// in/w against bestIn/best.Weight, cross-multiplied to stay integer.
		l, r := in*int64(best.Weight), bestIn*w
		switch {
		case l < r:
			best, bestIn, tieW = e, in, w
		case l == r:
			tieW += w
			rnd ^= rnd << 13
			rnd ^= rnd >> 7
			rnd ^= rnd << 17
			if int64(rnd%uint64(tieW)) < w {
				best, bestIn = e, in
			}
		}
	}
	return best
}

// p2c draws two entries of the weight table with one random word and keeps
// the less loaded: in flight per unit of weight, or for p2c_ewma the decayed
// peak-EWMA latency × (in flight + 1) per unit of weight.
type p2c struct {
	table []*Endpoint
	eps   []*Endpoint
	ewma  bool
}

func (b *p2c) Pick(uint64) *Endpoint {
	if len(b.eps) == 1 {
		if e := b.eps[0]; e.Healthy() {
			return e
		}
		return nil
	}
	n := uint64(len(b.table))
	var x, y *Endpoint
	for range pickTries {
		// math/rand/v2's top-level source is per-thread in the runtime:
		// no lock, no allocation. Each 32-bit half picks one index by
		// multiply-shift (len(table) <= maxWeightTable < 2^32).
		r := rand.Uint64()
		if x == nil {
			if c := b.table[(r&0xffffffff)*n>>32]; c.Healthy() {
				x = c
			}
		}
		// The two choices must differ, or a loaded endpoint drawn twice
		// would win unopposed.
		if c := b.table[(r>>32)*n>>32]; y == nil && c != x && c.Healthy() {
			y = c
		}
		if x != nil && y != nil {
			break
		}
	}
	if x == nil || y == nil {
		// Rare: most endpoints are down, or the weights are so skewed that
		// no second endpoint was drawn. Compare all healthy ones instead.
		return b.scan()
	}
	if b.ewma {
		return lowerCost(x, y)
	}
	if y.inflight.Load()*int64(x.Weight) < x.inflight.Load()*int64(y.Weight) {
		return y
	}
	return x
}

func (b *p2c) scan() *Endpoint {
	if !b.ewma {
		return leastLoaded(b.eps)
	}
	var best *Endpoint
	for _, e := range b.eps {
		if e.Healthy() && (best == nil || lowerCost(best, e) == e) {
			best = e
		}
	}
	return best
}

// lowerCost returns y if its p2c_ewma score is strictly lower, else x.
func lowerCost(x, y *Endpoint) *Endpoint {
	now := monoNow()
	if ewmaScore(y, now) < ewmaScore(x, now) {
		return y
	}
	return x
}

// ewmaScore is peak-EWMA latency × (in flight + 1) / weight. An endpoint with
// no latency sample yet scores zero when idle and +Inf while it has requests
// in flight (Finagle's rule): a new endpoint takes one request at a time until
// its first response gives it a latency, rather than a flood.
func ewmaScore(e *Endpoint, now int64) float64 {
	c, in := e.cost(now), e.inflight.Load()
	if c == 0 {
		if in > 0 {
			return math.Inf(1)
		}
		return 0
	}
	return c * float64(in+1) / float64(e.Weight)
}
