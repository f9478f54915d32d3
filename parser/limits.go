package parser

// Limits bound what a peer may make the parser hold. The zero value means
// "use the default" for every field.
type Limits struct {
	// MaxRequestLine is the longest request line (method, target, version) in
	// bytes; a longer target gives ErrURITooLong (414). Default 8 KiB.
	MaxRequestLine int
	// MaxHead is the largest head (start line plus header fields plus the
	// final CRLF) in bytes; larger gives ErrHeadTooLarge (431). Default 32 KiB.
	MaxHead int
	// MaxHeaders is the most header fields; more gives ErrTooManyHeaders
	// (431). Default 100, at most MaxHeadersCap.
	MaxHeaders int
	// AllowBareLF accepts a bare LF as a line ending (RFC 9112 §2.2 permits a
	// recipient to); off by default because it is a smuggling vector when a
	// peer in front or behind disagrees.
	AllowBareLF bool
}

// MaxHeadersCap is the most header fields a Request or Response can hold;
// Limits.MaxHeaders is clamped to it. The first 32 fields live in an array
// inside the Request or Response; a head with more makes Parse allocate an
// array of Limits.MaxHeaders fields once, kept across Reset for every later
// head.
const MaxHeadersCap = 256

// Default limits, in line with nginx (large_client_header_buffers 8k) and
// Envoy (max_request_headers_kb 60, 100 headers).
const (
	DefaultMaxRequestLine = 8 << 10
	DefaultMaxHead        = 32 << 10
	DefaultMaxHeaders     = 100
)

// Limits of the chunked decoder, which has no Limits of its own.
const (
	// MaxChunkLine is the longest chunk-size line, extensions included,
	// without its CRLF.
	MaxChunkLine = 4 << 10
	// MaxTrailer is the largest trailer section, final CRLF included.
	MaxTrailer = DefaultMaxHead
)

// resolved is Limits with defaults filled in and values clamped.
type resolved struct {
	requestLine int
	head        int
	headers     int
	bareLF      bool
}

func (l *Limits) resolve() resolved {
	r := resolved{
		requestLine: l.MaxRequestLine,
		head:        l.MaxHead,
		headers:     l.MaxHeaders,
		bareLF:      l.AllowBareLF,
	}
	if r.requestLine <= 0 {
		r.requestLine = DefaultMaxRequestLine
	}
	if r.head <= 0 {
		r.head = DefaultMaxHead
	}
	// Offsets are stored as uint32.
	if r.head > 1<<31 {
		r.head = 1 << 31
	}
	if r.headers <= 0 {
		r.headers = DefaultMaxHeaders
	}
	if r.headers > MaxHeadersCap {
		r.headers = MaxHeadersCap
	}
	return r
}
