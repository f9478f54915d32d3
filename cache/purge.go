package cache

import (
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// Purging. Ristretto cannot be iterated, so purges do not find entries:
// they bump generation counters that entries are checked against.
//
// Every entry records, when its request was looked up, the generation of
// three slots in a fixed table of counters: its host's, its host+first
// path segment's, and its URL's (host, path, query: all methods, codings
// and Vary variants of it). A hit checks them and PurgeAll's (four atomic
// loads, no lock, no allocation); an entry whose recorded generation is behind is a
// miss and is deleted. Purging is one atomic increment:
//
//   - PurgeURL bumps the URL's slot;
//   - PurgePrefix with a prefix that ends a first path segment ("/api/",
//     "/api/v1/users") bumps host+"api", invalidating the whole first
//     segment: a superset of the prefix, never less;
//   - any other prefix ("/", "/ap") and PurgeHost bump the host's slot;
//   - PurgeAll bumps one extra slot that every entry records.
//
// Slots are hashes modulo genSlots, so a purge also invalidates entries
// whose names share its slot (about one in 65536 per purge): extra misses,
// never stale content. Because the generations are captured at Lookup,
// a response fetched before a purge and stored after it is born obsolete.
// Cost: 512 KiB of counters, 48 bytes per entry; purged entries keep
// their memory until looked up again, evicted, or their TTL ends.
const genSlots = 1 << 16

type generations struct {
	// g holds the generation counters. Incremented by purges, loaded by
	// lookups; both sequentially consistent, so a lookup that starts after
	// a purge returned sees the new generation.
	g [genSlots + 1]atomic.Uint64 // the last one is PurgeAll's
}

// allSlot is the generation slot every entry records: PurgeAll's.
const allSlot = genSlots

func (p *generations) snapshot(t *Ticket, host, path []byte) {
	t.slots = [4]uint32{slotOf(hostHash(host)), slotOf(segmentHash(host, firstSegment(path))), slotOf(t.url), allSlot}
	for i, s := range t.slots {
		t.gens[i] = p.g[s].Load()
	}
}

func (p *generations) valid(e *Entry) bool {
	for i, s := range e.slots {
		if p.g[s].Load() != e.gens[i] {
			return false
		}
	}
	return true
}

func slotOf(h uint64) uint32 { return uint32(h % genSlots) }

func hostHash(host []byte) uint64 {
	var d xxhash.Digest
	d.Reset()
	writeLower(&d, host)
	return d.Sum64()
}

func segmentHash(host, seg []byte) uint64 {
	var d xxhash.Digest
	d.Reset()
	writeLower(&d, host)
	writeLen(&d, len(host))
	_, _ = d.Write(seg)
	return d.Sum64()
}

// firstSegment returns "api" for "/api/x" and "/api", nil for "/".
func firstSegment(path []byte) []byte {
	if len(path) == 0 || path[0] != '/' {
		return path
	}
	for i := 1; i < len(path); i++ {
		if path[i] == '/' {
			return path[1:i]
		}
	}
	return path[1:]
}

// PurgeURL invalidates every stored response for host, path and query
// (every method class, coding and Vary variant).
func (c *Cache) PurgeURL(host, path, query []byte) {
	c.purge.g[slotOf(URLKey(host, path, query))].Add(1)
}

// PurgeHost invalidates every stored response for host.
func (c *Cache) PurgeHost(host []byte) {
	c.purge.g[slotOf(hostHash(host))].Add(1)
}

// PurgePrefix invalidates every stored response whose path starts with
// prefix on host (and possibly more: see the rules above).
func (c *Cache) PurgePrefix(host, prefix []byte) {
	if len(prefix) > 1 && prefix[0] == '/' {
		for i := 1; i < len(prefix); i++ {
			if prefix[i] == '/' { // the first segment is complete
				c.purge.g[slotOf(segmentHash(host, prefix[1:i]))].Add(1)
				return
			}
		}
	}
	c.PurgeHost(host)
}

// PurgeAll invalidates every stored response.
func (c *Cache) PurgeAll() {
	c.purge.g[allSlot].Add(1)
}
