// Package metrics counts what the gateway does with bounded cardinality and
// near-zero cost on the request path, and exposes the counts to Prometheus.
//
// Every event loop owns its counters. The process-wide block of a loop is a
// *Loop (bytes, downstream connections, exchanges in flight, parser
// rejections, timeouts, the tunnel and pending-queue gauges); the per-route
// counters (requests by status code, durations, limiter and cache outcomes),
// per-upstream and per-endpoint counters of a loop are reached through a
// *Shard of the current *Table. What other parts own (the response cache,
// edge protection, TLS, endpoint health, aggregates) is read through the
// Options' functions at scrape. A loop increments only its own blocks with
// atomic.AddUint64 on cache lines no other loop writes, so an increment is
// an uncontended locked add of a few nanoseconds and never allocates. The
// *Collector (a prometheus.Collector) sums the loops when it is scraped.
//
// Routes and upstreams are known when the configuration is loaded, so they
// are indexed by dense IDs (their position in Labels). A reload installs a
// new Table; counters are stored per label value, not per table, so a route
// or upstream that survives a reload keeps counting in the same storage, a
// new one starts from zero, and one that disappears stops being exported
// (its counts resume if it comes back). The number of distinct names ever
// installed is bounded by Options.MaxRoutes and Options.MaxUpstreams.
//
// Wiring, per loop i:
//
//	c := metrics.New(metrics.Options{Loops: n})
//	reg.MustRegister(c)
//	tab, err := c.Install(metrics.Labels{Routes: routeNames, Upstreams: upstreamNames})
//	lm, sh := c.Loop(i), tab.Shard(i)
//	lm.DownstreamOpened()
//	lm.BytesReceived(n)
//	sh.Request(routeID, 200, elapsedNanos)
//	sh.UpstreamResponse(upstreamID, 200, elapsedNanos)
package metrics
