// Package parser parses HTTP/1.1 request and response heads straight out of
// a connection's read buffer, and frames their bodies (RFC 9112 §6), without
// allocating.
//
// A Request (or Response) is kept per connection and reused with Reset. Parse
// takes the buffer from the first byte of the message:
//
//	var r parser.Request
//	n, err := r.Parse(buf)
//	switch {
//	case err == parser.ErrNeedMore:
//		// read more bytes, append them, call Parse again with the longer buffer
//	case err != nil:
//		// answer parser.Status(err) (400, 414, 431, 501 or 505) and close
//	default:
//		// r.Method, r.Path, r.Host, r.Headers ... are sub-slices of buf;
//		// the body starts at buf[n] and is framed by r.Body
//	}
//
// # Incremental parsing
//
// On a partial head Parse returns ErrNeedMore and records how far it got: the
// stage of the start line or field line it stopped in and the positions it
// needs. The next call resumes there, so a head that arrives one byte at a
// time costs O(n) in total. The caller may pass a re-allocated buffer (with
// the same leading bytes) on the next call: field lines recorded so far are
// moved to it by offset. Parse returns the exact length of the head, so
// pipelined messages follow one another in one buffer: Reset, then Parse
// buf[n+bodyLength:].
//
// Every []byte field is a sub-slice of the last buffer passed; it is valid
// while those bytes are, and until Reset. Do not append to them: their
// capacity runs on into the buffer.
//
// # Body framing
//
// Request.Body is BodyNone (no Content-Length and no Transfer-Encoding, or
// Content-Length: 0), BodyLength or BodyChunked. Response.Body follows
// RFC 9112 §6.3: BodyNone for responses to HEAD and for 1xx, 204 and 304
// whatever the headers say; BodyChunked when chunked is the final transfer
// coding; BodyClose when Transfer-Encoding ends in another coding (rule 4:
// the body runs to the close) or when neither header is present (rule 8);
// otherwise BodyLength. An HTTP/1.0 response with Transfer-Encoding is
// BodyClose (RFC 9112 §6.1: its framing is faulty). A BodyClose response has
// KeepAlive false. KeepAlive is true for HTTP/1.1 unless a Connection field
// lists "close", and for HTTP/1.0 only when one lists "keep-alive". Expect100 is set for an
// HTTP/1.1 request with Expect: 100-continue.
//
// Chunked decodes a chunked body incrementally: Decode hands out the payload
// (sub-slices of the input, at most one chunk per call), Skip validates the
// framing of bytes that are forwarded unchanged. Chunk extensions are checked
// for control bytes and otherwise passed over; trailer fields are validated
// like header fields and discarded.
//
// # Strictness
//
// Anything two HTTP implementations might frame differently is refused, each
// case with its own error (see errors.go) and the connection is to be closed:
//
//   - Content-Length together with Transfer-Encoding (in requests and in
//     responses, though RFC 9112 §6.3 lets a response's Transfer-Encoding
//     win: it calls the message a likely smuggling attempt).
//   - More than one Content-Length field, or a list, even of equal values:
//     RFC 9110 §8.6 allows collapsing "5, 5" to 5, but a peer that does not
//     collapse disagrees on the framing, and no correct client sends it.
//   - A Content-Length that is not 1*DIGIT (a sign, spaces inside, an empty
//     value) or that overflows int64.
//   - Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1: faulty
//     framing; some peers honour it, others ignore it).
//   - In a request, Transfer-Encoding whose final coding is not chunked
//     (400), chunked listed more than once (400), or a coding other than
//     chunked, gzip, deflate or compress (501). The codings of every
//     Transfer-Encoding field form one list.
//   - Obsolete line folding, whitespace before the first field line or
//     between a field name and its colon, a name with a non-token byte or an
//     empty name, a value with NUL, DEL or another control byte (HTAB is
//     allowed), a CR not followed by LF, a bare LF line ending.
//   - A method that is not a token, a request-target with SP, control bytes
//     or DEL (bytes >= 0x80 are accepted, as nginx does), a malformed version
//     (400) or one other than HTTP/1.0 and HTTP/1.1 (505); the HTTP/2
//     connection preface has its own error, ErrHTTP2Preface.
//   - An HTTP/1.1 request without Host, or any request with more than one.
//   - Chunk sizes that are empty, not hex or overflow, a chunk-size line
//     with whitespace but no extension, data not followed by CRLF.
//   - Limits: a request line longer than Limits.MaxRequestLine (414), a head
//     larger than Limits.MaxHead or with more than Limits.MaxHeaders fields
//     (431); defaults 8 KiB, 32 KiB and 100, as nginx and Envoy.
//
// Empty lines before a request line are skipped, any number of them (RFC 9112
// §2.2 says a server SHOULD ignore at least one); they count against MaxHead.
//
// The one lenient option is Limits.AllowBareLF: a bare LF then ends lines of
// the head, as RFC 9112 §2.2 permits a recipient to accept. It is off by
// default because a bare LF is read differently by different peers, which is
// what request smuggling feeds on. The chunked decoder always requires CRLF.
//
// # Performance
//
// Field lines of the common shape (a name of letters, digits and '-', a
// value without HTAB, CRLF) are found by a fast path that scans each line
// for its end first and checks its name off that chain of dependent loads:
// sixteen bytes at a time in SSE2 assembly on amd64, eight at a time with
// SWAR masks elsewhere and under the purego build tag. Every other line
// goes to the general scanner, which gives the precise error; byte classes
// there are 256-entry tables. A complete head is walked once, a partial one
// at most three times. BenchmarkParse compares the parser with fasthttp and
// net/http on the same inputs.
package parser
