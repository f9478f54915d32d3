// Package discovery finds an upstream's endpoints in systems a fleet
// already runs: DNS (A, AAAA or SRV records, asked again when their TTL
// runs out) and etcd (one key per endpoint under a prefix, watched).
//
// A Source runs in a background goroutine and reports every answer (the
// whole endpoint set) and every failure; it never blocks an event loop. The
// consumer (package gateway) keeps the last set it had when a source fails,
// and swaps a new set in as a reload that keeps the endpoints that stay,
// with their connections and health state.
//
//	src := &discovery.DNS{Name: "api.internal", Type: dns.TypeSRV, Refresh: 10 * time.Second, Resolver: "127.0.0.1:53"}
//	go src.Run(ctx, func(eps []discovery.Endpoint, err error) { ... })
package discovery
