package parser

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
