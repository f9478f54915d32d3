package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/cespare/xxhash/v2"
)

// MaxCacheAge bounds how long a verified credential is trusted without a
// fresh check, whatever its own expiry.
const MaxCacheAge = int64(5 * time.Minute)

// maxCachedLen is the longest credential cached; longer ones are verified
// every time (they would pin too much memory per slot).
const maxCachedLen = 4096

// Cache remembers credentials verified on one event loop: a fixed-size,
// direct-mapped table indexed by the xxhash of the credential. A slot
// holds a copy of the credential (compared in full on a hit, so a hash
// collision is a miss, never a false accept), the verifier that admitted
// it, until when it holds and the header lines to inject. It is not safe
// for concurrent use: each loop owns one. After its slots' buffers have
// grown, a hit or a refill allocates nothing.
//
// Basic credentials that failed verification are kept apart, for FailTTL,
// in a second direct-mapped table that stores only a keyed hash of the
// decoded credential (failSlot): refusing a repeated wrong password costs
// a base64 decode and a hash, no bcrypt and no allocation.
type Cache struct {
	mask    uint64
	slots   []slot
	scratch []byte     // decoded Basic credentials, cleared after use
	fails   []failSlot // recently failed Basic credentials; nil until one fails
	Hits    uint64     // lookups answered from the table of verified credentials
	Misses  uint64     // lookups not in it
	// FailHits counts Basic credentials refused from the table of failed
	// ones (no bcrypt).
	FailHits uint64
}

type slot struct {
	h     uint64
	owner any // *JWT or *Basic
	until int64
	cred  []byte
	hdr   []byte
}

// NewCache returns a Cache with size slots, rounded up to a power of two.
func NewCache(size int) *Cache {
	n := 1
	for n < size {
		n <<= 1
	}
	return &Cache{mask: uint64(n - 1), slots: make([]slot, n)}
}

func (c *Cache) lookup(owner any, cred []byte, now int64) (*slot, uint64, bool) {
	h := xxhash.Sum64(cred)
	s := &c.slots[h&c.mask]
	if s.h == h && s.owner == owner && now < s.until && bytes.Equal(s.cred, cred) {
		c.Hits++
		return s, h, true
	}
	c.Misses++
	return s, h, false
}

// fill stores a verified credential in s, replacing what it held. Only
// successes are stored, so a flood of bad credentials cannot evict good
// ones.
func (s *slot) fill(h uint64, owner any, until int64, cred []byte) {
	s.h, s.owner, s.until = h, owner, until
	s.cred = append(s.cred[:0], cred...)
}

// JWT verifies token with v, from the table when it can. It returns the
// claim header lines to inject (valid until the next call on c) and the
// status. now is Unix nanoseconds.
func (c *Cache) JWT(v *JWT, token []byte, now int64) ([]byte, Status) {
	if len(token) == 0 {
		return nil, Missing
	}
	if len(token) > maxCachedLen {
		_, hdr, st := v.Verify(string(token), c.scratch[:0])
		c.scratch = hdr
		return hdr, st
	}
	s, h, ok := c.lookup(v, token, now)
	if ok {
		return s.hdr, OK
	}
	until, hdr, st := v.Verify(string(token), c.scratch[:0])
	c.scratch = hdr[:0]
	if st != OK {
		return nil, st
	}
	s.fill(h, v, min(until, now+MaxCacheAge), token)
	s.hdr = append(s.hdr[:0], hdr...)
	return s.hdr, OK
}

// Basic looks up the base64 credentials of an Authorization: Basic field
// for b without running bcrypt. It returns
//
//   - OK and the user name (valid until the next call on c) for a
//     credential b admitted within MaxCacheAge;
//   - Missing for an empty field;
//   - Invalid for a malformed one (bad base64, no "user:"), one longer than
//     the table keeps, or one that b refused within FailTTL;
//   - Unverified otherwise, with cred a copy of the decoded "user:password"
//     that the caller owns: it verifies cred with b.Verify off the event
//     loop, clears it, and reports the outcome with BasicVerified.
//
// Only the Unverified outcome allocates (the copy).
func (c *Cache) Basic(b *Basic, b64 []byte, now int64) (user, cred []byte, st Status) {
	if len(b64) == 0 {
		return nil, nil, Missing
	}
	if len(b64) > maxCachedLen {
		return nil, nil, Invalid
	}
	s, _, ok := c.lookup(b, b64, now)
	if ok {
		return s.hdr, nil, OK
	}
	p, ok := c.decodeBasic(b64)
	switch {
	case !ok:
		st = Invalid
	case c.failedRecently(b, p, now):
		c.FailHits++
		st = Invalid
	default:
		cred, st = append([]byte(nil), p...), Unverified
	}
	clear(p)
	return nil, cred, st
}

// BasicVerified records the outcome of b.Verify for b64, a credential that
// Basic reported Unverified: on success the credential is kept as verified
// and the user name returned (valid until the next call on c) with OK; on
// failure it is kept as failed for FailTTL, and the status is Invalid.
func (c *Cache) BasicVerified(b *Basic, b64 []byte, ok bool, now int64) ([]byte, Status) {
	p, valid := c.decodeBasic(b64)
	defer clear(p)
	if !valid || len(b64) > maxCachedLen {
		return nil, Invalid
	}
	if !ok {
		c.recordFailure(b, p, now)
		return nil, Invalid
	}
	h := xxhash.Sum64(b64)
	s := &c.slots[h&c.mask]
	s.fill(h, b, now+MaxCacheAge, b64)
	s.hdr = append(s.hdr[:0], p[:bytes.IndexByte(p, ':')]...)
	return s.hdr, OK
}

// decodeBasic decodes b64 into c's scratch and checks that it reads
// "user:password" with a user name. The caller clears the result when done
// with it.
func (c *Cache) decodeBasic(b64 []byte) ([]byte, bool) {
	n := base64.StdEncoding.DecodedLen(len(b64))
	if cap(c.scratch) < n {
		c.scratch = make([]byte, n)
	}
	m, err := base64.StdEncoding.Decode(c.scratch[:n], b64)
	if err != nil {
		clear(c.scratch[:n])
		return nil, false
	}
	p := c.scratch[:m]
	return p, bytes.IndexByte(p, ':') >= 1
}

// FailTTL is how long a credential that failed verification is refused
// from the table without another bcrypt. It is short on purpose: long
// enough that a client retrying one wrong password in a loop costs one
// bcrypt per FailTTL, short enough that a user whose password was just
// added to the htpasswd file (a reload makes a new Basic, which drops the
// old entries anyway) or who mistyped is not refused for long.
const FailTTL = int64(2 * time.Second)

// failSlots is the size of a Cache's table of failed credentials: a
// flood of different wrong passwords only replaces its entries.
const failSlots = 1024

// failSlot is a recently failed credential: the keyed hash of the decoded
// "user:password" (never the credential itself), its verifier and until
// when it holds.
type failSlot struct {
	h     uint64
	owner *Basic
	until int64
}

// failSeed keys the hash of failed credentials. It is random per process,
// so the hashes stored say nothing about the credentials and nobody can
// choose a wrong password whose hash equals a right one's (that would have
// the right one refused for FailTTL).
var failSeed = func() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}()

// failHash is the keyed xxhash of a decoded credential.
func failHash(p []byte) uint64 {
	var d xxhash.Digest
	d.ResetWithSeed(failSeed)
	_, _ = d.Write(p)
	return d.Sum64()
}

func (c *Cache) failedRecently(b *Basic, p []byte, now int64) bool {
	if c.fails == nil {
		return false
	}
	h := failHash(p)
	f := &c.fails[h&(failSlots-1)]
	return f.owner == b && f.h == h && now < f.until
}

func (c *Cache) recordFailure(b *Basic, p []byte, now int64) {
	if c.fails == nil {
		c.fails = make([]failSlot, failSlots)
	}
	h := failHash(p)
	c.fails[h&(failSlots-1)] = failSlot{h: h, owner: b, until: now + FailTTL}
}
