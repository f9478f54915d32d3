// Package limiter holds the gateway's rate and concurrency limiters. Every
// decision is lock-free and allocation-free, so the engine calls it straight
// from an event loop.
//
// GCRA is a keyed rate limiter (the generic cell rate algorithm, the
// continuous form of a token bucket). Each key's whole state is one 64-bit
// word in a fixed-size, set-associative table, updated by compare-and-swap:
// no mutex, no map, no per-key allocation, bounded memory for any number of
// keys. Keys are hashed with xxhash; Key combines several parts (client IP,
// a header, the route) into one hash without allocating, and
// TrustedProxies.ClientIP finds the client address behind trusted proxies.
//
// Concurrency bounds in-flight requests (per route or per upstream) with
// one atomic counter. KeyedConcurrency bounds holders per key (the
// connections open per client address) in a table laid out like GCRA's:
// one word per key, compare-and-swap, bounded memory.
//
// AppendHeaders writes Retry-After and the RateLimit-Policy / RateLimit
// fields of draft-ietf-httpapi-ratelimit-headers.
//
// Example, on an event loop:
//
//	g, err := limiter.New(limiter.Config{Rate: 100, Burst: 20, Slots: 1 << 20, Name: "per-ip"})
//	...
//	var k limiter.Key
//	k.Reset()
//	ip := proxies.ClientIP(peer, xff)
//	k.AddAddr(ip)
//	k.AddString(routeName)
//	d := g.AllowHash(k.Sum(), loopNow) // loopNow: monotonic nanoseconds
//	if !d.Allowed {
//		out = limiter.AppendHeaders(out, d, g.Name())
//		// 429 Too Many Requests
//	}
package limiter
