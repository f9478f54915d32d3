// Package tlsloop runs TLS for connections owned by event loops, with
// crypto/tls only (no cgo, no kernel TLS): handshakes run off the loops,
// bounded; the record layer runs on the loops, without blocking.
//
// # The shape
//
// crypto/tls drives a net.Conn and blocks in its Read. Under each
// tls.Conn this package puts a transport, an in-memory net.Conn that
// never touches the socket:
//
//   - During the handshake a goroutine runs tls.Conn.Handshake. The loop
//     feeds it the ciphertext it reads (Conn.Feed); the transport's Read
//     blocks until bytes come, the handshake times out or the connection
//     closes. What the handshake writes is kept until the loop takes it:
//     before the goroutine blocks for the peer's next flight, and when it
//     ends, it calls the wake function the loop gave, and the loop's next
//     Feed collects the flight (Conn.Flush sends it) and, at the end, the
//     outcome. No socket is touched off the loop.
//   - After the handshake the tls.Conn belongs to the loop. Feed hands it
//     the ciphertext as a view; its Reads copy from the view and, once it
//     is used up, get an error that is a net.Error with Temporary() true:
//     crypto/tls (readRecordOrCCS in conn.go, Go 1.26) returns such an
//     error without recording it, keeping a partial record for the next
//     Read. So Feed decrypts every complete record and leaves the rest
//     for later, and Write's records are appended to an output buffer
//     that Flush writes to the socket in one call.
//
// The Conn's plaintext side mirrors gnet.Conn's Peek, Discard, Write and
// Writev, so that a connection's HTTP code runs unchanged over TLS: the
// engine wraps the socket's gnet.Conn in a type whose byte methods are
// the Conn's (see the example).
//
// # Bounds
//
// A Server's handshakes are bounded by HandshakeLimits: a timeout from the
// first byte, a cap on handshakes in progress (beyond it Feed returns
// ErrBusy: close the connection), and a cap on handshakes computing at
// once (a handshake waiting for its peer holds no CPU slot). A handshake
// buffers at most 64 KiB of input it has not read. A flood of
// ClientHellos therefore costs at most MaxInFlight goroutines and their
// memory, at most Workers cores, and the loops only copy bytes.
//
// # Costs
//
// Measured on the 2-core development VM, busy with other work (go test
// -bench Record -count 6, 2026-12-02; medians of process CPU per response,
// both ends, written by one side and read by the other): a 120-byte
// response costs 0.86 µs in memory through two Conns, against 3.9 µs for
// crypto/tls over net.Pipe (a goroutine hand-off per write) and 21 µs over
// loopback TCP (the syscalls); 16 KiB cost 8.7, 16.8 and 37 µs. Each
// response costs one allocation (24 B), crypto/tls's own, as on a socket.
// The record layer adds one memory copy per direction over crypto/tls on
// a socket (the loop's read buffer into crypto/tls's, crypto/tls's
// records into the output buffer): about 0.2-0.3 µs per 16 KiB
// (BenchmarkCopy), 3% of sealing and opening it.
//
// # Certificates
//
// A Server serves a listener's certificates (CertFile: PEM chain and key;
// RSA, ECDSA and Ed25519), chosen per handshake by SNI (exact names,
// one-label wildcards, a default) and, among a name's certificates, by
// what the client supports (tls.ClientHelloInfo.SupportsCertificate).
// LoadServer refuses an unreadable, malformed, mismatched or expired file
// with a LoadError naming it and the reason; it warns of a certificate
// expiring within ExpiryWarning and of a chain out of order. Server.Reload
// (or LoadServer then Server.Apply) swaps the config for new handshakes
// only; established connections keep theirs, and a refused reload leaves
// the old config serving. Session ticket keys are the Server's, shared by
// every loop and every config it applies, rotated by the first handshake
// after each TicketRotation; Stats counts resumed handshakes.
//
// Client certificates (mTLS) are asked for per listener (ClientAuth,
// ClientCAFile); Info.Peer carries the verified certificate's subject and
// SANs, rendered once off the loop, for the gateway to pass upstream.
//
// # Upstreams
//
// A Client is TLS toward one upstream: CA file or system roots, a server
// name defaulting to the endpoint's host, an optional client certificate,
// a session cache shared by the loops. Client.Handshake runs the
// handshake in the goroutine that dialed (the engine's dial goroutine)
// and returns a Conn in the data phase for the loop; Client.NewConn runs
// it fed by the loop, as a Server's.
//
//	sc, err := tlsloop.LoadServer(tlsloop.ServerOptions{Certificates: certs}, time.Now())
//	srv := tlsloop.NewServer(sc)          // one per listener, shared by the loops
//	tc := srv.NewConn(func() { _ = c.Wake(nil) })   // OnOpen
//	n, err := tc.Feed(ciphertext)         // OnTraffic: then Discard(n), tc.Flush(c)
//	if tc.Established() { ... tc.Peek(-1), tc.Discard(n), tc.Write(p) ... }
//	tc.Close()                            // OnClose
package tlsloop
