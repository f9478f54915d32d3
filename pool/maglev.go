package pool

import "github.com/cespare/xxhash/v2"

// MaglevTableSize is the Maglev lookup table size: a prime (so that every
// skip is coprime with it and each permutation visits every slot), about 100
// times the largest expected endpoint count, as the paper advises. Up to a
// few hundred endpoints each one's share stays within about 1% of its weight.
const MaglevTableSize = 65537

// maglev is Maglev consistent hashing (Eisenbud et al., NSDI 2016, §3.4):
// each endpoint has its own permutation of the table's slots, derived from
// its address, and the endpoints take turns claiming their next free
// preferred slot until the table is full. Weights set how often an endpoint
// takes a turn: the heaviest takes one every round, an endpoint of weight w
// one in w/maxWeight of the rounds (Envoy's weighted variant), so slot shares
// follow the weights.
type maglev struct {
	table []uint32 // slot -> index into eps
	eps   []*Endpoint
}

func newMaglev(eps []*Endpoint) *maglev {
	const m = MaglevTableSize
	const empty = ^uint32(0)
	n := len(eps)
	pos := make([]uint64, n)  // current slot of each permutation
	skip := make([]uint64, n) // permutation step, in [1, m-1]
	count := make([]int, n)   // slots claimed
	wmax := 0
	for i, e := range eps {
		h := xxhash.Sum64String(e.Addr)
		pos[i] = h % m
		skip[i] = mix64(h)%(m-1) + 1
		wmax = max(wmax, e.Weight)
	}
	table := make([]uint32, m)
	for i := range table {
		table[i] = empty
	}
	filled := 0
	for round := 1; filled < m; round++ {
		for i, e := range eps {
			// Claim only while behind this endpoint's weighted quota.
			if count[i]*wmax >= round*e.Weight {
				continue
			}
			for table[pos[i]] != empty {
				pos[i] = (pos[i] + skip[i]) % m
			}
			table[pos[i]] = uint32(i)
			pos[i] = (pos[i] + skip[i]) % m
			count[i]++
			if filled++; filled == m {
				break
			}
		}
	}
	return &maglev{table: table, eps: eps}
}

// Pick maps key to a slot. If the slot's endpoint is unhealthy, the key is
// rehashed to another slot, up to pickTries times, then the table is walked
// from there. Rehashed slots are independent of the first, so an ejected
// endpoint's keys spread over the others in proportion to their shares (table
// neighbours would not do: the fill leaves adjacent slots correlated), the
// other keys stay put, and its keys return when it recovers.
func (b *maglev) Pick(key uint64) *Endpoint {
	h := key
	for range pickTries {
		if e := b.eps[b.table[h%MaglevTableSize]]; e.Healthy() {
			return e
		}
		h = mix64(h + 0x9e3779b97f4a7c15)
	}
	return b.walk(h % MaglevTableSize)
}

func (b *maglev) walk(s uint64) *Endpoint {
	if !anyHealthy(b.eps) {
		return nil
	}
	for range MaglevTableSize {
		if e := b.eps[b.table[s]]; e.Healthy() {
			return e
		}
		if s++; s == MaglevTableSize {
			s = 0
		}
	}
	return nil
}

// mix64 is the SplitMix64 finaliser: a second hash of an address, independent
// enough of the first to serve as the Maglev skip.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
