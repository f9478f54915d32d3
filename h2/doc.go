// Package h2 is HTTP/2 (RFC 9113) with HPACK (RFC 7541) over []byte, the way
// package parser is HTTP/1.1: no sockets, no goroutines, no allocation per
// request. ServerConn is the server side of one client connection, owned
// by one event loop; ClientConn is the client side that hotload drives.
//
// # Driving a ServerConn from an event loop
//
// NewServerConn puts the server preface (SETTINGS and a WINDOW_UPDATE for
// the connection window) in Output. Every time bytes arrive, feed them all,
// starting with the client preface, and handle one event per call until
// EventNone; then write Output once and clear it:
//
//	buf, _ := c.Peek(-1)
//	off := 0
//	for {
//		n, ev := sc.Feed(buf[off:], now)
//		off += n
//		if ev.Kind == h2.EventNone {
//			break
//		}
//		switch ev.Kind {
//		case h2.EventRequest:  // a new exchange: ev.Stream, ev.Request (head checked)
//		case h2.EventData:     // body bytes for ev.Stream; sc.Consumed(id, n) once passed on
//		case h2.EventTrailers: // the request ended with trailer fields
//		case h2.EventReset:    // abort the exchange of ev.Stream
//		case h2.EventWritable: // WriteData may send more on ev.Stream
//		case h2.EventGoAway:   // the client opens no more streams
//		case h2.EventClose:    // write Output, then close
//		}
//	}
//	c.Discard(off)
//	c.Write(sc.Output()) // one write per loop batch
//	sc.ClearOutput()
//
// A partial frame is left unconsumed and waits for more bytes; nothing is
// parsed twice. Init resets a ServerConn for a new connection keeping its
// buffers (for a per-loop free list), and SetBuffers lets the connections
// of one loop share their decode and encode scratch: a served, idle
// connection then holds about 11 KiB, most of it the client's HPACK table. Request fields are views of the connection's decode buffer
// valid until the next Feed; DATA payloads are views of the input. Answers
// are appended to Output: StartHeaders, Field, EndHeaders for a head (1xx
// included, 103 Early Hints for one), WriteData for the body, StartTrailers
// for trailers, Reset for RST_STREAM, GoAway for GOAWAY.
//
// # Flow control (RFC 9113 §5.2, §6.9)
//
// Both ways. WriteData takes what the stream's and the connection's send
// windows allow and says how much: the engine keeps the rest where it is
// (in the upstream's input) and stops reading the upstream until
// EventWritable, so a slow client closes the upstream's window instead of
// filling the gateway's memory. BlockedSince says since when a stream has
// waited, for a client_send timeout: a client that keeps its window at zero
// forever is the engine's to close. Request bodies are credited only when
// the engine calls Consumed, so a slow upstream closes the client's window:
// what the engine may have to hold per connection is bounded by
// Limits.ConnWindowSize. WINDOW_UPDATE frames are sent once half a window is
// owed, padding and data of closed streams are credited at once.
//
// # What the connection checks itself
//
// Frames (§4, §6): sizes, stream identifiers (odd, increasing, §5.1.1),
// padding, the states of §5.1 (frames on idle, half-closed and closed
// streams, with a memory of how the last streams closed to answer
// STREAM_CLOSED or PROTOCOL_ERROR as §5.1 requires), SETTINGS values
// (§6.5.2), header blocks that nothing may interleave (§6.2, §6.10),
// priority signals parsed for self-dependency (§5.3.1) and otherwise
// ignored (RFC 9113 deprecates the priority tree), unknown frame types
// ignored (§5.5), PUSH_PROMISE refused (a client cannot push). Requests
// (§8.1.1, §8.2, §8.3): lowercase token names, values without NUL, CR, LF
// or other controls and without surrounding whitespace, pseudo-header fields
// (:method, :scheme, :path, :authority; :protocol is refused as we do not
// enable extended CONNECT) exactly once and first, :path in origin form (or
// * for OPTIONS), :authority without userinfo, a Host that agrees with it,
// no connection-specific fields, TE only "trailers", content-length against
// the DATA received, trailers with END_STREAM and without pseudo-header
// fields. A malformed request is reset with PROTOCOL_ERROR and never
// reaches the engine; a stream error is EventReset; a connection error is
// a GOAWAY with the right code and EventClose. h2spec's generic, http2
// (strict cases included) and hpack groups pass (TestH2spec).
//
// # Hostile peers
//
// Limits (SETTINGS_MAX_CONCURRENT_STREAMS 100, a 32 KiB header list,
// 4 KiB HPACK table, 16 KiB frames, 64 KiB stream and 1 MiB connection
// windows by default) bound what a peer can make a connection hold;
// TestMemoryBounded checks every buffer against them. Past them:
//   - rapid reset (CVE-2023-44487): more streams reset by the peer before
//     their response ended than completed, past MaxPrematureResets, is
//     GOAWAY ENHANCE_YOUR_CALM;
//   - CONTINUATION flood (CVE-2024-27316): a header block is refused as soon
//     as its encoded size passes MaxHeaderBlock, before it ends;
//   - HPACK bomb: a decoded list past MaxHeaderListSize is not stored (the
//     block is still decoded, one step per byte, to keep the table in sync)
//     and the request is answered 431; the connection goes on;
//   - PING, SETTINGS, PRIORITY, RST_STREAM, WINDOW_UPDATE, empty DATA and
//     CONTINUATION, unknown frames: each spends a budget of
//     MaxControlFrames refilled at ControlFrameRate per second and by every
//     DATA frame sent; empty, it is GOAWAY ENHANCE_YOUR_CALM.
//
// Idle connections and streams, SETTINGS not acknowledged and windows held
// shut are timed by the engine from IdleSince, BlockedSince and
// SettingsUnackedSince: the package takes time as an argument and keeps no
// timer.
//
// # What comes from golang.org/x/net, and why not more
//
// Huffman coding comes from x/net/http2/hpack (HuffmanDecode writing into
// the decoder's own buffer, AppendHuffmanString). The frame layer and the
// rest of HPACK are the package's own, because x/net's pieces do not fit an
// event loop that hands over whatever bytes arrived:
//   - http2.Framer reads frames from an io.Reader with io.ReadFull: it would
//     block, or need the loop to find frame boundaries first and copy each
//     payload into the Framer's buffer; it allocates a frame value for
//     every non-DATA frame and, with ReadMetaHeaders, a slice and strings
//     for every header block;
//   - hpack.Decoder emits strings: every literal (a new :path, a cookie)
//     is an allocation, and an unsafe view of a string would not do since
//     its dynamic table keeps the strings it emits.
//
// Here a header block is decoded into one buffer per connection, sized by
// MaxHeaderListSize; names from the static table are views of package
// memory (interned); the dynamic table keeps its entries in one buffer,
// compacted instead of allocated. Measured with BenchmarkRequest (a request
// fed, checked and answered with HEADERS and DATA; x/net doing the same
// reading, decoding and writing with Framer and hpack), go1.26.8 on the
// 2-core development VM:
//
//	                     hotpath             x/net
//	h2load (indexed)     281 ns, 0 allocs    1492 ns, 12 allocs (812 B)
//	browser (literals)   1612 ns, 0 allocs   3301 ns, 15 allocs (1628 B)
//
// Responses are encoded without a dynamic table (nginx does the same): a
// literal per field, the name an index when the static table has it, the
// value Huffman-coded when shorter. The encoder keeps no state, so the
// peer's SETTINGS_HEADER_TABLE_SIZE never matters.
package h2
