package h2

import "encoding/binary"

// FrameType is the type octet of a frame header (RFC 9113 §6).
type FrameType uint8

// Frame types (RFC 9113 §6).
const (
	FrameData         FrameType = 0x0
	FrameHeaders      FrameType = 0x1
	FramePriority     FrameType = 0x2
	FrameRSTStream    FrameType = 0x3
	FrameSettings     FrameType = 0x4
	FramePushPromise  FrameType = 0x5
	FramePing         FrameType = 0x6
	FrameGoAway       FrameType = 0x7
	FrameWindowUpdate FrameType = 0x8
	FrameContinuation FrameType = 0x9
)

// Frame flags (RFC 9113 §6). ACK shares END_STREAM's bit on SETTINGS and PING.
const (
	FlagEndStream  uint8 = 0x1
	FlagAck        uint8 = 0x1
	FlagEndHeaders uint8 = 0x4
	FlagPadded     uint8 = 0x8
	FlagPriority   uint8 = 0x20
)

// SETTINGS parameters (RFC 9113 §6.5.2).
const (
	SettingHeaderTableSize      uint16 = 0x1
	SettingEnablePush           uint16 = 0x2
	SettingMaxConcurrentStreams uint16 = 0x3
	SettingInitialWindowSize    uint16 = 0x4
	SettingMaxFrameSize         uint16 = 0x5
	SettingMaxHeaderListSize    uint16 = 0x6
)

// Protocol constants.
const (
	// Preface is the client connection preface (RFC 9113 §3.4); a SETTINGS
	// frame follows it.
	Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	// FrameHeaderLen is the size of every frame header (§4.1).
	FrameHeaderLen = 9
	// MinMaxFrameSize is the initial and smallest SETTINGS_MAX_FRAME_SIZE,
	// MaxMaxFrameSize the largest (§6.5.2).
	MinMaxFrameSize = 1 << 14
	MaxMaxFrameSize = 1<<24 - 1
	// DefaultWindow is the initial flow-control window of every stream and
	// of the connection (§6.9.2).
	DefaultWindow = 65535
	// MaxWindow is the largest flow-control window (§6.9.1).
	MaxWindow = 1<<31 - 1
	// DefaultHeaderTableSize is HPACK's initial dynamic table size
	// (SETTINGS_HEADER_TABLE_SIZE, RFC 7541 §4.2).
	DefaultHeaderTableSize = 4096
)

// FrameHeader is a parsed frame header (RFC 9113 §4.1). The reserved bit of
// the stream identifier is ignored, as §4.1 requires.
type FrameHeader struct {
	Length   uint32
	Type     FrameType
	Flags    uint8
	StreamID uint32
}

// ParseFrameHeader reads the 9-octet frame header at the start of b, which
// must hold at least FrameHeaderLen bytes.
func ParseFrameHeader(b []byte) FrameHeader {
	_ = b[8]
	return FrameHeader{
		Length:   uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		Type:     FrameType(b[3]),
		Flags:    b[4],
		StreamID: binary.BigEndian.Uint32(b[5:]) & (1<<31 - 1),
	}
}

// AppendFrameHeader appends a frame header.
func AppendFrameHeader(dst []byte, length int, t FrameType, flags uint8, stream uint32) []byte {
	return append(dst, byte(length>>16), byte(length>>8), byte(length), byte(t), flags,
		byte(stream>>24), byte(stream>>16), byte(stream>>8), byte(stream))
}

// AppendData appends one DATA frame carrying p (at most the peer's
// SETTINGS_MAX_FRAME_SIZE bytes: the caller splits).
func AppendData(dst []byte, stream uint32, p []byte, endStream bool) []byte {
	var f uint8
	if endStream {
		f = FlagEndStream
	}
	dst = AppendFrameHeader(dst, len(p), FrameData, f, stream)
	return append(dst, p...)
}

// AppendSetting appends one SETTINGS parameter (6 octets) to a SETTINGS
// payload.
func AppendSetting(dst []byte, id uint16, v uint32) []byte {
	return append(dst, byte(id>>8), byte(id), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// AppendSettingsAck appends an empty SETTINGS frame with ACK.
func AppendSettingsAck(dst []byte) []byte {
	return AppendFrameHeader(dst, 0, FrameSettings, FlagAck, 0)
}

// AppendPing appends a PING frame.
func AppendPing(dst []byte, ack bool, data [8]byte) []byte {
	var f uint8
	if ack {
		f = FlagAck
	}
	dst = AppendFrameHeader(dst, 8, FramePing, f, 0)
	return append(dst, data[:]...)
}

// AppendWindowUpdate appends a WINDOW_UPDATE frame; stream 0 is the
// connection's window.
func AppendWindowUpdate(dst []byte, stream uint32, incr uint32) []byte {
	dst = AppendFrameHeader(dst, 4, FrameWindowUpdate, 0, stream)
	return binary.BigEndian.AppendUint32(dst, incr&(1<<31-1))
}

// AppendRSTStream appends a RST_STREAM frame.
func AppendRSTStream(dst []byte, stream uint32, code ErrCode) []byte {
	dst = AppendFrameHeader(dst, 4, FrameRSTStream, 0, stream)
	return binary.BigEndian.AppendUint32(dst, uint32(code))
}

// AppendGoAway appends a GOAWAY frame without debug data.
func AppendGoAway(dst []byte, lastStream uint32, code ErrCode) []byte {
	dst = AppendFrameHeader(dst, 8, FrameGoAway, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, lastStream&(1<<31-1))
	return binary.BigEndian.AppendUint32(dst, uint32(code))
}

// AppendHeaders appends a header block as a HEADERS frame followed by as
// many CONTINUATION frames as maxFrame (the peer's SETTINGS_MAX_FRAME_SIZE)
// requires. RFC 9113 §4.3: nothing may come between them, so they are
// appended together.
func AppendHeaders(dst []byte, stream uint32, block []byte, endStream bool, maxFrame int) []byte {
	t := FrameHeaders
	var f uint8
	if endStream {
		f = FlagEndStream
	}
	for {
		n := min(len(block), maxFrame)
		ff := f
		if n == len(block) {
			ff |= FlagEndHeaders
		}
		dst = AppendFrameHeader(dst, n, t, ff, stream)
		dst = append(dst, block[:n]...)
		block = block[n:]
		if len(block) == 0 {
			return dst
		}
		t, f = FrameContinuation, 0
	}
}
