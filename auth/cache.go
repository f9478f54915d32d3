package auth

import (
	"bytes"
	"encoding/base64"
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
type Cache struct {
	mask    uint64
	slots   []slot
	scratch []byte // decoded Basic credentials
	Hits    uint64 // lookups answered from the table
	Misses  uint64 // full verifications
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

// Basic verifies the base64 credentials of an Authorization: Basic field
// with b, from the table when it can. It returns the user name (valid
// until the next call on c).
func (c *Cache) Basic(b *Basic, b64 []byte, now int64) ([]byte, Status) {
	if len(b64) == 0 {
		return nil, Missing
	}
	if len(b64) > maxCachedLen {
		return nil, Invalid
	}
	s, h, ok := c.lookup(b, b64, now)
	if ok {
		return s.hdr, OK
	}
	n := base64.StdEncoding.DecodedLen(len(b64))
	if cap(c.scratch) < n {
		c.scratch = make([]byte, n)
	}
	m, err := base64.StdEncoding.Decode(c.scratch[:n], b64)
	if err != nil || !b.Verify(c.scratch[:m]) {
		clear(c.scratch[:n])
		return nil, Invalid
	}
	user := c.scratch[:bytes.IndexByte(c.scratch[:m], ':')]
	s.fill(h, b, now+MaxCacheAge, b64)
	s.hdr = append(s.hdr[:0], user...)
	clear(c.scratch[:n])
	return s.hdr, OK
}
