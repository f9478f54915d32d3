package cache

import (
	"sync/atomic"

	"github.com/dgraph-io/ristretto/v2"
)

// Stats is what the cache did with entries since New: responses handed to
// the store, refused by ristretto's admission policy, evicted to make room,
// expired, and the bytes the stored entries hold now. Byte figures are entry
// costs: headers, body and a fixed overhead per entry.
type Stats struct {
	Stores, StoredBytes     uint64 // responses given to the store (Store), and their bytes
	Rejections              uint64 // stores ristretto's admission policy refused
	Evictions, EvictedBytes uint64 // entries evicted to stay within max_bytes, and their bytes
	Expirations             uint64 // entries dropped when their time to live ran out
	SizeBytes               int64  // bytes held now
}

// counters are Stats as atomics. Store runs on the event loops; the
// ristretto callbacks run on its own goroutine.
type counters struct {
	stores, storedBytes     atomic.Uint64
	rejections              atomic.Uint64
	evictions, evictedBytes atomic.Uint64
	expirations             atomic.Uint64
	size                    atomic.Int64
}

// Stats returns the cache's counters. Safe for concurrent use.
func (c *Cache) Stats() Stats {
	n := &c.stats
	return Stats{
		Stores: n.stores.Load(), StoredBytes: n.storedBytes.Load(),
		Rejections: n.rejections.Load(),
		Evictions:  n.evictions.Load(), EvictedBytes: n.evictedBytes.Load(),
		Expirations: n.expirations.Load(),
		SizeBytes:   max(n.size.Load(), 0),
	}
}

// stored accounts for an entry ristretto accepted into its set buffer.
// Its admission is decided later, on ristretto's goroutine (onReject).
func (n *counters) stored(e *Entry) {
	n.size.Add(e.cost)
	if !e.index {
		n.stores.Add(1)
		n.storedBytes.Add(uint64(e.cost))
	}
}

// onReject: the admission policy refused a stored entry (onExit follows
// and takes its bytes back).
func (n *counters) onReject(it *ristretto.Item[*Entry]) {
	if it.Value != nil && !it.Value.index {
		n.rejections.Add(1)
	}
}

// onEvict: an entry left to make room (no expiration on the item: a
// victim of the policy) or because its time to live ran out (ristretto's
// cleanup passes the expiration). onExit follows.
func (n *counters) onEvict(it *ristretto.Item[*Entry]) {
	e := it.Value
	if e == nil {
		return
	}
	if !it.Expiration.IsZero() {
		n.expirations.Add(1)
		return
	}
	n.evictions.Add(1)
	n.evictedBytes.Add(uint64(e.cost))
}

// onExit: an entry left the store for any reason (replaced, deleted,
// evicted, expired, refused).
func (n *counters) onExit(e *Entry) {
	if e != nil {
		n.size.Add(-e.cost)
	}
}
