// Package pool holds hotpath's upstream side: endpoints and their shared
// health and load state, the load balancers that pick one per request, active
// health checks, and the per-loop stacks of idle keep-alive connections.
//
// An Endpoint is shared by every event loop, so all its mutable state is
// atomic words: requests in flight (Begin and End), a peak-EWMA latency, the
// active health verdict and passive ejection (outlier detection with an
// exponential back-off, PassiveConfig). A Balancer, built once per route by
// NewBalancer, is immutable and lock-free; Pick costs a few atomic loads and
// never allocates:
//
//	eps := []*pool.Endpoint{pool.NewEndpoint("10.0.0.1:80", 5), pool.NewEndpoint("10.0.0.2:80", 1)}
//	b, err := pool.NewBalancer(pool.BalancerConfig{Kind: pool.KindP2CEWMA}, eps)
//	stop := pool.StartHealthChecks(eps, pool.HealthCheck{Path: "/healthz"})
//	defer stop()
//
//	e := b.Pick(0) // nil: no healthy endpoint, answer 503
//	e.Begin()
//	// ... proxy the request ...
//	e.End(latency, failed)
//
// Consistent-hash balancers (maglev, ring_hash) take the xxhash of the
// request's key, HashKey(key) (see KeyKind and CookieValue).
//
// Connections never cross loops: each loop keeps its own Idle stack (or
// Conns, which adds the Limits accounting) per endpoint, indexed by
// Endpoint.ID, and touches it without locks.
package pool
