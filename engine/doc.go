// Package engine is hotpath's reverse proxy: gnet v2 event loops, the
// per-connection state machines, proxying with streamed bodies, timeouts,
// backpressure and graceful drain.
//
// The engine is share-nothing. Each event loop owns its downstream (client)
// connections, the upstream connections that serve them (dialed on the same
// loop and enrolled into it, so one goroutine drives both ends of every
// exchange), its idle keep-alive pools and its timers. The only shared state
// on the request path is the routing table, read through an atomic.Pointer
// that Reload swaps, and the endpoints' atomic health and load counters.
//
// One request is in flight per client connection at a time; pipelined
// requests wait in the connection's input and are answered in order.
// Bodies are streamed in both directions as they arrive; when one side reads
// more slowly than the other writes, the engine stops reading the fast side
// (it removes the socket's read interest from the loop's epoll set, see
// pause.go) until the slow side has drained below half of
// limits.max_buffered_bytes.
//
// Observability (observe.go) follows the same rule: each loop records into
// its own metrics blocks and access-log buffer from a few hook calls in the
// state machines; Server.Collector exposes the sums to Prometheus.
//
//	srv, err := engine.New(config.Default())
//	if err != nil { ... }
//	if err := srv.Start(); err != nil { ... }
//	defer srv.Shutdown(ctx)
package engine
