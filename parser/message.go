package parser

// Header is one header field as sub-slices of the parsed buffer.
type Header struct {
	Name  []byte
	Value []byte // with leading and trailing whitespace removed
}

// BodyKind says how a message's body is framed (RFC 9112 §6.3).
type BodyKind uint8

const (
	BodyNone    BodyKind = iota // no body: ContentLength 0, HEAD response, 1xx/204/304
	BodyLength                  // exactly ContentLength bytes follow the head
	BodyChunked                 // chunked transfer coding; decode with Chunked
	BodyClose                   // response body runs until the connection closes
)

// Parsing contract shared by Request.Parse and Response.Parse:
//
//   - buf holds the message from its first byte. When the head is not
//     complete Parse returns (0, ErrNeedMore) and remembers how far it got;
//     call Parse again with a buffer that starts with the same bytes and has
//     more after them (it may be a different, re-allocated slice). Work done on
//     the earlier bytes is not repeated, so a head that trickles in byte by
//     byte costs O(n) in total.
//   - On success it returns the number of bytes of the head, including the
//     final CRLF; the body (if any) starts at buf[n]. Every []byte field is a
//     sub-slice of the last buf passed and is valid while those bytes are.
//   - Any other error is final for the message (and, since framing can no
//     longer be trusted, for the connection); Status(err) gives the HTTP
//     status to answer with.
//   - Call Reset before parsing the next message (for example the next
//     pipelined request in buf[n+bodyLen:]).
//   - Parse does not allocate, except once per Request or Response the
//     first time a head has more than 32 header fields (see MaxHeadersCap).

// Request is an HTTP/1.1 request head. Allocate one per connection and reuse
// it with Reset; the zero value is ready to use with default limits.
type Request struct {
	Limits Limits

	Method  []byte
	Target  []byte // raw request-target as sent
	Path    []byte // Target up to '?' (or the whole target); an absolute-form target's path, "/" when it has none
	Query   []byte // after '?', without it; nil when there is no '?'
	Minor   int    // HTTP/1.Minor: 0 or 1 (a later 1.x is served as 1.1, RFC 9112 §2.3)
	Headers []Header

	// Headers recognised during the single pass (nil when absent). For
	// repeated list headers (Connection, Transfer-Encoding, Accept-Encoding,
	// Cache-Control) this is the first field; use Headers for the rest.
	// Host is the authority of an absolute-form target when there is one
	// (RFC 9112 §3.2.2: the Host field is ignored then); either way it was
	// checked to be uri-host [":" port].
	Host             []byte
	ContentLengthRaw []byte
	TransferEncoding []byte
	Connection       []byte
	Upgrade          []byte
	Expect           []byte
	CacheControl     []byte
	AcceptEncoding   []byte
	Authorization    []byte

	ContentLength int64    // -1 when absent
	Body          BodyKind // BodyNone, BodyLength or BodyChunked (never BodyClose)
	KeepAlive     bool     // version default adjusted by Connection: close / keep-alive
	Expect100     bool     // Expect: 100-continue
	IsHead        bool     // Method is HEAD (its response has no body)

	state requestState
}

// Response is an HTTP/1.1 response head, parsed by an upstream client (the
// gateway) or by the load generator. Reuse it with Reset.
type Response struct {
	Limits Limits

	Minor   int
	Status  int
	Reason  []byte
	Headers []Header

	ContentLengthRaw []byte
	TransferEncoding []byte
	Connection       []byte
	Upgrade          []byte
	CacheControl     []byte
	ContentEncoding  []byte
	ContentType      []byte

	ContentLength int64    // -1 when absent
	Body          BodyKind // framing after taking the request method and status into account
	KeepAlive     bool

	state responseState
}
