package limiter

import (
	"math"
	"sync/atomic"
	"time"
)

// Sharing a limit with other processes (Config.Track).
//
// A tracked GCRA decides exactly like any other: locally, in one CAS, from
// the key's word. Beside each keyed word it keeps what the process decided
// since the last Drain (admissions, and whether the key was refused), and
// the key's full hash. A syncer (package globallimit) drains that activity
// in the background, charges it to a fleet-wide bucket per key (in Redis),
// and Adopts the fleet's state back: the key's TAT becomes the fleet's,
// plus what this process admitted since the drain. Between two syncs a
// decision therefore sees the fleet as it last knew it plus its own share;
// the other processes' admissions since then are charged at the next sync,
// so over time the fleet admits the limit, not N times it.
//
// Keys that share their set's overflow bucket are decided locally and not
// synced (they have no word, so no fleet identity): size Slots for the
// active keys of a fleet limit.

// touched marks a pending word whose key was refused since the last Drain:
// the syncer fetches the fleet state of such a key even though this
// process admitted nothing for it.
const (
	touched     = 1 << 63
	pendingMask = 1<<32 - 1
)

// tracking is a tracked GCRA's per-slot activity, indexed like the words
// (set*ways + way). Overflow words (way keyWays) are never tracked.
type tracking struct {
	// pending holds admissions since the last Drain (low 32 bits) and the
	// touched bit.
	pending []atomic.Uint64
	// hashes holds the (seeded) hash of the key that claimed the slot.
	hashes []atomic.Uint64
}

func newTracking(slots int) *tracking {
	return &tracking{pending: make([]atomic.Uint64, slots), hashes: make([]atomic.Uint64, slots)}
}

// decided records one decision for the key in slot.
func (tr *tracking) decided(slot int, admitted bool) {
	p := &tr.pending[slot]
	if admitted {
		p.Add(1)
		return
	}
	if p.Load()&touched == 0 {
		p.Or(touched)
	}
}

// claimed records that the key with hash h took slot with one admission.
// Counts left by the slot's previous (idle) key are dropped: a race with
// a concurrent Drain can attribute them to h at worst, once.
func (tr *tracking) claimed(slot int, h uint64) {
	tr.hashes[slot].Store(h)
	tr.pending[slot].Store(1)
}

// Pending is one key's activity since the previous Drain.
type Pending struct {
	// Key is the key's fleet hash: the same in every process for the same
	// key parts (Key.Sum unseeded), so it can name the key in a store
	// shared by the fleet.
	Key uint64
	// Admitted is how many requests the process admitted for the key.
	// It is 0 for a key that was only refused.
	Admitted uint32

	slot int32
	h    uint64 // the seeded hash, to check the slot still holds the key
}

// Drain appends to dst every tracked key decided since the previous Drain
// and resets their counts. It scans the whole table (a few hundred
// microseconds per million slots), so call it from a background goroutine
// on an interval, never from a loop. It returns dst unchanged for an
// untracked GCRA. Only one goroutine may Drain and Adopt a GCRA.
func (g *GCRA) Drain(dst []Pending) []Pending {
	tr := g.track
	if tr == nil {
		return dst
	}
	for i := range tr.pending {
		if i%ways == keyWays || tr.pending[i].Load() == 0 {
			continue
		}
		p := tr.pending[i].Swap(0)
		h := tr.hashes[i].Load()
		if p == 0 || h == 0 {
			continue
		}
		dst = append(dst, Pending{Key: unmix(h), Admitted: uint32(p & pendingMask), slot: int32(i), h: h})
	}
	return dst
}

// Adopt replaces the state of p's key with the fleet's. rel is how far
// ahead of the fleet's clock the fleet bucket's TAT lies (0 or less: the
// bucket is full); what this process admitted for the key since the Drain
// that returned p is added on top, at the full charge. now is the loops'
// clock. A key that left its slot since the Drain is skipped. The TAT is
// capped at the depth plus the clock skew that rel tolerates, so a fleet
// far over its limit reads as an empty bucket, never as an idle one.
func (g *GCRA) Adopt(p Pending, rel time.Duration, now int64) {
	tr := g.track
	if tr == nil || int(p.slot) >= len(tr.hashes) || tr.hashes[p.slot].Load() != p.h {
		return
	}
	w := &g.sets[int(p.slot)/ways][int(p.slot)%ways]
	tag := p.h >> tatBits
	if tag == 0 {
		tag = 1
	}
	nowU := now >> g.shift
	relU := max(int64(rel)>>g.shift, 0)
	for {
		old := w.Load()
		if old>>tatBits != tag {
			return
		}
		u := int64(tr.pending[p.slot].Load() & pendingMask)
		ahead := min(relU+u*g.t, g.bt+g.skew)
		next := word(tag, nowU+ahead)
		if old == next || w.CompareAndSwap(old, next) {
			return
		}
	}
}

// SetShare sets the part of the limit this process enforces on its own,
// for a fleet limit whose store is unreachable: 1 is the whole limit (the
// normal state), 1/N an N-th of it (each admission is charged N times,
// burst included), and 0 admits every request. Decisions made after the
// call use it; it is safe to call at any time.
func (g *GCRA) SetShare(share float64) {
	switch {
	case !(share > 0):
		g.charge.Store(0)
	case share >= 1:
		g.charge.Store(g.t)
	default:
		g.charge.Store(int64(math.Min(math.Round(float64(g.t)/share), float64(g.bt))))
	}
}

// Emission returns the emission interval, the fleet charge of one
// admission (1/Rate).
func (g *GCRA) Emission() time.Duration { return time.Duration(g.t << g.shift) }

// Depth returns the bucket depth, Burst/Rate (the same as Window).
func (g *GCRA) Depth() time.Duration { return time.Duration(g.bt << g.shift) }

// MaxAhead returns how far beyond now a TAT may lie and still read as an
// empty bucket (Depth plus the tolerated clock skew): a fleet store caps
// its TATs there.
func (g *GCRA) MaxAhead() time.Duration { return time.Duration((g.bt + g.skew) << g.shift) }

// unmix inverts mix: it returns the process-independent xxhash sum behind a
// seeded hash (the murmur3 finalizer is a bijection: xor-shifts by 33 undo
// themselves, and the multipliers are odd, so they have inverses mod 2^64).
func unmix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0x60c704cf685939db // inverse of 0xc4ceb64fe5361a53
	h ^= h >> 33
	h *= 0x4f74430c22a54005 // inverse of 0xff51afd7ed558ccd
	h ^= h >> 33
	return h ^ hashSeed
}
