package parser

// Placeholder implementation: replaced by the real parser.

type requestState struct{ off int }
type responseState struct{ off int }
type chunkedState struct{ off int }

// Reset prepares r for the next message; Limits are kept.
func (r *Request) Reset() { l := r.Limits; *r = Request{Limits: l} }

// Parse parses a request head from buf; see the contract in api.go.
func (r *Request) Parse(buf []byte) (int, error) { return 0, ErrNeedMore }

// Header returns the value of the first field named name (ASCII
// case-insensitive), or nil. It does not allocate.
func (r *Request) Header(name string) []byte { return nil }

// Reset prepares r for the next message; Limits are kept.
func (r *Response) Reset() { l := r.Limits; *r = Response{Limits: l} }

// Parse parses a response head from buf; see the contract in api.go.
// headRequest says the request was HEAD, so the response has no body whatever
// its headers say. A 1xx response parses like any other (Body is BodyNone);
// the caller reads the final response after it.
func (r *Response) Parse(buf []byte, headRequest bool) (int, error) { return 0, ErrNeedMore }

// Header returns the value of the first field named name (ASCII
// case-insensitive), or nil.
func (r *Response) Header(name string) []byte { return nil }

// Reset prepares c for the next body.
func (c *Chunked) Reset() { *c = Chunked{} }

// Decode consumes chunked framing and payload from buf. It returns how many
// bytes of buf it consumed, the payload bytes found in them (a sub-slice of
// buf, at most one chunk's worth, possibly empty), and done once the last
// chunk and the trailer section are consumed. When buf ends mid-frame it
// returns what it consumed with err == nil and done == false; call again
// with the bytes that follow buf[:n]. Errors are final.
func (c *Chunked) Decode(buf []byte) (n int, data []byte, done bool, err error) {
	return 0, nil, false, ErrNeedMore
}

// Skip is Decode for pass-through: it validates framing and consumes as much
// of buf as it can (across any number of chunks) without extracting payload,
// so buf[:n] can be forwarded unchanged. done is true once the whole body,
// trailers included, has been consumed.
func (c *Chunked) Skip(buf []byte) (n int, done bool, err error) { return 0, false, ErrNeedMore }

// Status maps a parser error to the HTTP status to answer with: 400, 414,
// 431, 501 or 505. It returns 0 for nil and ErrNeedMore.
func Status(err error) int { return 400 }
