// Package cache is the gateway's shared HTTP response cache (RFC 9111, as a
// shared cache) on github.com/dgraph-io/ristretto/v2, bounded by a byte
// budget.
//
// The main type is Cache. The engine calls it from its event loops:
//
//	res := c.Lookup(&req, now, waiter)
//	switch res.State {
//	case cache.Hit, cache.Stale:
//		out = res.Entry.AppendResponse(out, now, head) // no upstream work, no allocation
//		if res.Leader { /* revalidate in the background, then Store + Complete(res.Ticket, e) */ }
//	case cache.Miss:
//		if res.Leader { /* fetch; e, err := c.Store(res.Ticket, &req, &resp, policy); c.Complete(res.Ticket, e) */ }
//	case cache.Wait:
//		// parked: waiter.Resume(e) is called once the leader completes
//	case cache.Bypass:
//		// go upstream, do not store
//	}
//
// Entries are immutable once stored, so any loop reads them without locks.
// Keys are xxhash sums of what the cache keys on (method class, host, path,
// query, an engine-chosen variant such as the content coding, and the
// request headers the response's Vary names), and a hit is checked against
// the stored key bytes, so a hash collision is a miss, never a wrong
// response.
//
// Concurrent misses for one key are coalesced: the first becomes the
// leader, the others register a Waiter and are resumed when the leader
// completes, with a bounded wait. Purge by URL, host or path prefix uses
// generation counters, because ristretto cannot be iterated.
//
// now is the wall clock here (a time.Time), not the int64 loop clock that
// pool and limiter take: RFC 9111 computes freshness and Age from dates the
// origin wrote (Date, Expires, Last-Modified; §4.2), which only the wall
// clock can be compared with.
package cache
