package h2

// Limits bound what a peer can make a connection hold or do. The zero value
// of every field means its default; the defaults are safe for an edge.
// They come from YAML (listeners[].http2, see docs/http2.md) through the
// engine.
type Limits struct {
	// MaxConcurrentStreams is SETTINGS_MAX_CONCURRENT_STREAMS: the most
	// streams open at once; one more is refused with REFUSED_STREAM.
	// Default 100 (RFC 9113 §6.5.2 recommends no fewer).
	MaxConcurrentStreams uint32
	// MaxHeaderListSize is SETTINGS_MAX_HEADER_LIST_SIZE: the most bytes of
	// a request's (or trailers') decoded fields, counted as RFC 9113
	// §6.5.2 does (name + value + 32 per field). A larger request is
	// answered 431 and its stream closed; the connection stays. Default
	// 32 KiB, as parser.Limits.MaxHead.
	MaxHeaderListSize uint32
	// MaxHeaders is the most fields in one request head or trailer
	// section; more is answered 431 too. Default 100, as parser.
	MaxHeaders int
	// MaxHeaderBlock is the most encoded bytes of one header block
	// (HEADERS plus CONTINUATION frames). Past it the connection is
	// closed with ENHANCE_YOUR_CALM as soon as the frame that crosses it
	// arrives, before the block ends (the CONTINUATION flood,
	// CVE-2024-27316). Default 2*MaxHeaderListSize.
	MaxHeaderBlock uint32
	// HeaderTableSize is SETTINGS_HEADER_TABLE_SIZE: the most bytes the
	// peer's HPACK encoder may keep in our decoder's dynamic table.
	// Default 4096 (RFC 7541's initial size).
	HeaderTableSize uint32
	// MaxFrameSize is SETTINGS_MAX_FRAME_SIZE: the largest frame payload
	// we accept; a larger frame is a FRAME_SIZE_ERROR. Default and
	// minimum 16384.
	MaxFrameSize uint32
	// InitialWindowSize is SETTINGS_INITIAL_WINDOW_SIZE: how many bytes of
	// request body a stream may send before we credit it (when the engine
	// calls Consumed). Default 65535.
	InitialWindowSize uint32
	// ConnWindowSize is the connection's receive window: the most request
	// body bytes of all streams together not yet Consumed. It bounds what
	// the engine may have to hold per connection. Default 1 MiB.
	ConnWindowSize uint32
	// MaxPrematureResets is how many streams the peer may reset before
	// their response ended, beyond as many as completed, before the
	// connection is closed with ENHANCE_YOUR_CALM (rapid reset,
	// CVE-2023-44487). Default 100.
	MaxPrematureResets int
	// MaxControlFrames is the burst of frames that cost work but carry no
	// request (PING, SETTINGS, PRIORITY, RST_STREAM, WINDOW_UPDATE, DATA
	// and CONTINUATION without payload, unknown types) the peer may send.
	// The budget refills by ControlFrameRate per second and by one per
	// DATA frame sent. Exhausted, the connection is closed with
	// ENHANCE_YOUR_CALM. Default 1000.
	MaxControlFrames int
	// ControlFrameRate is the refill rate of MaxControlFrames per second.
	// Default 1000.
	ControlFrameRate int
}

// Defaults (see Limits).
const (
	DefaultMaxConcurrentStreams = 100
	DefaultMaxHeaderListSize    = 32 << 10
	DefaultMaxHeaders           = 100
	DefaultConnWindowSize       = 1 << 20
	DefaultMaxPrematureResets   = 100
	DefaultMaxControlFrames     = 1000
	DefaultControlFrameRate     = 1000
)

// withDefaults fills zero fields and clamps the rest to what RFC 9113
// allows.
func (l Limits) withDefaults() Limits {
	if l.MaxConcurrentStreams == 0 {
		l.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if l.MaxHeaderListSize == 0 {
		l.MaxHeaderListSize = DefaultMaxHeaderListSize
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = DefaultMaxHeaders
	}
	if l.MaxHeaderBlock == 0 {
		l.MaxHeaderBlock = 2 * l.MaxHeaderListSize
	}
	if l.HeaderTableSize == 0 {
		l.HeaderTableSize = DefaultHeaderTableSize
	}
	l.MaxFrameSize = min(max(l.MaxFrameSize, MinMaxFrameSize), MaxMaxFrameSize)
	if l.InitialWindowSize == 0 {
		l.InitialWindowSize = DefaultWindow
	}
	l.InitialWindowSize = min(l.InitialWindowSize, MaxWindow)
	if l.ConnWindowSize == 0 {
		l.ConnWindowSize = DefaultConnWindowSize
	}
	l.ConnWindowSize = min(max(l.ConnWindowSize, DefaultWindow), MaxWindow)
	if l.MaxPrematureResets <= 0 {
		l.MaxPrematureResets = DefaultMaxPrematureResets
	}
	if l.MaxControlFrames <= 0 {
		l.MaxControlFrames = DefaultMaxControlFrames
	}
	if l.ControlFrameRate <= 0 {
		l.ControlFrameRate = DefaultControlFrameRate
	}
	return l
}
