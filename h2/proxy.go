package h2

import "encoding/binary"

// A ClientConn in proxy mode (InitProxy) is a gateway's HTTP/2 connection
// to an upstream: it carries arbitrary requests (StartRequest,
// RequestField, EndRequest, WriteData), hands every response head, DATA
// payload and trailer section to the engine as events, and keeps flow
// control in both directions: what it sends waits for the upstream's
// windows (WriteData says how much it took), what it receives is credited
// back only when the engine calls Consumed, so that a stream whose client
// reads slowly closes that stream's window instead of filling memory.
// Like the rest of the package it keeps no timer and starts no goroutine:
// the engine drives it from its event loop, writes Output once per batch of
// events, and times PINGs and deadlines itself.

// ClientLimits bound a proxy-mode connection. The zero value takes every
// default.
type ClientLimits struct {
	// StreamWindow is the receive window of each stream
	// (SETTINGS_INITIAL_WINDOW_SIZE): what the upstream may send on a
	// stream beyond what the engine consumed. Default 256 KiB.
	StreamWindow uint32
	// ConnWindow is the connection's receive window, shared by its
	// streams. Default 4 MiB.
	ConnWindow uint32
	// MaxHeaderList bounds a response head or trailer section (name +
	// value + 32 per field, RFC 9113 §6.5.2). Default 64 KiB.
	MaxHeaderList uint32
	// MaxFields bounds the fields of one head. Default 256.
	MaxFields int
}

func (l ClientLimits) withDefaults() ClientLimits {
	if l.StreamWindow == 0 {
		l.StreamWindow = 256 << 10
	}
	if l.ConnWindow == 0 {
		l.ConnWindow = 4 << 20
	}
	if l.MaxHeaderList == 0 {
		l.MaxHeaderList = 64 << 10
	}
	if l.MaxFields == 0 {
		l.MaxFields = 256
	}
	return l
}

// Proxy-mode events (ClientEvent.Kind), besides ClientReset, ClientGoAway
// and ClientClose.
const (
	ClientHeaders  ClientEventKind = iota + 16 // a response head: Status (1xx for an interim one), Fields, EndStream
	ClientData                                 // body bytes: Data (a view of the input), EndStream; Consumed once passed on
	ClientTrailers                             // the trailer section: Fields; the stream has ended
	ClientWritable                             // a send window grew: Stream (0: the connection's) may take more DATA
	ClientSettings                             // the upstream's SETTINGS arrived: MaxStreams may have changed
	ClientPong                                 // the upstream acknowledged a Ping
)

// proxyStream is one stream of a proxy-mode connection.
type proxyStream struct {
	id, tag    uint32
	sendWindow int64 // what we may send
	recvWindow int64 // what the upstream may still send
	owed       int64 // consumed, not yet credited
	headDone   bool  // the final head arrived
	endSent    bool
	endRecv    bool
}

// InitProxy resets c for a new proxy-mode connection, keeping its buffers.
// The preface, SETTINGS and the connection WINDOW_UPDATE are put in Output.
func (c *ClientConn) InitProxy(lim ClientLimits) {
	lim = lim.withDefaults()
	*c = ClientConn{
		out: c.out[:0], hbBuf: c.hbBuf[:0], dec: decoder{scratch: c.dec.scratch[:0]}, list: c.list,
		ps: c.ps[:0], enc: c.enc, proxy: true, lim: lim, pidx: c.pidx,
	}
	if c.pidx == nil {
		c.pidx = make(map[uint32]int32)
	}
	clear(c.pidx)
	c.dec.init(DefaultHeaderTableSize)
	if cap(c.list.fields) < lim.MaxFields || cap(c.list.buf) < int(lim.MaxHeaderList) {
		c.list.fields = make([]Field, 0, lim.MaxFields)
		c.list.buf = make([]byte, 0, lim.MaxHeaderList)
	}
	c.list.max = int(lim.MaxHeaderList)
	// Until the upstream's SETTINGS arrive: RFC 9113 §6.5.2 says no limit,
	// but 100 is what servers advertise and what RFC 9113 §5.1.2 asks
	// them to allow at least.
	c.nextID, c.maxStreams = 1, 100
	c.sendWindow, c.peerInit, c.peerFrame = DefaultWindow, DefaultWindow, MinMaxFrameSize
	c.recvConn = int64(lim.ConnWindow)
	c.out = append(c.out, Preface...)
	var s [18]byte
	p := AppendSetting(s[:0], SettingEnablePush, 0)
	p = AppendSetting(p, SettingInitialWindowSize, lim.StreamWindow)
	p = AppendSetting(p, SettingMaxHeaderListSize, lim.MaxHeaderList)
	c.out = AppendFrameHeader(c.out, len(p), FrameSettings, 0, 0)
	c.out = append(c.out, p...)
	if lim.ConnWindow > DefaultWindow {
		c.out = AppendWindowUpdate(c.out, 0, lim.ConnWindow-DefaultWindow)
	}
}

// CanStart reports whether a new stream may be started now: under the
// upstream's SETTINGS_MAX_CONCURRENT_STREAMS, before any GOAWAY, with
// stream identifiers left.
func (c *ClientConn) CanStart() bool {
	return !c.goAway && !c.closed && uint32(len(c.ps)) < c.maxStreams && c.nextID < 1<<31-1
}

// MaxStreams is the upstream's SETTINGS_MAX_CONCURRENT_STREAMS (100 until
// its SETTINGS arrive).
func (c *ClientConn) MaxStreams() uint32 { return c.maxStreams }

// Streams is the number of open streams (proxy mode).
func (c *ClientConn) Streams() int { return len(c.ps) }

// GotSettings reports that the upstream's first SETTINGS arrived.
func (c *ClientConn) GotSettings() bool { return c.gotSettings }

// GoingAway reports that the upstream sent GOAWAY or the connection failed:
// no new stream may start.
func (c *ClientConn) GoingAway() bool { return c.goAway || c.closed }

// Closed reports a connection error: write Output and close.
func (c *ClientConn) Closed() bool { return c.closed }

func (c *ClientConn) pfind(id uint32) int {
	if i, ok := c.pidx[id]; ok {
		return int(i)
	}
	return -1
}

// StartRequest begins the head of a new stream (check CanStart first) and
// returns its identifier; tag comes back in its events. Add fields with
// RequestField, then EndRequest.
func (c *ClientConn) StartRequest(tag uint32, method, scheme, authority, path []byte) uint32 {
	id := c.nextID
	c.nextID += 2
	c.pidx[id] = int32(len(c.ps))
	c.ps = append(c.ps, proxyStream{id: id, tag: tag, sendWindow: c.peerInit, recvWindow: int64(c.lim.StreamWindow)})
	e := &c.enc
	e.reset()
	switch string(method) {
	case "GET":
		e.buf = append(e.buf, 0x80|2)
	case "POST":
		e.buf = append(e.buf, 0x80|3)
	default:
		e.field(viewBytes(":method"), method)
	}
	switch string(scheme) {
	case "http":
		e.buf = append(e.buf, 0x80|6)
	case "https":
		e.buf = append(e.buf, 0x80|7)
	default:
		e.field(viewBytes(":scheme"), scheme)
	}
	if string(path) == "/" {
		e.buf = append(e.buf, 0x80|4)
	} else {
		e.field(viewBytes(":path"), path)
	}
	e.field(viewBytes(":authority"), authority)
	c.hwStream = id
	return id
}

// RequestField adds a field to the head begun by StartRequest. The name is
// folded to lowercase; connection-specific fields (RFC 9113 §8.2.2),
// Host (the :authority) and TE other than "trailers" are dropped.
func (c *ClientConn) RequestField(name, value []byte) {
	if c.hwStream == 0 || len(name) == 0 || name[0] == ':' {
		return
	}
	e := &c.enc
	lower := e.lower[:0]
	for _, b := range name {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		lower = append(lower, b)
	}
	e.lower = lower
	switch string(lower) {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host":
		return
	case "te":
		if !equalFold(value, viewBytes("trailers")) {
			return
		}
	}
	e.field(lower, value)
}

// EndRequest appends the head as HEADERS (and CONTINUATION) frames;
// endStream says the request has no body.
func (c *ClientConn) EndRequest(endStream bool) {
	id := c.hwStream
	c.hwStream = 0
	i := c.pfind(id)
	if i < 0 {
		return
	}
	c.out = AppendHeaders(c.out, id, c.enc.buf, endStream, c.peerFrame)
	if endStream {
		c.ps[i].endSent = true
	}
}

// StartTrailers begins the trailer section of stream id's request (RFC
// 9113 §8.1): add fields with RequestField, then EndRequest(true) appends
// them as HEADERS that end the stream. Call it once all the request's DATA
// is taken (trailers are not flow-controlled, but they must follow the
// data). It reports false when the stream is not open or has ended.
func (c *ClientConn) StartTrailers(id uint32) bool {
	i := c.pfind(id)
	if i < 0 || c.closed || c.ps[i].endSent {
		return false
	}
	c.enc.reset()
	c.hwStream = id
	return true
}

// WriteData appends DATA frames with as much of p as the stream's and the
// connection's send windows allow and returns how many bytes it took; the
// rest waits for ClientWritable. endStream ends the request once all of p
// is taken (an empty p with endStream is always taken).
func (c *ClientConn) WriteData(id uint32, p []byte, endStream bool) (int, error) {
	i := c.pfind(id)
	if i < 0 || c.closed {
		return 0, ErrStreamGone
	}
	s := &c.ps[i]
	if s.endSent {
		return 0, ErrHeadState
	}
	take := min(int64(len(p)), max(min(s.sendWindow, c.sendWindow), 0))
	last := endStream && take == int64(len(p))
	for off := int64(0); off < take; {
		n := min(take-off, int64(c.peerFrame))
		c.out = AppendData(c.out, id, p[off:off+n], last && off+n == take)
		off += n
	}
	if len(p) == 0 && endStream {
		c.out = AppendData(c.out, id, nil, true)
	}
	s.sendWindow -= take
	c.sendWindow -= take
	if last {
		s.endSent = true
		c.maybeDrop(i)
	}
	return int(take), nil
}

// SendWindow is what stream id may send now (the smaller of its window and
// the connection's); 0 for a stream that is not open.
func (c *ClientConn) SendWindow(id uint32) int {
	i := c.pfind(id)
	if i < 0 {
		return 0
	}
	return int(max(min(c.ps[i].sendWindow, c.sendWindow), 0))
}

// Consumed credits n bytes of stream id's DATA that the engine passed on:
// WINDOW_UPDATE frames go out once half a window is owed.
func (c *ClientConn) Consumed(id uint32, n int) {
	if n <= 0 || c.closed {
		return
	}
	c.creditConn(int64(n))
	i := c.pfind(id)
	if i < 0 {
		return
	}
	s := &c.ps[i]
	if s.endRecv {
		return // nothing more comes on it
	}
	s.owed += int64(n)
	if s.owed >= int64(c.lim.StreamWindow)/2 {
		c.out = AppendWindowUpdate(c.out, id, uint32(s.owed))
		s.recvWindow += s.owed
		s.owed = 0
	}
}

func (c *ClientConn) creditConn(n int64) {
	c.recvOwed += n
	if c.recvOwed >= int64(c.lim.ConnWindow)/2 {
		c.out = AppendWindowUpdate(c.out, 0, uint32(c.recvOwed))
		c.recvConn += c.recvOwed
		c.recvOwed = 0
	}
}

// Reset ends stream id with RST_STREAM and code (CANCEL when the client
// went away). A stream that is not open is left alone.
func (c *ClientConn) Reset(id uint32, code ErrCode) {
	i := c.pfind(id)
	if i < 0 || c.closed {
		return
	}
	c.out = AppendRSTStream(c.out, id, code)
	c.premove(i)
}

// Ping appends a PING carrying data; ClientPong comes back with it.
func (c *ClientConn) Ping(data [8]byte) {
	if !c.closed {
		c.out = AppendPing(c.out, false, data)
	}
}

// GoAway sends GOAWAY (NO_ERROR: the gateway opens no more streams) and
// fails the connection.
func (c *ClientConn) GoAway() {
	if !c.closed {
		c.out = AppendGoAway(c.out, 0, CodeNo)
		c.closed = true
	}
}

func (c *ClientConn) premove(i int) {
	last := len(c.ps) - 1
	delete(c.pidx, c.ps[i].id)
	if i != last {
		c.ps[i] = c.ps[last]
		c.pidx[c.ps[i].id] = int32(i)
	}
	c.ps = c.ps[:last]
}

// maybeDrop forgets stream i once both sides ended it.
func (c *ClientConn) maybeDrop(i int) {
	if s := &c.ps[i]; s.endSent && s.endRecv {
		c.premove(i)
	}
}

func (c *ClientConn) pevent(kind ClientEventKind, s *proxyStream) {
	c.ev = ClientEvent{Kind: kind, Stream: s.id, Tag: s.tag}
}

// proxyData handles a DATA frame in proxy mode.
func (c *ClientConn) proxyData(fh FrameHeader, p []byte) {
	if fh.StreamID == 0 {
		c.fail(ErrStreamZero)
		return
	}
	n := int64(fh.Length)
	if n > c.recvConn {
		c.fail(ErrFlowControl)
		return
	}
	c.recvConn -= n
	data, ok := payload(fh, p)
	if !ok {
		c.fail(ErrPadding)
		return
	}
	i := c.pfind(fh.StreamID)
	if i < 0 {
		c.creditConn(n) // a stream we reset: nobody takes it
		return
	}
	s := &c.ps[i]
	if !s.headDone || s.endRecv {
		c.streamReset(i, CodeProtocol)
		c.creditConn(n)
		return
	}
	if n > s.recvWindow {
		c.streamReset(i, CodeFlowControl)
		c.creditConn(n)
		return
	}
	s.recvWindow -= n
	if pad := n - int64(len(data)); pad > 0 {
		c.creditConn(pad)
		s.owed += pad
	}
	end := fh.Flags&FlagEndStream != 0
	c.pevent(ClientData, s)
	c.ev.Data, c.ev.EndStream = data, end
	if end {
		s.endRecv = true
		c.maybeDrop(i)
	}
}

// streamReset resets a stream the upstream broke the protocol on and
// reports it as ClientReset.
func (c *ClientConn) streamReset(i int, code ErrCode) {
	s := c.ps[i]
	c.out = AppendRSTStream(c.out, s.id, code)
	c.premove(i)
	c.pevent(ClientReset, &s)
	c.ev.Code = code
}

// proxyBlock handles a complete header block in proxy mode.
func (c *ClientConn) proxyBlock(id uint32, block []byte, end bool) {
	c.list.reset(false)
	if err := c.dec.decode(block, &c.list); err != nil {
		c.fail(ErrCompression)
		return
	}
	i := c.pfind(id)
	if i < 0 {
		return // a stream we reset: decoded to keep the table in step
	}
	s := &c.ps[i]
	if c.list.over {
		c.streamReset(i, CodeProtocol) // the gateway's limit; the engine answers 502
		return
	}
	if s.endRecv {
		c.streamReset(i, CodeProtocol)
		return
	}
	fields := c.list.fields
	if s.headDone {
		// Trailers: no pseudo-header fields, and they end the stream.
		if !end {
			c.streamReset(i, CodeProtocol)
			return
		}
		for _, f := range fields {
			if len(f.Name) > 0 && f.Name[0] == ':' {
				c.streamReset(i, CodeProtocol)
				return
			}
		}
		s.endRecv = true
		c.pevent(ClientTrailers, s)
		c.ev.Fields, c.ev.EndStream = fields, true
		c.maybeDrop(i)
		return
	}
	if len(fields) == 0 || string(fields[0].Name) != ":status" || len(fields[0].Value) != 3 {
		c.streamReset(i, CodeProtocol)
		return
	}
	st := 0
	for _, d := range fields[0].Value {
		if d < '0' || d > '9' {
			c.streamReset(i, CodeProtocol)
			return
		}
		st = st*10 + int(d-'0')
	}
	for _, f := range fields[1:] {
		if len(f.Name) > 0 && f.Name[0] == ':' {
			c.streamReset(i, CodeProtocol)
			return
		}
	}
	if st < 100 || st == 101 || (st < 200 && end) {
		c.streamReset(i, CodeProtocol)
		return
	}
	c.pevent(ClientHeaders, s)
	c.ev.Status, c.ev.Fields, c.ev.EndStream = st, fields[1:], end
	if st >= 200 {
		s.headDone = true
		if end {
			s.endRecv = true
			c.maybeDrop(i)
		}
	}
}

// proxyWindow handles WINDOW_UPDATE in proxy mode.
func (c *ClientConn) proxyWindow(fh FrameHeader, p []byte) {
	if len(p) != 4 {
		c.fail(ErrFrameSize)
		return
	}
	incr := int64(binary.BigEndian.Uint32(p) & (1<<31 - 1))
	if fh.StreamID == 0 {
		if incr == 0 {
			c.fail(ErrWindowZero)
			return
		}
		c.sendWindow += incr
		if c.sendWindow > 1<<31-1 {
			c.fail(ErrWindowOverflow)
			return
		}
		c.ev = ClientEvent{Kind: ClientWritable}
		return
	}
	i := c.pfind(fh.StreamID)
	if i < 0 {
		return
	}
	s := &c.ps[i]
	if incr == 0 {
		c.streamReset(i, CodeProtocol)
		return
	}
	s.sendWindow += incr
	if s.sendWindow > 1<<31-1 {
		c.streamReset(i, CodeFlowControl)
		return
	}
	c.pevent(ClientWritable, s)
}

// proxySettings applies the upstream's SETTINGS in proxy mode.
func (c *ClientConn) proxySettings(p []byte) {
	if len(p)%6 != 0 {
		c.fail(ErrFrameSize)
		return
	}
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
			if v > 1<<31-1 {
				c.fail(ErrSettings)
				return
			}
			delta := int64(v) - c.peerInit
			for i := range c.ps {
				c.ps[i].sendWindow += delta // RFC 9113 §6.9.2
			}
			c.peerInit = int64(v)
		case SettingMaxFrameSize:
			if v < MinMaxFrameSize || v > MaxMaxFrameSize {
				c.fail(ErrSettings)
				return
			}
			c.peerFrame = int(v)
		}
	}
	c.out = AppendSettingsAck(c.out)
	c.ev = ClientEvent{Kind: ClientSettings}
}
