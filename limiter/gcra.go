package limiter

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Table geometry and the layout of one state word.
//
// A word is tag<<48 | TAT (mod 2^48): the top 16 bits hold a tag taken from
// the key's hash (never 0, so the word 0 means "unused"), the low 48 bits
// hold the key's theoretical arrival time (TAT) in time units of
// 1<<GCRA.shift nanoseconds, modulo 2^48. TATs are only ever compared with
// "now" through a wrapped 48-bit difference, so no epoch is needed; New
// chooses the unit so that a bucket's depth (Burst/Rate) stays below 2^36
// units, which leaves a 2^11 margin for the wrapped comparison.
const (
	ways        = 8        // words per set: one 64-byte cache line
	keyWays     = ways - 1 // words 0..6 hold keys; word 7 is the set's overflow bucket
	tatBits     = 48
	tatMask     = 1<<tatBits - 1
	overflowTag = 1 // tag written into the overflow word so that it is never 0
	maxDepthLog = 36
	// DefaultSlots is the table size when Config.Slots is 0 (512 KiB).
	DefaultSlots = 1 << 16
	maxSlots     = 1 << 30
	maxWindow    = 30 * 24 * time.Hour
)

// set is one cache line of state words. Every word is read with Load and
// written only with CompareAndSwap (sequentially consistent in Go's memory
// model), so a decision is a load, some arithmetic, and one CAS; a failed
// CAS means another caller decided first, and the decision is recomputed
// from the fresh word.
type set [ways]atomic.Uint64

// Config configures a GCRA limiter. The YAML names are in brackets.
type Config struct {
	// Name is the policy name sent in RateLimit-Policy and RateLimit
	// (name). Printable ASCII; "default" when empty.
	Name string
	// Rate is the sustained rate in requests per second (rate).
	Rate float64
	// Burst is how many requests a key with a full bucket may make at once
	// (burst). The bucket refills one request every 1/Rate seconds, so it
	// refills completely in Burst/Rate seconds (the policy window).
	Burst int
	// Slots is the number of table words, rounded up to a power of two
	// (slots). Memory is 8 bytes per slot. One word in eight is a set's
	// overflow bucket, so the table tracks 7/8 × Slots keys at a time; keys
	// beyond that share their set's overflow bucket (stricter, see GCRA).
	// 0 means DefaultSlots.
	Slots int
	// Shadow counts without rejecting (shadow): decisions report Limited
	// but Allowed stays true, so a new limit can be watched before it is
	// enforced.
	Shadow bool
	// Track records, per key, what the table decided since the last Drain,
	// so that a syncer can share the limit with other processes (fleet.go;
	// scope: global). It costs 16 more bytes per slot and one atomic add
	// per decision.
	Track bool
}

// GCRA is a keyed rate limiter: each key may make Burst requests at once
// and Rate requests per second on average.
//
// The algorithm is the generic cell rate algorithm. A key's state is one
// number, its theoretical arrival time TAT: the time at which its bucket
// would be full again. A request at time now is admitted when
// max(TAT, now) + T - now <= Burst×T, where T = 1/Rate is the emission
// interval, and then TAT becomes max(TAT, now) + T. A rejected request
// changes nothing. This is a token bucket without a refill timer.
//
// The states live in a fixed table of sets (one cache line each) of seven
// keyed words and one overflow word; a key's set is chosen by its hash and
// its word by a 16-bit tag from the same hash. Decisions never lock and
// never allocate.
//
// Eviction rule (why a bounded table never hands an over-limit client a
// fresh bucket): a key without a word in its set is placed only in a word
// that is unused or idle (its TAT <= now, i.e. that key's bucket is full
// again, so forgetting it loses nothing: it would get a full bucket anyway).
// A key that is still limited therefore always finds its own word. When
// all seven keyed words of a set are active, new keys share the set's
// overflow word, which is at least as strict as a private bucket; and a key
// that later gets a word of its own starts from the overflow bucket's TAT
// while that is still active, so leaving the overflow does not refill it.
// Two keys whose hashes agree on set and tag share one word: collisions
// only ever make a limit stricter. (Two callers inserting the same new key
// at the same instant may both insert it; that can admit one extra request
// per racing caller, once.)
//
// A GCRA is safe for concurrent use by any number of goroutines.
type GCRA struct {
	sets  []set
	mask  uint64
	shift uint  // one time unit is 1<<shift nanoseconds
	t     int64 // emission interval in units (>= 1)
	// charge is what one admission adds to a TAT, in units: t, except
	// while a fleet limit falls back (SetShare): t/share, or 0 to admit
	// everything. Decisions read it once.
	charge atomic.Int64
	track  *tracking // per-slot activity for Drain; nil unless Config.Track (fleet.go)
	bt     int64     // bucket depth Burst×T in units
	skew   int64     // tolerated clock lag between callers, in units (see rel)
	burst  int
	window time.Duration
	shadow bool
	name   string
}

// New builds a GCRA limiter, or returns ErrRate, ErrBurst, ErrWindow,
// ErrSlots or ErrPolicyName for a bad Config.
func New(c Config) (*GCRA, error) {
	if !(c.Rate > 0) || math.IsInf(c.Rate, 0) || c.Rate > 1e9 {
		return nil, ErrRate
	}
	if c.Burst < 1 {
		return nil, ErrBurst
	}
	if c.Slots < 0 || c.Slots > maxSlots {
		return nil, ErrSlots
	}
	if c.Name == "" {
		c.Name = "default"
	}
	for i := 0; i < len(c.Name); i++ {
		if c.Name[i] < 0x20 || c.Name[i] > 0x7e {
			return nil, ErrPolicyName
		}
	}
	tNs := 1e9 / c.Rate
	depthNs := tNs * float64(c.Burst)
	if depthNs > float64(maxWindow) {
		return nil, ErrWindow
	}
	var shift uint
	for depthNs/float64(uint64(1)<<shift) >= 1<<maxDepthLog {
		shift++
	}
	t := int64(math.Round(tNs / float64(uint64(1)<<shift)))
	if t < 1 {
		t = 1
	}
	slots := c.Slots
	if slots == 0 {
		slots = DefaultSlots
	}
	if slots < ways {
		slots = ways
	}
	slots = 1 << bits.Len(uint(slots-1)) // round up to a power of two
	nsets := slots / ways
	g := &GCRA{
		sets:   make([]set, nsets),
		mask:   uint64(nsets - 1),
		shift:  shift,
		t:      t,
		bt:     t * int64(c.Burst),
		burst:  c.Burst,
		shadow: c.Shadow,
		name:   c.Name,
	}
	g.charge.Store(t)
	if c.Track {
		g.track = newTracking(slots)
	}
	g.window = time.Duration(g.bt << shift)
	// Callers on different loops read slightly different clocks; a TAT up
	// to skew beyond now+depth is "full", not "idle" (see rel).
	g.skew = max(g.bt, int64(time.Second)>>shift)
	return g, nil
}

// Name returns the policy name, for AppendHeaders.
func (g *GCRA) Name() string { return g.name }

// Window returns Burst/Rate: the time an empty bucket takes to refill.
func (g *GCRA) Window() time.Duration { return g.window }

// Decision is the outcome of one Allow call. It is four words, so Go
// returns it in registers and keeps it in registers through the caller;
// the numbers behind the RateLimit fields are derived from the bucket's
// state by the methods below only when a response needs them. The engine
// keeps it on the stack and passes it to AppendHeaders.
type Decision struct {
	// Allowed says whether to serve the request. It is false only when
	// Limited and the limiter is not in shadow mode.
	Allowed bool
	// Limited says the key is over its limit: the request was rejected, or
	// in shadow mode would have been.
	Limited bool
	g       *GCRA // the policy; nil in the zero Decision
	rel     int64 // the key's TAT minus now, in g's units (after the request when admitted)
}

// Limit is the burst, the quota of a full bucket (RateLimit-Policy q).
func (d Decision) Limit() int {
	if d.g == nil {
		return 0
	}
	return d.g.burst
}

// Window is Burst/Rate, the time to refill an empty bucket
// (RateLimit-Policy w).
func (d Decision) Window() time.Duration {
	if d.g == nil {
		return 0
	}
	return d.g.window
}

// Remaining is how many more requests the key could make right now.
func (d Decision) Remaining() int {
	if d.g == nil || d.Limited {
		return 0
	}
	return int((d.g.bt - d.rel) / d.g.t)
}

// RetryAfter is the time until the key's next request would be admitted;
// 0 while Remaining > 0.
func (d Decision) RetryAfter() time.Duration {
	if d.g == nil {
		return 0
	}
	if wait := d.rel + d.g.t - d.g.bt; wait > 0 {
		return time.Duration(wait << d.g.shift)
	}
	return 0
}

// Reset is the time until the key's bucket is full again.
func (d Decision) Reset() time.Duration {
	if d.g == nil {
		return 0
	}
	return time.Duration(d.rel << d.g.shift)
}

// Allow decides one request for key at now, a monotonic clock reading in
// nanoseconds (the engine's per-iteration clock; any origin, as long as all
// callers share it). key is only read during the call. Allow hashes key with
// Hash; use AllowHash with a Key to combine several parts.
func (g *GCRA) Allow(key []byte, now int64) Decision {
	return g.AllowHash(Hash(key), now)
}

// Hash returns the seeded hash of a single-part key, as Allow uses it.
func Hash(key []byte) uint64 { return mix(xxhash.Sum64(key)) }

// AllowHash decides one request for the key whose hash is h (see Key) at
// now, monotonic nanoseconds. It never blocks, locks or allocates.
func (g *GCRA) AllowHash(h uint64, now int64) Decision {
	rel, ok := g.decideHash(h, now>>g.shift)
	return Decision{Allowed: ok || g.shadow, Limited: !ok, g: g, rel: rel}
}

// decideHash is the decision without its Decision: ok reports admission,
// and rel is the bucket's TAT relative to now in units, after the request
// when admitted (then 0 < rel <= bt), before it when not. Everything it
// calls passes scalars, so the fast path stays in registers.
func (g *GCRA) decideHash(h uint64, nowU int64) (rel int64, ok bool) {
	si := int(h & g.mask)
	s := &g.sets[si]
	tag := h >> tatBits
	if tag == 0 {
		tag = 1
	}
	t := g.charge.Load()
	for {
		// The common case first: the key already has a word.
		found := false
		for i := 0; i < keyWays; i++ {
			w := s[i].Load()
			if w>>tatBits == tag {
				found = true
				rel, ok, done := g.update(&s[i], w, tag, nowU, t)
				if done {
					if g.track != nil {
						g.track.decided(si*ways+i, ok)
					}
					return rel, ok
				}
				break // lost a race: reread the set
			}
		}
		if found {
			continue
		}
		if rel, ok, way, done := g.insert(s, tag, nowU, t); done {
			if g.track != nil && way >= 0 {
				g.track.claimed(si*ways+way, h)
			}
			return rel, ok
		}
	}
}

// insert decides for a key that has no word in set s. done is false when
// a CAS lost a race; the caller rescans (the key may have been inserted).
// way is the word the key now holds, or -1 when it holds none (it was
// decided on the overflow bucket, or rejected without a write).
func (g *GCRA) insert(s *set, tag uint64, nowU, t int64) (rel int64, ok bool, way int, done bool) {
	victim := -1
	var victimWord uint64
	for i := 0; i < keyWays; i++ {
		w := s[i].Load()
		if w>>tatBits == tag {
			return 0, false, -1, false // inserted meanwhile
		}
		if g.rel(w, nowU) == 0 {
			victim, victimWord = i, w
			break
		}
	}
	of := &s[keyWays]
	if victim < 0 {
		// Every keyed word of the set is active: share the overflow
		// bucket (stricter than a private one, never freer).
		rel, ok, done = g.update(of, of.Load(), overflowTag, nowU, t)
		return rel, ok, -1, done
	}
	// A new key, or one whose word was reclaimed while idle. Start from
	// the overflow bucket when it is active: the key may have been
	// spending it.
	rel = g.rel(of.Load(), nowU)
	next := rel + t
	if next > g.bt {
		return rel, false, -1, true // nothing to write: the overflow state already says so
	}
	return next, true, victim, s[victim].CompareAndSwap(victimWord, word(tag, nowU+next))
}

// update decides against the word w read from p and publishes the new TAT
// with one CAS; t is the charge of one admission. done is false when the
// CAS lost a race; the caller rereads. A rejection writes nothing.
func (g *GCRA) update(p *atomic.Uint64, w, tag uint64, nowU, t int64) (rel int64, ok, done bool) {
	rel = g.rel(w, nowU)
	next := rel + t
	if next > g.bt {
		return rel, false, true
	}
	return next, true, p.CompareAndSwap(w, word(tag, nowU+next))
}

// rel returns the word's TAT minus now in units, or 0 when the word is
// unused or idle (TAT <= now: a full bucket).
//
// The difference is taken modulo 2^48 and sign-extended. A TAT up to
// skew beyond the bucket depth comes from a caller whose clock runs ahead
// of ours: it is clamped to the depth (an empty bucket). Anything further
// ahead can only be an idle TAT from more than 2^47 units ago that wrapped
// around, and counts as idle. (An idle word older than that can, with
// probability below 2^-11, wrap into the active range; that makes its key
// stricter for one window, never freer.)
func (g *GCRA) rel(w uint64, nowU int64) int64 {
	if w == 0 {
		return 0
	}
	d := int64((w-uint64(nowU))<<(64-tatBits)) >> (64 - tatBits)
	switch {
	case d <= 0 || d > g.bt+g.skew:
		return 0
	case d > g.bt:
		return g.bt
	}
	return d
}

func word(tag uint64, tatU int64) uint64 {
	return tag<<tatBits | uint64(tatU)&tatMask
}

// hashSeed is mixed into every key hash of the process, so that nobody can
// precompute keys that land in one set and crowd out its other keys.
var hashSeed = rand.Uint64() | 1

// mix scrambles an xxhash sum with the process seed (a bijection: the
// murmur3 finalizer over h^seed), so set and tag bits are unpredictable
// without the seed.
func mix(h uint64) uint64 {
	h ^= hashSeed
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb64fe5361a53
	h ^= h >> 33
	return h
}

// Key hashes the parts of a rate-limit key (client address, a header, an
// API key, the route) into one uint64 without allocating. Parts are
// length-prefixed, so ("ab","c") and ("a","bc") differ. Call Reset before
// the first Add; a Key lives on the stack.
type Key struct {
	d xxhash.Digest
}

// Reset starts a new key.
func (k *Key) Reset() { k.d.Reset() }

// Add appends one part. part is only read during the call.
func (k *Key) Add(part []byte) {
	k.length(uint32(len(part)))
	_, _ = k.d.Write(part)
}

// AddString appends one part given as a string (a route name).
func (k *Key) AddString(part string) {
	k.length(uint32(len(part)))
	_, _ = k.d.WriteString(part)
}

// AddAbsent appends a part that the request does not have (a missing
// header), distinct from an empty value.
func (k *Key) AddAbsent() { k.length(math.MaxUint32) }

// AddAddr appends an IP address (IPv4 as its IPv4-mapped IPv6 form, so
// both spellings of one client agree).
func (k *Key) AddAddr(a netip.Addr) {
	b := a.As16()
	k.Add(b[:])
}

// Sum returns the key's hash, for GCRA.AllowHash.
func (k *Key) Sum() uint64 { return mix(k.d.Sum64()) }

func (k *Key) length(n uint32) {
	b := [4]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}
	_, _ = k.d.Write(b[:])
}
