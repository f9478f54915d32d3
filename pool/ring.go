package pool

import (
	"slices"
	"sort"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// Ring sizing: about ringPointsPerEndpoint virtual nodes per endpoint of
// average weight, at least ringMinPoints and at most ringMaxPoints in all
// (Ketama uses 160 per server; Envoy's minimum ring is 1024).
const (
	ringPointsPerEndpoint = 160
	ringMinPoints         = 1024
	ringMaxPoints         = 1 << 18
)

// ring is a Ketama-style consistent-hash ring: each endpoint owns virtual
// nodes at xxhash("addr#i"), as many as its share of the total weight, and a
// key goes to the first node at or after it, clockwise. Hashes and owners are
// separate arrays so the binary search touches only the hashes.
type ring struct {
	hashes []uint64 // sorted
	owners []uint32 // owners[i] indexes eps for hashes[i]
	eps    []*Endpoint
}

func newRing(eps []*Endpoint) *ring {
	total := 0
	for _, e := range eps {
		total += e.Weight
	}
	target := min(max(ringPointsPerEndpoint*len(eps), ringMinPoints), ringMaxPoints)
	type point struct {
		h     uint64
		owner uint32
	}
	var pts []point
	buf := make([]byte, 0, 64)
	for i, e := range eps {
		// At least one node each, so a tiny weight still gets keys.
		k := max(int(float64(target)*float64(e.Weight)/float64(total)+0.5), 1)
		for j := range k {
			buf = append(append(append(buf[:0], e.Addr...), '#'), strconv.Itoa(j)...)
			pts = append(pts, point{xxhash.Sum64(buf), uint32(i)})
		}
	}
	// Ties (identical addresses) are ordered by owner so the ring does not
	// depend on the sort's stability.
	sort.Slice(pts, func(a, b int) bool {
		if pts[a].h != pts[b].h {
			return pts[a].h < pts[b].h
		}
		return pts[a].owner < pts[b].owner
	})
	r := &ring{hashes: make([]uint64, len(pts)), owners: make([]uint32, len(pts)), eps: eps}
	for i, p := range pts {
		r.hashes[i], r.owners[i] = p.h, p.owner
	}
	return r
}

// Pick returns the owner of the first node at or after key; if it is
// unhealthy, the next nodes clockwise, so only the unhealthy endpoint's keys
// move and they return when it recovers.
func (b *ring) Pick(key uint64) *Endpoint {
	i, _ := slices.BinarySearch(b.hashes, key)
	n := len(b.hashes)
	for range pickTries {
		if i == n {
			i = 0
		}
		if e := b.eps[b.owners[i]]; e.Healthy() {
			return e
		}
		i++
	}
	return b.walk(i)
}

func (b *ring) walk(i int) *Endpoint {
	if !anyHealthy(b.eps) {
		return nil
	}
	n := len(b.hashes)
	for range n {
		if i >= n {
			i = 0
		}
		if e := b.eps[b.owners[i]]; e.Healthy() {
			return e
		}
		i++
	}
	return nil
}
