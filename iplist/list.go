package iplist

import (
	"cmp"
	"net/netip"
	"slices"
)

// List is an immutable set of address ranges. Build it with New; the zero
// value and nil are empty.
type List struct {
	// v4lo[i]..v4hi[i] and v6lo[i]..v6hi[i] are inclusive ranges, sorted by
	// start, disjoint and not adjacent (New merges those). The starts sit
	// in their own slices so that the binary search touches nothing else.
	v4lo, v4hi []uint32
	v6lo, v6hi []u128
	prefixes   int
}

// u128 is an IPv6 address as a 128-bit unsigned integer.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

// next returns a+1, and false when a is the largest value.
func (a u128) next() (u128, bool) {
	if a.lo != ^uint64(0) {
		return u128{a.hi, a.lo + 1}, true
	}
	if a.hi != ^uint64(0) {
		return u128{a.hi + 1, 0}, true
	}
	return a, false
}

func v6key(a netip.Addr) u128 {
	b := a.As16()
	return u128{
		hi: uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 | uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7]),
		lo: uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 | uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15]),
	}
}

func v4key(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// New builds the set of the addresses in prefixes. Prefixes need not be
// masked (10.1.2.3/8 is 10.0.0.0/8); IPv4-mapped IPv6 prefixes
// (::ffff:10.0.0.0/104) are taken as IPv4 ones; invalid prefixes (the
// zero netip.Prefix) are skipped. New does not keep prefixes.
func New(prefixes []netip.Prefix) *List {
	type r4 struct{ lo, hi uint32 }
	type r6 struct{ lo, hi u128 }
	var v4 []r4
	var v6 []r6
	l := &List{}
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		p = unmapPrefix(p).Masked()
		l.prefixes++
		if p.Addr().Is4() {
			lo := v4key(p.Addr())
			span := uint32(0)
			if p.Bits() < 32 {
				span = ^uint32(0) >> p.Bits()
			}
			v4 = append(v4, r4{lo, lo | span})
			continue
		}
		lo := v6key(p.Addr())
		hi := lo
		switch b := p.Bits(); {
		case b == 0:
			hi = u128{^uint64(0), ^uint64(0)}
		case b < 64:
			hi = u128{lo.hi | ^uint64(0)>>b, ^uint64(0)}
		case b < 128:
			hi = u128{lo.hi, lo.lo | ^uint64(0)>>(b-64)}
		}
		v6 = append(v6, r6{lo, hi})
	}
	slices.SortFunc(v4, func(a, b r4) int { return cmp.Compare(a.lo, b.lo) })
	for _, r := range v4 {
		n := len(l.v4lo)
		// Merge into the previous range when r overlaps it or starts
		// right after it (the previous end +1, without overflowing).
		if n > 0 && (r.lo <= l.v4hi[n-1] || r.lo-1 == l.v4hi[n-1]) {
			l.v4hi[n-1] = max(l.v4hi[n-1], r.hi)
			continue
		}
		l.v4lo, l.v4hi = append(l.v4lo, r.lo), append(l.v4hi, r.hi)
	}
	slices.SortFunc(v6, func(a, b r6) int {
		switch {
		case a.lo.less(b.lo):
			return -1
		case b.lo.less(a.lo):
			return 1
		}
		return 0
	})
	for _, r := range v6 {
		n := len(l.v6lo)
		if n > 0 {
			end, ok := l.v6hi[n-1].next()
			if !ok || !end.less(r.lo) { // overlapping or adjacent
				if l.v6hi[n-1].less(r.hi) {
					l.v6hi[n-1] = r.hi
				}
				continue
			}
		}
		l.v6lo, l.v6hi = append(l.v6lo, r.lo), append(l.v6hi, r.hi)
	}
	return l
}

// unmapPrefix turns an IPv4-mapped IPv6 prefix into the IPv4 prefix it
// covers (the mapped range ::ffff:0:0/96 and any wider prefix stay IPv6).
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// Contains reports whether a is in the list. A zoned address is looked up
// without its zone; the invalid netip.Addr is in no list. Contains does not
// allocate.
func (l *List) Contains(a netip.Addr) bool {
	if l == nil {
		return false
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is4() {
		x := v4key(a)
		lo := l.v4lo
		i, j := 0, len(lo)
		for i < j { // i = the number of ranges that start at or below x
			h := int(uint(i+j) >> 1)
			if lo[h] <= x {
				i = h + 1
			} else {
				j = h
			}
		}
		return i > 0 && x <= l.v4hi[i-1]
	}
	if !a.Is6() {
		return false
	}
	x := v6key(a)
	lo := l.v6lo
	i, j := 0, len(lo)
	for i < j {
		h := int(uint(i+j) >> 1)
		if !x.less(lo[h]) {
			i = h + 1
		} else {
			j = h
		}
	}
	return i > 0 && !l.v6hi[i-1].less(x)
}

// Len returns the number of valid prefixes New was given.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	return l.prefixes
}

// Ranges returns the number of disjoint ranges the prefixes merged into,
// IPv4 and IPv6 together: what a lookup searches.
func (l *List) Ranges() int {
	if l == nil {
		return 0
	}
	return len(l.v4lo) + len(l.v6lo)
}
