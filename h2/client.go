package h2

import "encoding/binary"

// RequestTemplate is a request head encoded once, for a client that sends
// the same requests again and again (a load generator). On each connection
// its fields are sent as HPACK literals with incremental indexing the first
// time and as one-byte indexed fields after, as h2load (nghttp2) does, so
// that the server under test decodes what real clients make it decode.
type RequestTemplate struct {
	fields []templateField
	size   uint32 // dynamic table bytes its indexed fields take
	body   []byte
}

type templateField struct {
	static  uint8  // static table index of an exact match; 0 when none
	literal []byte // literal with incremental indexing (when static is 0)
	size    uint32 // entry size (RFC 7541 §4.1)
}

// NewRequestTemplate encodes a request head: the pseudo-header fields and
// header fields (names lowercased; connection-specific fields are the
// caller's to leave out), and the body to send after it (nil for none).
func NewRequestTemplate(method, scheme, authority, path string, header [][2]string, body []byte) *RequestTemplate {
	t := &RequestTemplate{body: body}
	add := func(name, value string) {
		n := []byte(lowerASCII(name))
		for i, e := range staticTable {
			if e[0] == string(n) && e[1] == value {
				t.fields = append(t.fields, templateField{static: uint8(i + 1)})
				return
			}
		}
		var lit []byte
		if i := staticNameIndex(n); i > 0 {
			lit = appendInt(nil, 6, 0x40, uint64(i))
		} else {
			lit = appendString([]byte{0x40}, n)
		}
		lit = appendString(lit, []byte(value))
		sz := uint32(len(n)+len(value)) + 32
		t.fields = append(t.fields, templateField{literal: lit, size: sz})
		t.size += sz
	}
	add(":method", method)
	if method != "CONNECT" {
		add(":scheme", scheme)
		add(":path", path)
	}
	add(":authority", authority)
	for _, h := range header {
		add(h[0], h[1])
	}
	return t
}

// Body is the request body sent after the head (nil for none).
func (t *RequestTemplate) Body() []byte { return t.body }

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ClientEventKind says what ClientConn.Feed found.
type ClientEventKind uint8

// Client events.
const (
	ClientNone   ClientEventKind = iota // need more bytes
	ClientDone                          // a response ended (END_STREAM): Stream, Tag, Status
	ClientReset                         // the server reset a stream (REFUSED_STREAM, ...): Stream, Tag, Code
	ClientGoAway                        // the server sends no more: streams above LastStream were not processed
	ClientClose                         // a connection error: Err; GOAWAY is in Output
)

// ClientEvent is what ClientConn.Feed returns, valid until the next Feed.
type ClientEvent struct {
	Kind       ClientEventKind
	Stream     uint32
	Tag        uint32 // the tag given to Open
	Status     int    // the final response's status
	Code       ErrCode
	LastStream uint32
	Err        Error

	// Proxy mode (InitProxy, proxy.go).
	Fields    []Field // ClientHeaders, ClientTrailers: views valid until the next Feed
	Data      []byte  // ClientData: a view of the input
	EndStream bool    // the response ended with this event
}

// ClientConn is the client side of an HTTP/2 connection over bytes, made
// for a load generator: it opens streams from RequestTemplates, frames and
// skips responses (bodies are counted against the windows and dropped,
// never copied), answers SETTINGS and PING and credits windows. It is
// owned by one event loop. The zero value is not ready: call Init.
type ClientConn struct {
	out       []byte
	templates []*RequestTemplate
	insertAt  [][]uint32 // per template field: the insertion number of its table entry, 0 when not inserted
	inserts   uint32     // entries inserted into the server's decoder table so far
	tableUsed uint32
	tableMax  uint32 // the server's SETTINGS_HEADER_TABLE_SIZE
	literal   bool   // templates do not fit the table: literals without indexing
	sizeZero  bool   // a dynamic table size update to 0 must open the next block

	nextID      uint32
	ids         []uint32 // active streams
	tags        []uint32
	status      []int
	maxStreams  uint32
	sendWindow  int64 // connection
	peerInit    int64 // the server's SETTINGS_INITIAL_WINDOW_SIZE
	peerFrame   int
	recvCredit  int64
	goAway      bool
	closed      bool
	gotSettings bool // the server's first SETTINGS arrived

	hbStream uint32
	hbEnd    bool
	hbBuf    []byte

	dec  decoder
	list fieldList
	ev   ClientEvent

	// Proxy mode (InitProxy, proxy.go).
	proxy    bool
	lim      ClientLimits
	ps       []proxyStream
	pidx     map[uint32]int32 // stream ID → index in ps (hundreds of streams may be open)
	enc      encoder
	hwStream uint32 // the stream whose head StartRequest began
	recvConn int64  // what the upstream may still send on the connection
	recvOwed int64  // consumed, not yet credited to the connection
}

// The client's receive windows: large, as h2load's, so that responses are
// credited rarely (what is received is dropped at once anyway).
const clientWindow = 1<<30 - 1

// Init resets c for a new connection that sends templates (the index given
// to Open), keeping its buffers. The preface, SETTINGS and the connection
// WINDOW_UPDATE are put in Output.
func (c *ClientConn) Init(templates []*RequestTemplate) {
	*c = ClientConn{
		out: c.out[:0], templates: templates, insertAt: c.insertAt, ids: c.ids[:0], tags: c.tags[:0],
		status: c.status[:0], hbBuf: c.hbBuf[:0], dec: decoder{scratch: c.dec.scratch[:0]}, list: c.list,
	}
	if len(c.insertAt) != len(templates) {
		c.insertAt = make([][]uint32, len(templates))
		for i, t := range templates {
			c.insertAt[i] = make([]uint32, len(t.fields))
		}
	} else {
		for _, a := range c.insertAt {
			clear(a)
		}
	}
	var total uint32
	for _, t := range templates {
		total += t.size
	}
	c.tableMax = DefaultHeaderTableSize
	c.literal = total > c.tableMax
	c.dec.init(DefaultHeaderTableSize)
	if c.list.fields == nil {
		c.list.fields = make([]Field, 0, 4)
		c.list.buf = make([]byte, 0, 256)
	}
	c.list.max = 256
	// One stream until the server's SETTINGS arrive: more could exceed its
	// SETTINGS_MAX_CONCURRENT_STREAMS and be refused.
	c.nextID, c.maxStreams = 1, 1
	c.sendWindow, c.peerInit, c.peerFrame = DefaultWindow, DefaultWindow, MinMaxFrameSize
	c.out = append(c.out, Preface...)
	var s [18]byte
	p := AppendSetting(s[:0], SettingEnablePush, 0)
	p = AppendSetting(p, SettingInitialWindowSize, clientWindow)
	p = AppendSetting(p, SettingMaxHeaderListSize, 1<<20)
	c.out = AppendFrameHeader(c.out, len(p), FrameSettings, 0, 0)
	c.out = append(c.out, p...)
	c.out = AppendWindowUpdate(c.out, 0, clientWindow-DefaultWindow)
}

// Output is what the connection has to send; ClearOutput once written.
func (c *ClientConn) Output() []byte { return c.out }

// ClearOutput empties Output.
func (c *ClientConn) ClearOutput() { c.out = c.out[:0] }

// InFlight is the number of streams open.
func (c *ClientConn) InFlight() int { return len(c.ids) }

// CanOpen reports whether a stream with a body of bodyLen bytes may be
// opened now: under the server's SETTINGS_MAX_CONCURRENT_STREAMS, within
// the send windows, before GOAWAY and stream IDs running out.
func (c *ClientConn) CanOpen(bodyLen int) bool {
	return !c.goAway && !c.closed && uint32(len(c.ids)) < c.maxStreams && c.nextID < 1<<31-1 &&
		int64(bodyLen) <= min(c.sendWindow, c.peerInit)
}

// Open sends template t as a new stream (check CanOpen first) and returns
// its stream ID; tag comes back in the stream's events.
func (c *ClientConn) Open(t int, tag uint32) uint32 {
	tp := c.templates[t]
	id := c.nextID
	c.nextID += 2
	// The header block is built in place after a frame header patched
	// once its length is known.
	h := len(c.out)
	c.out = AppendFrameHeader(c.out, 0, FrameHeaders, 0, id)
	b := len(c.out)
	if c.sizeZero {
		c.out = append(c.out, 0x20)
		c.sizeZero = false
	}
	at := c.insertAt[t]
	for i, f := range tp.fields {
		switch {
		case f.static != 0:
			c.out = append(c.out, 0x80|f.static)
		case c.literal:
			// Literal without indexing: the same bytes with a 4-bit
			// prefix of 0000 instead of 01 (RFC 7541 §6.2.2).
			c.out = appendLiteralNoIndex(c.out, f.literal)
		case at[i] == 0:
			c.out = append(c.out, f.literal...)
			c.inserts++
			at[i] = c.inserts
			c.tableUsed += f.size
		default:
			c.out = appendInt(c.out, 7, 0x80, uint64(len(staticTable))+uint64(c.inserts-at[i])+1)
		}
	}
	flags := FlagEndHeaders
	if len(tp.body) == 0 {
		flags |= FlagEndStream
	}
	n := len(c.out) - b
	c.out[h], c.out[h+1], c.out[h+2], c.out[h+4] = byte(n>>16), byte(n>>8), byte(n), flags
	for off := 0; off < len(tp.body); {
		k := min(len(tp.body)-off, c.peerFrame)
		c.out = AppendData(c.out, id, tp.body[off:off+k], off+k == len(tp.body))
		off += k
	}
	c.sendWindow -= int64(len(tp.body))
	c.ids = append(c.ids, id)
	c.tags = append(c.tags, tag)
	c.status = append(c.status, 0)
	return id
}

// appendLiteralNoIndex re-prefixes a literal-with-indexing representation
// as a literal without indexing.
func appendLiteralNoIndex(dst, lit []byte) []byte {
	idx, rest, _ := readInt(6, lit)
	return append(appendInt(dst, 4, 0, idx), rest...)
}

func (c *ClientConn) find(id uint32) int {
	for i, v := range c.ids {
		if v == id {
			return i
		}
	}
	return -1
}

func (c *ClientConn) end(i int, kind ClientEventKind, code ErrCode) {
	c.ev = ClientEvent{Kind: kind, Stream: c.ids[i], Tag: c.tags[i], Status: c.status[i], Code: code}
	last := len(c.ids) - 1
	c.ids[i], c.tags[i], c.status[i] = c.ids[last], c.tags[last], c.status[last]
	c.ids, c.tags, c.status = c.ids[:last], c.tags[:last], c.status[:last]
}

func (c *ClientConn) fail(e Error) {
	if !c.closed {
		c.out = AppendGoAway(c.out, 0, e.Code())
		c.closed = true
	}
	c.ev = ClientEvent{Kind: ClientClose, Err: e}
}

// Feed consumes complete frames from in until it has an event or needs
// more bytes, as ServerConn.Feed does; it returns the bytes consumed.
func (c *ClientConn) Feed(in []byte) (int, *ClientEvent) {
	c.ev = ClientEvent{}
	if c.closed {
		c.ev = ClientEvent{Kind: ClientClose, Err: ErrPeerGoAway}
		return len(in), &c.ev
	}
	n := 0
	for len(in)-n >= FrameHeaderLen {
		fh := ParseFrameHeader(in[n:])
		if fh.Length > MaxMaxFrameSize || fh.Length > 1<<20 {
			c.fail(ErrFrameSize)
			return len(in), &c.ev
		}
		end := n + FrameHeaderLen + int(fh.Length)
		if end > len(in) {
			break
		}
		c.frame(fh, in[n+FrameHeaderLen:end])
		n = end
		if c.ev.Kind != ClientNone {
			break
		}
	}
	return n, &c.ev
}

func (c *ClientConn) frame(fh FrameHeader, p []byte) {
	if c.hbStream != 0 && fh.Type != FrameContinuation {
		c.fail(ErrHeaderBlock)
		return
	}
	if c.proxy {
		switch fh.Type {
		case FrameData:
			c.proxyData(fh, p)
			return
		case FrameSettings:
			if fh.Flags&FlagAck == 0 {
				c.proxySettings(p)
			}
			return
		case FrameWindowUpdate:
			c.proxyWindow(fh, p)
			return
		case FrameRSTStream:
			if i := c.pfind(fh.StreamID); i >= 0 && len(p) == 4 {
				s := c.ps[i]
				c.premove(i)
				c.pevent(ClientReset, &s)
				c.ev.Code = ErrCode(binary.BigEndian.Uint32(p))
			}
			return
		case FramePing:
			if fh.Flags&FlagAck != 0 {
				c.ev = ClientEvent{Kind: ClientPong}
				return
			}
		}
	}
	switch fh.Type {
	case FrameData:
		c.credit(int64(len(p)))
		if fh.Flags&FlagEndStream != 0 {
			if i := c.find(fh.StreamID); i >= 0 {
				c.end(i, ClientDone, CodeNo)
			}
		}
	case FrameHeaders:
		frag, ok := payload(fh, p)
		if !ok {
			c.fail(ErrPadding)
			return
		}
		if fh.Flags&FlagPriority != 0 && len(frag) >= 5 {
			frag = frag[5:]
		}
		c.hbEnd = fh.Flags&FlagEndStream != 0
		if fh.Flags&FlagEndHeaders != 0 {
			c.block(fh.StreamID, frag)
			return
		}
		c.hbStream = fh.StreamID
		c.hbBuf = append(c.hbBuf[:0], frag...)
	case FrameContinuation:
		if fh.StreamID != c.hbStream || c.hbStream == 0 || len(c.hbBuf)+len(p) > 1<<20 {
			c.fail(ErrHeaderBlock)
			return
		}
		c.hbBuf = append(c.hbBuf, p...)
		if fh.Flags&FlagEndHeaders != 0 {
			id := c.hbStream
			c.hbStream = 0
			c.block(id, c.hbBuf)
		}
	case FrameRSTStream:
		if i := c.find(fh.StreamID); i >= 0 && len(p) == 4 {
			c.end(i, ClientReset, ErrCode(binary.BigEndian.Uint32(p)))
		}
	case FrameSettings:
		if fh.Flags&FlagAck != 0 {
			return
		}
		c.settings(p)
	case FramePing:
		if fh.Flags&FlagAck == 0 && len(p) == 8 {
			c.out = AppendPing(c.out, true, [8]byte(p))
		}
	case FrameGoAway:
		if len(p) >= 8 {
			c.goAway = true
			c.ev = ClientEvent{Kind: ClientGoAway, LastStream: binary.BigEndian.Uint32(p) & (1<<31 - 1),
				Code: ErrCode(binary.BigEndian.Uint32(p[4:]))}
		}
	case FrameWindowUpdate:
		if len(p) == 4 && fh.StreamID == 0 {
			c.sendWindow += int64(binary.BigEndian.Uint32(p) & (1<<31 - 1))
		}
	case FramePushPromise:
		c.fail(ErrPushPromise) // we sent ENABLE_PUSH 0
	}
}

// credit counts n received bytes and sends WINDOW_UPDATE for the
// connection once half the window is used. Streams get none: a response
// larger than the stream window (1 GiB) is not what a load test fetches.
func (c *ClientConn) credit(n int64) {
	c.recvCredit += n
	if c.recvCredit >= clientWindow/2 {
		c.out = AppendWindowUpdate(c.out, 0, uint32(c.recvCredit))
		c.recvCredit = 0
	}
}

func (c *ClientConn) block(id uint32, block []byte) {
	if c.proxy {
		c.proxyBlock(id, block, c.hbEnd)
		return
	}
	c.list.reset(false)
	if err := c.dec.decode(block, &c.list); err != nil {
		c.fail(ErrCompression)
		return
	}
	i := c.find(id)
	if i < 0 {
		return
	}
	if len(c.list.fields) > 0 && string(c.list.fields[0].Name) == ":status" {
		v := c.list.fields[0].Value
		st := 0
		for _, d := range v {
			st = st*10 + int(d-'0')
		}
		if st >= 200 || c.status[i] == 0 && st < 100 {
			c.status[i] = st
		} else if st >= 100 && st < 200 {
			return // interim: the final head follows
		}
	}
	if c.hbEnd {
		c.end(i, ClientDone, CodeNo)
	}
}

func (c *ClientConn) settings(p []byte) {
	if !c.gotSettings {
		c.gotSettings = true
		c.maxStreams = 1<<31 - 1 // unlimited unless the SETTINGS say (RFC 9113 §6.5.2)
	}
	for ; len(p) >= 6; p = p[6:] {
		v := binary.BigEndian.Uint32(p[2:])
		switch binary.BigEndian.Uint16(p) {
		case SettingMaxConcurrentStreams:
			c.maxStreams = v
		case SettingInitialWindowSize:
			c.peerInit = int64(v)
		case SettingMaxFrameSize:
			c.peerFrame = int(min(max(v, MinMaxFrameSize), MaxMaxFrameSize))
		case SettingHeaderTableSize:
			c.tableMax = v
			if !c.literal && c.tableUsed+c.unsentSize() > v {
				// The templates no longer fit: literals from now on,
				// and the table emptied (RFC 7541 §4.2).
				c.literal, c.sizeZero = true, true
			}
		}
	}
	c.out = AppendSettingsAck(c.out)
}

// unsentSize is what the templates not yet sent will insert.
func (c *ClientConn) unsentSize() uint32 {
	var n uint32
	for t, tp := range c.templates {
		for i, f := range tp.fields {
			if f.static == 0 && c.insertAt[t][i] == 0 {
				n += f.size
			}
		}
	}
	return n
}
