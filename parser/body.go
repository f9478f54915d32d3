package parser

// Body is a message body's framing cursor (RFC 9112 §6.3): it knows where
// the body ends whatever its framing, so that every reader of HTTP/1.1
// bodies (the gateway's client and upstream sides, compression,
// pipelining, cache refresh, hotload) asks it instead of switching on the
// kind itself. Start it with the parsed head's Body and ContentLength, then
// pass it the bytes after the head with Skip (to forward them as they are)
// or Decode (to get the payload). It is a value: copying it copies the
// position, chunked state included.
type Body struct {
	kind  BodyKind
	left  int64 // BodyLength: bytes still to come
	chunk Chunked
}

// Start sets b to the start of a body of the given framing (length is
// used for BodyLength only).
func (b *Body) Start(kind BodyKind, length int64) {
	b.kind, b.left = kind, length
	if kind == BodyChunked {
		b.chunk.Reset()
	}
}

// StartRequest is Start with a parsed request's framing.
func (b *Body) StartRequest(r *Request) { b.Start(r.Body, r.ContentLength) }

// StartResponse is Start with a parsed response's framing.
func (b *Body) StartResponse(r *Response) { b.Start(r.Body, r.ContentLength) }

// Kind returns the body's framing.
func (b *Body) Kind() BodyKind { return b.kind }

// TrailerBytes is how many bytes of a chunked body's trailer section were
// consumed so far (Chunked.TrailerBytes); 0 for other framings.
func (b *Body) TrailerBytes() int {
	if b.kind != BodyChunked {
		return 0
	}
	return b.chunk.TrailerBytes()
}

// Left returns the bytes still to come of a BodyLength body (0 for other
// framings).
func (b *Body) Left() int64 {
	if b.kind != BodyLength {
		return 0
	}
	return b.left
}

// Done reports whether the whole body has been consumed: always for
// BodyNone, never for BodyClose (its end is the connection's).
func (b *Body) Done() bool {
	switch b.kind {
	case BodyNone:
		return true
	case BodyLength:
		return b.left == 0
	case BodyChunked:
		return b.chunk.Done()
	}
	return false
}

// Skip consumes the body bytes at the start of buf without extracting the
// payload, so that buf[:n] can be forwarded unchanged (framing included);
// bytes after the body are not consumed. done is true once the body is
// complete. A chunked body's framing is validated; its errors are final.
func (b *Body) Skip(buf []byte) (n int, done bool, err error) {
	switch b.kind {
	case BodyLength:
		n = int(min(int64(len(buf)), b.left))
		b.left -= int64(n)
		return n, b.left == 0, nil
	case BodyChunked:
		return b.chunk.Skip(buf)
	case BodyClose:
		return len(buf), false, nil
	}
	return 0, true, nil
}

// Decode consumes body bytes from buf and returns the payload found in
// them (a sub-slice of buf; for a chunked body at most one chunk's worth,
// so call again with buf[n:] while n > 0 and the body is not done). Its
// results otherwise follow Skip's.
func (b *Body) Decode(buf []byte) (n int, data []byte, done bool, err error) {
	switch b.kind {
	case BodyLength:
		n = int(min(int64(len(buf)), b.left))
		b.left -= int64(n)
		return n, buf[:n:n], b.left == 0, nil
	case BodyChunked:
		return b.chunk.Decode(buf)
	case BodyClose:
		return len(buf), buf, false, nil
	}
	return 0, nil, true, nil
}
