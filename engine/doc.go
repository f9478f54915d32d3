// Package engine is hotpath's reverse proxy: gnet v2 event loops, the
// per-connection state machines, proxying with streamed bodies, timeouts,
// backpressure and graceful drain.
//
// The engine is share-nothing. Each event loop owns its client
// connections, the upstream connections that serve them (dialed for the
// loop and enrolled into it, so one goroutine drives both ends of every
// request), its idle keep-alive pools, its free lists and its timers.
// Shared, and read without locks on the request path: the routing table
// (an atomic.Pointer that Reload swaps), the endpoints' atomic health and
// load counters, the rate limiters' GCRA tables, the response cache and
// the Basic-auth verifier pool.
//
// # Compiled configuration
//
// New and Reload compile a config in two steps: package route turns it
// into plain values (route.Compile: settings, path and header templates,
// direct responses, keys, the routes' and upstreams' descriptions), then
// the engine builds its runtime objects from those (table.go: endpoints,
// balancers, TLS clients, policies, gates, the routing tree). The engine
// imports route as "compiled", since its own type route is the trie's
// value. Every problem of both steps is reported at once, as config.Errors
// with file, line and field. The request path reads the table only, never
// a config type (TestRequestPathReadsNoConfig checks it).
//
// # Connections and exchanges
//
// A connection is a socket and its protocol; an exchange is one request's
// journey. They are separate types with separate lifetimes:
//
//	loop (one goroutine)
//	├── h1conn  HTTP/1.1 client connection (h1conn.go): socket, request
//	│           cycle, deadline, keep-alive, linger; 128 bytes when idle
//	│     └── exchange (exchange.go), only while a request is in flight:
//	│           parser, route, auth (authpath.go), limits, cache
//	│           (cachepath.go), compression, aggregation, the upstream
//	│           request and the response; from the loop's free list
//	├── up      upstream connection (up.go), serving one exchange at a
//	│           time, or several in order with pool.pipeline (pipeline.go)
//	├── up2     HTTP/2 upstream connection (up2.go, protocol h2c or h2):
//	│           each of its streams is an up whose connection is the
//	│           stream, so the exchange cannot tell; shared by all the
//	│           loop's clients, one write per batch of events
//	└── tunnel  an upgraded client connection and its upstream (tunnel.go)
//
// The exchange answers through a small client interface (exchange.go):
// send the rendered response, report how much the peer has not taken,
// cut off, deadlines, the peer's address, and "ended" (the connection
// serves the next request or closes). h1conn and h2stream (an HTTP/2
// stream) implement it. An idle keep-alive connection holds its h1conn and
// gnet's connection, nothing else (588 B of RSS per idle connection with
// 10 000 of them in make bench's idle_conns; nginx 533 B, HAProxy 1 164 B;
// docs/architecture.md says where the bytes go); exchanges, the parser's header array, policy state and
// buffers are taken when the first byte of a head arrives and given back
// when the response ends, so a keep-alive request allocates nothing. What
// may outlive an exchange (a pending-queue entry, a cache waiter, a
// Basic-auth job, an aggregation result) holds the number of the park it
// resumes and checks it first (park.go, loop.releaseExchange).
//
// One request is in flight per HTTP/1.1 connection at a time; pipelined
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
// Time on a loop is one reading per wake-up: every gnet callback and every
// task Execute'd on the loop starts with loop.wake, which reads the loop
// clock (monotonic nanoseconds since New) into loop.now, and the code
// below takes that now: deadlines, the idle pools, the limiters, the
// access log's durations. Tests replace the clock (Server.monoClock) and
// tick the loops themselves, so a timeout fires without real time passing.
// The cache alone reads the wall clock, which RFC 9111's dates need.
//
// With pool.pipeline above 1 an upstream keep-alive connection carries
// several clients' GET, HEAD and OPTIONS requests at once, answered in
// order, and the heads that join it during one batch of events go out in
// one write (pipeline.go, docs/pipeline.md).
//
// Aggregate routes (aggregatepath.go, docs/aggregate.md) are the one
// deliberate goroutine hand-off on a request path: their parts go through
// package aggregate's worker goroutines and a net/http client, and the
// merged response comes back to the client's loop through
// EventLoop.Execute while the request is parked, as a cache waiter's does.
//
// Upgraded connections (WebSocket) become tunnels relayed on the same loop
// (tunnel.go); requests for an endpoint at pool.max_conns wait in a per-loop
// FIFO (pending.go); a client that takes none of the bytes queued for it for
// timeouts.client_send is reset (send.go).
//
// Edge protection (edge.go, docs/edge.md) decides what it can before any
// state exists: the top-level ip_filter and limits.per_ip close a refused
// connection in OnOpen, before its h1conn is taken; ip_filter, CORS
// preflights and max_body answer a request before its route's auth; the
// decisions are package iplist's, limiter's and cors's.
//
// The loops never run bcrypt: a Basic credential that the loop's auth
// cache cannot answer is checked by a Server-wide pool of worker
// goroutines while its request is parked, and the outcome is handed back
// to the request's loop with EventLoop.Execute (authpool.go), as dial
// results and cache followers are.
//
// # Upstream connects
//
// An upstream connection could be dialed with the client connection's
// EventLoop().Register (the design notes, docs/architecture.md, once said
// so). In gnet v2.10.0 that is not a
// non-blocking connect on the loop, so the engine dials with net.DialTimeout
// in a goroutine and hands the connection to EventLoop().Enroll (loop.dial).
// What Register does (eventloop_unix.go, enroll):
//
//   - It submits a task to gnet's global ants worker pool, and that task
//     calls net.Dial(addr.Network(), addr.String()): a blocking dial in a
//     worker goroutine on Go's netpoller, then a dup of the descriptor and a
//     Trigger that registers the dup on the loop. Enroll runs the same task
//     minus the dial. Either way a goroutine does the connect and hands the
//     connection over; Register only swaps ours for a pooled one.
//   - net.Dial has no deadline, and Register uses its ctx only to carry
//     the connection's context (gnet.NewContext). Measured: Register to an
//     address that never answers the SYN, with a 200 ms ctx deadline, had no
//     result after 3 s, its worker parked in net.(*netFD).connect until the
//     kernel gives up (tcp_syn_retries 6: about 127 s). The engine's own
//     connect deadline would still answer 504 in time, but every such dial
//     would pin a goroutine and a socket for two minutes; DialTimeout bounds
//     both by timeouts.connect.
//   - gnet has no public way to connect non-blockingly on a loop or to add
//     a descriptor to a loop's poller: a descriptor put into the loop's epoll
//     set behind gnet's back (pause.go only changes the interest of gnet's
//     own) is taken for a stale connection, logged and deleted.
//   - If the loops stop after the task's Trigger but before the loop runs
//     it, gnet's worker waits forever for the registration. dial stops
//     waiting when the server is done; the pooled worker stays parked.
//
// A connect-on-the-loop needs gnet itself to grow one (a non-blocking
// connect(2) whose EPOLLOUT completes the registration); until then the
// goroutine is per new upstream connection, which keep-alive pools make rare.
//
//	srv, err := engine.New(config.Default())
//	if err != nil { ... }
//	if err := srv.Start(); err != nil { ... }
//	defer srv.Shutdown(ctx)
package engine
