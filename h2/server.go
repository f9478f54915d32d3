package h2

import "encoding/binary"

// EventKind says what Feed found.
type EventKind uint8

// Events, in the order a stream usually meets them.
const (
	// EventNone: the input holds no further complete frame; call Feed
	// again with more bytes (after Discard of what was consumed).
	EventNone EventKind = iota
	// EventRequest: a new stream with a valid request head (Request).
	// EndStream is set when no body follows.
	EventRequest
	// EventData: request body bytes (Data, a view of the input) for
	// Stream; EndStream on the last. Call Consumed(Stream, len) once they
	// are passed on, which credits the peer's windows.
	EventData
	// EventTrailers: the request's trailer fields (Request.Fields); the
	// request is complete.
	EventTrailers
	// EventReset: the stream is gone (the peer reset it, Remote, or the
	// connection did on a stream error, with Code). Abort its exchange;
	// write nothing more on it.
	EventReset
	// EventWritable: a stream whose last WriteData was cut short by a
	// flow-control window may send again.
	EventWritable
	// EventGoAway: the peer sent GOAWAY (LastStream, Code): it opens no
	// new stream; finish the streams in flight, then close.
	EventGoAway
	// EventClose: the connection failed (Err); a GOAWAY is in Output.
	// Write Output, then close. Every later Feed returns EventClose.
	EventClose
)

// Event is what Feed returns. It is owned by the ServerConn and valid until
// the next Feed.
type Event struct {
	Kind      EventKind
	Stream    uint32
	EndStream bool
	// Data is the payload of EventData, a view of the input given to Feed.
	Data []byte
	// Request is the request head of EventRequest and the trailer fields
	// of EventTrailers; its slices are views of the connection's decode
	// buffer, valid until the next Feed.
	Request *Request
	// Code is the error code of EventReset and EventGoAway (and of the
	// GOAWAY sent with EventClose).
	Code ErrCode
	// Remote: EventReset came from the peer's RST_STREAM.
	Remote bool
	// LastStream is the peer's last stream ID of EventGoAway.
	LastStream uint32
	// Err is why the connection ends, with EventClose.
	Err Error
}

// Connection states.
const (
	connPreface  uint8 = iota // waiting for the client preface
	connSettings              // waiting for the client's first SETTINGS
	connOpen
	connClosed
)

// Kinds of header block being gathered.
const (
	blockRequest  uint8 = iota + 1 // a new stream's request head
	blockTrailers                  // an open stream's trailers
	blockRefuse                    // decode to keep HPACK in sync, then RST_STREAM with blockCode
	blockIgnore                    // decode to keep HPACK in sync, then nothing
)

// ServerConn is the server side of one HTTP/2 connection over bytes: no
// sockets, no goroutines. It is owned by one event loop and is not safe for
// concurrent use. Create it with NewServerConn; Feed it the bytes that
// arrive, handle the events it returns, answer with the Write methods and
// write Output to the socket once per loop batch.
type ServerConn struct {
	lim   Limits
	out   []byte
	state uint8
	err   Error
	now   int64

	// The peer's settings that matter to a server.
	peerMaxFrame   uint32
	peerInitWindow int64
	settingsAcked  bool  // the peer acknowledged our SETTINGS
	settingsSentAt int64 // when our SETTINGS went out

	sendWindow int64 // connection window for what we send
	// sendWindowHigh is the largest sendWindow has been: an update that
	// stays under it returns credit (windowUpdate).
	sendWindowHigh int64
	recvWindow     int64 // connection window for what the peer sends
	recvCredit     int64 // consumed, not yet announced with WINDOW_UPDATE

	streams       streamTable
	recent        recentClosed
	lastPeer      uint32 // highest stream ID the peer used
	lastProcessed uint32 // highest stream ID handed to the engine
	goAway        bool   // we sent GOAWAY: new streams are ignored
	peerGoAway    bool
	idleSince     int64

	// The header block being gathered across CONTINUATION frames.
	hbStream uint32
	hbKind   uint8
	hbEnd    bool // the HEADERS frame had END_STREAM
	hbCode   ErrCode
	hbBuf    []byte
	hbLen    int

	dec  decoder
	req  Request
	bufs *Buffers // &own, or a loop's shared Buffers (SetBuffers)
	own  Buffers

	notify []uint32 // streams to report EventWritable for

	// Abuse accounting.
	premature int   // streams reset by the peer before their response ended
	completed int   // streams whose response ended
	tokens    int64 // control-frame budget, in thousandths of a frame
	tokensAt  int64

	// The response head being written (StartHeaders .. EndHeaders).
	hw struct {
		stream   uint32
		trailers bool
		final    bool
		active   bool
	}

	ev Event
}

// NewServerConn returns a connection with limits lim (zero fields take
// their defaults) whose SETTINGS, and the WINDOW_UPDATE that opens the
// connection window to Limits.ConnWindowSize, are already in Output (RFC
// 9113 §3.4: the server preface may be sent before the client's arrives).
// now is the loop's clock in nanoseconds.
func NewServerConn(lim Limits, now int64) *ServerConn {
	c := &ServerConn{}
	c.Init(lim, now)
	return c
}

// Init resets c for a new connection, keeping its buffers (for a per-loop
// free list), as NewServerConn does.
func (c *ServerConn) Init(lim Limits, now int64) {
	keep := *c
	*c = ServerConn{}
	c.lim = lim.withDefaults()
	c.out = keep.out[:0]
	c.hbBuf = keep.hbBuf[:0]
	c.streams = streamTable{ids: keep.streams.ids[:0], s: keep.streams.s[:0]}
	c.notify = keep.notify[:0]
	c.dec = decoder{scratch: keep.dec.scratch[:0]}
	c.dec.init(c.lim.HeaderTableSize)
	c.own = Buffers{list: fieldList{buf: keep.own.list.buf[:0], fields: keep.own.list.fields[:0]}, enc: encoder{buf: keep.own.enc.buf[:0]}}
	c.bufs = &c.own
	c.peerMaxFrame = MinMaxFrameSize
	c.peerInitWindow = DefaultWindow
	c.sendWindow, c.sendWindowHigh = DefaultWindow, DefaultWindow
	c.recvWindow = int64(c.lim.ConnWindowSize)
	c.now, c.idleSince, c.settingsSentAt, c.tokensAt = now, max(now, 1), max(now, 1), now
	c.tokens = int64(c.lim.MaxControlFrames) * 1000

	var s [6 * 6]byte
	p := AppendSetting(s[:0], SettingMaxConcurrentStreams, c.lim.MaxConcurrentStreams)
	p = AppendSetting(p, SettingInitialWindowSize, c.lim.InitialWindowSize)
	p = AppendSetting(p, SettingMaxHeaderListSize, c.lim.MaxHeaderListSize)
	p = AppendSetting(p, SettingEnablePush, 0)
	if c.lim.MaxFrameSize != MinMaxFrameSize {
		p = AppendSetting(p, SettingMaxFrameSize, c.lim.MaxFrameSize)
	}
	if c.lim.HeaderTableSize != DefaultHeaderTableSize {
		p = AppendSetting(p, SettingHeaderTableSize, c.lim.HeaderTableSize)
	}
	c.out = AppendFrameHeader(c.out, len(p), FrameSettings, 0, 0)
	c.out = append(c.out, p...)
	if c.lim.ConnWindowSize > DefaultWindow {
		c.out = AppendWindowUpdate(c.out, 0, c.lim.ConnWindowSize-DefaultWindow)
	}
}

// Buffers are the scratch buffers a ServerConn decodes request heads into
// and encodes response heads in: about MaxHeaderListSize plus 5 KiB once a
// request was served. Each connection has its own unless SetBuffers gives
// it one shared with the other connections of its event loop, which a loop
// can do because the buffers are only used within one Feed call and
// within one StartHeaders .. EndHeaders sequence. An idle connection then
// holds only its HPACK table and partial frames. The zero value is ready.
type Buffers struct {
	list fieldList
	enc  encoder
}

// SetBuffers makes c use b (shared by the connections of one event loop
// that have the same Limits)
// instead of buffers of its own. Then a Request's fields are valid only
// until the next Feed of any connection sharing b, and no other of them may
// start a head between StartHeaders and EndHeaders on c. Call it after
// Init.
func (c *ServerConn) SetBuffers(b *Buffers) { c.bufs = b }

// Output is what the connection has to send: frames written by the Write
// methods and by Feed (SETTINGS and PING acknowledgements, WINDOW_UPDATE,
// RST_STREAM, GOAWAY). Write it in one call per loop batch, then call
// ClearOutput. The slice is valid until the next call that writes.
func (c *ServerConn) Output() []byte { return c.out }

// ClearOutput empties Output once its bytes were handed to the socket.
func (c *ServerConn) ClearOutput() { c.out = c.out[:0] }

// Feed consumes frames from in, the bytes received and not yet consumed
// (starting with the client preface on a new connection), until it has an
// event for the caller or in holds no complete frame. It returns how many
// bytes it consumed (discard them) and the event, owned by c and valid
// until the next Feed; EventData's Data is a view of in. A partial frame is
// left in in: call again when more bytes arrived, with it at the front.
// now is the loop's clock in nanoseconds.
func (c *ServerConn) Feed(in []byte, now int64) (int, *Event) {
	c.now = now
	ev := &c.ev
	*ev = Event{}
	if c.state == connClosed {
		ev.Kind, ev.Err, ev.Code = EventClose, c.err, c.err.Code()
		return len(in), ev
	}
	if len(c.notify) > 0 && c.popNotify() {
		return 0, ev
	}
	n := 0
	if c.state == connPreface {
		k := min(len(in), len(Preface))
		if string(in[:k]) != Preface[:k] {
			c.fail(ErrPreface)
			return len(in), ev
		}
		if k < len(Preface) {
			return 0, ev
		}
		n = len(Preface)
		c.state = connSettings
	}
	for len(in)-n >= FrameHeaderLen {
		fh := ParseFrameHeader(in[n:])
		if fh.Length > c.lim.MaxFrameSize {
			// §4.2: refused from the header alone, before the payload
			// is read or held.
			c.fail(ErrFrameSize)
			return len(in), ev
		}
		end := n + FrameHeaderLen + int(fh.Length)
		if end > len(in) {
			break
		}
		c.frame(fh, in[n+FrameHeaderLen:end])
		n = end
		if ev.Kind != EventNone {
			if ev.Kind == EventClose {
				n = len(in)
			}
			return n, ev
		}
		if len(c.notify) > 0 && c.popNotify() {
			return n, ev
		}
	}
	return n, ev
}

// fail ends the connection with a connection error (RFC 9113 §5.4.1): a
// GOAWAY with the last stream processed and e's code.
func (c *ServerConn) fail(e Error) { c.failCode(e, e.Code()) }

func (c *ServerConn) failCode(e Error, code ErrCode) {
	if c.state == connClosed {
		return
	}
	c.out = AppendGoAway(c.out, c.lastProcessed, code)
	c.state, c.err = connClosed, e
	c.ev = Event{Kind: EventClose, Err: e, Code: code}
}

// frame handles one complete frame.
func (c *ServerConn) frame(fh FrameHeader, p []byte) {
	if c.state == connSettings && (fh.Type != FrameSettings || fh.Flags&FlagAck != 0) {
		c.fail(ErrFirstSettings) // §3.4
		return
	}
	if c.hbStream != 0 && fh.Type != FrameContinuation {
		c.fail(ErrHeaderBlock) // §6.2: nothing may interleave a header block
		return
	}
	switch fh.Type {
	case FrameData:
		c.data(fh, p)
	case FrameHeaders:
		c.headers(fh, p)
	case FrameContinuation:
		c.continuation(fh, p)
	case FramePriority:
		c.priority(fh, p)
	case FrameRSTStream:
		c.rstStream(fh, p)
	case FrameSettings:
		c.settings(fh, p)
	case FramePing:
		c.ping(fh, p)
	case FrameGoAway:
		c.goAwayFrame(fh, p)
	case FrameWindowUpdate:
		c.windowUpdate(fh, p)
	case FramePushPromise:
		c.fail(ErrPushPromise) // §8.4: a client cannot push
	default:
		c.spend() // §5.5: unknown types are ignored, but not for free
	}
}

// spend takes one frame from the control-frame budget (Limits.
// MaxControlFrames), refilled at ControlFrameRate per second; an empty
// budget ends the connection with ENHANCE_YOUR_CALM.
func (c *ServerConn) spend() bool {
	burst := int64(c.lim.MaxControlFrames) * 1000
	if dt := c.now - c.tokensAt; dt > 0 {
		// thousandths of a frame per ns = rate/1e6
		c.tokens = min(burst, c.tokens+dt*int64(c.lim.ControlFrameRate)/1_000_000)
		c.tokensAt = c.now
	}
	if c.tokens < 1000 {
		c.fail(ErrFlood)
		return false
	}
	c.tokens -= 1000
	return true
}

// refund gives one frame back to the budget (a DATA frame we sent).
func (c *ServerConn) refund() {
	c.tokens = min(int64(c.lim.MaxControlFrames)*1000, c.tokens+1000)
}

// payload strips a PADDED frame's padding (§6.1, §6.2). ok is false when the
// pad length is too long: a connection error PROTOCOL_ERROR.
func payload(fh FrameHeader, p []byte) ([]byte, bool) {
	if fh.Flags&FlagPadded == 0 {
		return p, true
	}
	if len(p) == 0 {
		return nil, false
	}
	pad := int(p[0])
	p = p[1:]
	if pad > len(p) {
		return nil, false
	}
	return p[:len(p)-pad], true
}

func (c *ServerConn) data(fh FrameHeader, p []byte) {
	if fh.StreamID == 0 {
		c.fail(ErrStreamZero)
		return
	}
	body, ok := payload(fh, p)
	if !ok {
		c.fail(ErrPadding)
		return
	}
	flow := int64(fh.Length) // padding included (§6.9.1)
	if flow > c.recvWindow {
		c.fail(ErrFlowControl)
		return
	}
	c.recvWindow -= flow
	i := c.streams.find(fh.StreamID)
	if i < 0 {
		if fh.StreamID > c.lastPeer {
			c.fail(ErrIdleStream) // §5.1: DATA on an idle stream
			return
		}
		// A closed stream's DATA still counts against the connection's
		// window (§6.9): credit it back at once.
		c.credit(nil, flow)
		if c.recent.lookup(fh.StreamID) != closedByUs {
			c.resetStream(fh.StreamID, CodeStreamClosed)
		}
		return
	}
	s := &c.streams.s[i]
	if s.state == stateHalfClosedRemote {
		c.credit(nil, flow)
		c.streamError(i, CodeStreamClosed) // §5.1 half-closed (remote)
		return
	}
	if flow > s.recvWindow {
		c.credit(nil, flow)
		c.streamError(i, CodeFlowControl)
		return
	}
	s.recvWindow -= flow
	if pad := flow - int64(len(body)); pad > 0 {
		c.credit(s, pad) // the engine never sees padding
	}
	s.received += int64(len(body))
	s.unconsumed += int64(len(body))
	endStream := fh.Flags&FlagEndStream != 0
	if s.contentLength >= 0 && (s.received > s.contentLength || endStream && s.received != s.contentLength) {
		c.streamError(i, CodeProtocol) // §8.1.1: content-length disagrees with DATA
		return
	}
	if len(body) == 0 && !endStream {
		c.spend()
		return
	}
	c.ev = Event{Kind: EventData, Stream: s.id, Data: body, EndStream: endStream}
	if endStream {
		c.remoteEnd(i)
	}
}

// remoteEnd records the peer's END_STREAM on stream i.
func (c *ServerConn) remoteEnd(i int) {
	c.streams.s[i].state = stateHalfClosedRemote
}

// credit gives n bytes of receive window back: to the connection, and to
// stream s unless nil. WINDOW_UPDATE frames go out once half a window is
// owed, so that a steady upload costs few of them.
func (c *ServerConn) credit(s *stream, n int64) {
	if n <= 0 {
		return
	}
	c.recvCredit += n
	if c.recvCredit >= int64(c.lim.ConnWindowSize)/2 {
		c.out = AppendWindowUpdate(c.out, 0, uint32(c.recvCredit))
		c.recvWindow += c.recvCredit
		c.recvCredit = 0
	}
	if s == nil || s.state != stateOpen {
		return // the peer sends nothing more on it: no need to widen
	}
	s.recvCredit += n
	if s.recvCredit >= int64(c.lim.InitialWindowSize)/2 {
		c.out = AppendWindowUpdate(c.out, s.id, uint32(s.recvCredit))
		s.recvWindow += s.recvCredit
		s.recvCredit = 0
	}
}

// Consumed credits n bytes of stream id's request body (from EventData)
// that the engine has passed on, so the peer may send more. Calling it
// only once the bytes left the gateway is what makes a slow upstream close
// the client's window instead of filling memory. It is a no-op for a
// stream that is gone: its unconsumed bytes were credited when it closed.
func (c *ServerConn) Consumed(id uint32, n int) {
	s := c.streams.get(id)
	if s == nil || n <= 0 {
		return
	}
	n64 := min(int64(n), s.unconsumed)
	s.unconsumed -= n64
	c.credit(s, n64)
}

func (c *ServerConn) headers(fh FrameHeader, p []byte) {
	id := fh.StreamID
	if id == 0 {
		c.fail(ErrStreamZero)
		return
	}
	frag, ok := payload(fh, p)
	if !ok {
		c.fail(ErrPadding)
		return
	}
	selfDep := false
	if fh.Flags&FlagPriority != 0 {
		if len(frag) < 5 {
			c.fail(ErrFrameSize)
			return
		}
		selfDep = binary.BigEndian.Uint32(frag)&(1<<31-1) == id
		frag = frag[5:] // §5.3.2: priority signals are ignored
	}
	kind, code := blockRequest, CodeNo
	if i := c.streams.find(id); i >= 0 {
		s := &c.streams.s[i]
		switch {
		case s.state == stateHalfClosedRemote:
			kind, code = blockRefuse, CodeStreamClosed // §5.1
		case fh.Flags&FlagEndStream == 0:
			kind, code = blockRefuse, CodeProtocol // §8.1: trailers end the stream
		default:
			kind = blockTrailers
		}
	} else if id <= c.lastPeer {
		switch c.recent.lookup(id) {
		case closedByUs:
			kind = blockIgnore // frames the peer sent before our RST_STREAM
		case 0:
			c.fail(ErrStreamID) // §5.1.1: a new stream must use a higher ID
			return
		default:
			c.fail(ErrClosedStream) // §5.1: HEADERS on a closed stream
			return
		}
	} else {
		if id%2 == 0 {
			c.fail(ErrStreamID) // §5.1.1: clients use odd IDs
			return
		}
		c.lastPeer = id
		switch {
		case c.goAway || c.peerGoAway:
			kind = blockIgnore // §6.8: after GOAWAY, new streams are not processed
		case uint32(c.streams.len()) >= c.lim.MaxConcurrentStreams:
			kind, code = blockRefuse, CodeRefusedStream // §5.1.2
		}
	}
	if selfDep {
		kind, code = blockRefuse, CodeProtocol // §5.3.1: a stream cannot depend on itself
	}
	c.hbKind, c.hbCode, c.hbEnd = kind, code, fh.Flags&FlagEndStream != 0
	c.hbLen = len(frag)
	if uint32(c.hbLen) > c.lim.MaxHeaderBlock {
		c.fail(ErrHeaderBlockSize)
		return
	}
	if fh.Flags&FlagEndHeaders != 0 {
		c.block(id, frag) // the common case: decoded in place, not copied
		return
	}
	if len(frag) == 0 {
		c.spend()
	}
	c.hbStream = id
	c.hbBuf = append(c.hbBuf[:0], frag...)
}

func (c *ServerConn) continuation(fh FrameHeader, p []byte) {
	if c.hbStream == 0 {
		if fh.StreamID == 0 {
			c.fail(ErrStreamZero)
		} else if fh.StreamID <= c.lastPeer && c.recent.lookup(fh.StreamID) != 0 {
			c.fail(ErrClosedStream)
		} else {
			c.fail(ErrHeaderBlock) // §6.10: CONTINUATION must follow HEADERS
		}
		return
	}
	if fh.StreamID != c.hbStream {
		c.fail(ErrHeaderBlock)
		return
	}
	c.hbLen += len(p)
	if uint32(c.hbLen) > c.lim.MaxHeaderBlock {
		// CVE-2024-27316: refused as soon as the block is too large, not
		// when (if ever) it ends.
		c.fail(ErrHeaderBlockSize)
		return
	}
	if len(p) == 0 && fh.Flags&FlagEndHeaders == 0 && !c.spend() {
		return
	}
	c.hbBuf = append(c.hbBuf, p...)
	if fh.Flags&FlagEndHeaders != 0 {
		id := c.hbStream
		c.hbStream = 0
		c.block(id, c.hbBuf)
	}
}

// block decodes a complete header block and acts on it.
func (c *ServerConn) block(id uint32, block []byte) {
	kind := c.hbKind
	l := &c.bufs.list
	l.max = int(c.lim.MaxHeaderListSize)
	if cap(l.fields) < c.lim.MaxHeaders+4 { // + the pseudo-header fields
		l.fields = make([]Field, 0, c.lim.MaxHeaders+4)
	}
	if cap(l.buf) < int(c.lim.MaxHeaderListSize) {
		l.buf = make([]byte, 0, c.lim.MaxHeaderListSize)
	}
	l.fields = l.fields[: 0 : c.lim.MaxHeaders+4] // a shared list may be larger: this connection's limit
	c.bufs.list.reset(kind == blockRefuse || kind == blockIgnore)
	if err := c.dec.decode(block, &c.bufs.list); err != nil {
		c.fail(ErrCompression) // RFC 7541 §2.3.3 and §6: COMPRESSION_ERROR
		return
	}
	switch kind {
	case blockIgnore:
		return
	case blockRefuse:
		c.closedByUs(id)
		c.out = AppendRSTStream(c.out, id, c.hbCode)
		if i := c.streams.find(id); i >= 0 {
			c.drop(i, closedByUs)
			c.ev = Event{Kind: EventReset, Stream: id, Code: c.hbCode}
		}
		return
	case blockTrailers:
		c.trailers(id)
		return
	}
	if c.bufs.list.over {
		c.tooLarge(id)
		return
	}
	r := &c.req
	if !r.parse(c.bufs.list.fields) {
		c.closedByUs(id)
		c.out = AppendRSTStream(c.out, id, CodeProtocol) // §8.1.1: malformed
		return
	}
	r.EndStream = c.hbEnd
	if r.EndStream && r.ContentLength > 0 {
		c.closedByUs(id)
		c.out = AppendRSTStream(c.out, id, CodeProtocol) // §8.1.1: content-length without DATA
		return
	}
	s := c.streams.add(stream{
		id: id, state: stateOpen, contentLength: r.ContentLength,
		sendWindow: c.peerInitWindow, recvWindow: int64(c.lim.InitialWindowSize),
	})
	if r.EndStream {
		s.state = stateHalfClosedRemote
	}
	c.lastProcessed = id
	c.idleSince = 0
	c.ev = Event{Kind: EventRequest, Stream: id, EndStream: r.EndStream, Request: r}
}

// closedByUs remembers that a stream that never became active was reset by
// us, so that frames already in flight for it are ignored.
func (c *ServerConn) closedByUs(id uint32) { c.recent.add(id, closedByUs) }

// tooLarge answers a request whose fields pass MaxHeaderListSize or
// MaxHeaders with 431 (RFC 6585 §5; RFC 9113 §10.5.1) and closes the
// stream; the connection goes on.
func (c *ServerConn) tooLarge(id uint32) {
	c.bufs.enc.reset()
	c.bufs.enc.status(431)
	c.out = AppendHeaders(c.out, id, c.bufs.enc.buf, true, int(c.peerMaxFrame))
	if !c.hbEnd {
		c.out = AppendRSTStream(c.out, id, CodeNo) // §8.1: the body is not wanted
	}
	c.lastProcessed = max(c.lastProcessed, id)
	c.closedByUs(id)
}

func (c *ServerConn) trailers(id uint32) {
	i := c.streams.find(id)
	s := &c.streams.s[i]
	if c.bufs.list.over || !validTrailers(c.bufs.list.fields) ||
		s.contentLength >= 0 && s.received != s.contentLength {
		c.streamError(i, CodeProtocol) // §8.1: malformed trailers
		return
	}
	c.req = Request{Fields: c.bufs.list.fields, EndStream: true, ContentLength: -1}
	c.ev = Event{Kind: EventTrailers, Stream: id, EndStream: true, Request: &c.req}
	c.remoteEnd(i)
}

// streamError resets active stream i (§5.4.2) and tells the engine.
func (c *ServerConn) streamError(i int, code ErrCode) {
	id := c.streams.s[i].id
	c.out = AppendRSTStream(c.out, id, code)
	c.drop(i, closedByUs)
	c.ev = Event{Kind: EventReset, Stream: id, Code: code}
}

// resetStream sends RST_STREAM for a stream that is not active.
func (c *ServerConn) resetStream(id uint32, code ErrCode) {
	c.out = AppendRSTStream(c.out, id, code)
	c.closedByUs(id)
}

// drop removes active stream i, crediting the connection with what the
// engine will no longer consume.
func (c *ServerConn) drop(i int, how uint8) {
	s := &c.streams.s[i]
	if s.unconsumed > 0 {
		c.credit(nil, s.unconsumed)
	}
	if s.recvCredit > 0 {
		// Owed to a stream that is gone: nothing to announce.
		s.recvCredit = 0
	}
	c.recent.add(s.id, how)
	c.streams.remove(i)
	if c.streams.len() == 0 {
		c.idleSince = max(c.now, 1) // 0 means "not idle"
	}
}

func (c *ServerConn) priority(fh FrameHeader, p []byte) {
	if fh.StreamID == 0 {
		c.fail(ErrStreamZero)
		return
	}
	if !c.spend() {
		return
	}
	if len(p) != 5 {
		c.streamErrorID(fh.StreamID, CodeFrameSize) // §6.3
		return
	}
	if binary.BigEndian.Uint32(p)&(1<<31-1) == fh.StreamID {
		c.streamErrorID(fh.StreamID, CodeProtocol) // §5.3.1
	}
	// Otherwise ignored (§5.3.2): RFC 9113 deprecates the priority tree.
}

// streamErrorID is a stream error on a stream that may or may not be
// active (and may be idle: a PRIORITY frame does not open it).
func (c *ServerConn) streamErrorID(id uint32, code ErrCode) {
	if i := c.streams.find(id); i >= 0 {
		c.streamError(i, code)
		return
	}
	c.resetStream(id, code)
}

func (c *ServerConn) rstStream(fh FrameHeader, p []byte) {
	if fh.StreamID == 0 {
		c.fail(ErrStreamZero)
		return
	}
	if len(p) != 4 {
		c.fail(ErrFrameSize) // §6.4
		return
	}
	if !c.spend() {
		return
	}
	i := c.streams.find(fh.StreamID)
	if i < 0 {
		if fh.StreamID > c.lastPeer {
			c.fail(ErrIdleStream) // §6.4: RST_STREAM on an idle stream
		}
		return // on a closed stream: ignored
	}
	code := ErrCode(binary.BigEndian.Uint32(p))
	c.drop(i, closedByPeer)
	c.ev = Event{Kind: EventReset, Stream: fh.StreamID, Code: code, Remote: true}
	// CVE-2023-44487: a stream reset before its response ended cost us
	// work for nothing. More of them than of completed responses, past a
	// margin, is an attack.
	c.premature++
	if c.premature-c.completed > c.lim.MaxPrematureResets {
		c.fail(ErrRapidReset)
	}
}

func (c *ServerConn) settings(fh FrameHeader, p []byte) {
	if fh.StreamID != 0 {
		c.fail(ErrStreamZero)
		return
	}
	if fh.Flags&FlagAck != 0 {
		if len(p) != 0 {
			c.fail(ErrFrameSize) // §6.5
			return
		}
		c.settingsAcked = true
		return
	}
	if len(p)%6 != 0 {
		c.fail(ErrFrameSize)
		return
	}
	if c.state == connSettings {
		c.state = connOpen // the preface's SETTINGS is free
	} else if !c.spend() {
		return
	}
	for ; len(p) > 0; p = p[6:] {
		id := binary.BigEndian.Uint16(p)
		v := binary.BigEndian.Uint32(p[2:])
		switch id {
		case SettingEnablePush:
			if v > 1 {
				c.fail(ErrSettings)
				return
			}
		case SettingInitialWindowSize:
			if v > MaxWindow {
				c.failCode(ErrSettings, CodeFlowControl) // §6.5.2
				return
			}
			// §6.9.2: the change applies to every stream's window,
			// which may go negative.
			delta := int64(v) - c.peerInitWindow
			c.peerInitWindow = int64(v)
			for i := range c.streams.s {
				s := &c.streams.s[i]
				s.sendWindow += delta
				if s.sendWindow > MaxWindow {
					c.failCode(ErrWindowOverflow, CodeFlowControl)
					return
				}
				if delta > 0 {
					c.maybeNotify(s)
				}
			}
		case SettingMaxFrameSize:
			if v < MinMaxFrameSize || v > MaxMaxFrameSize {
				c.fail(ErrSettings)
				return
			}
			c.peerMaxFrame = v
		}
		// HEADER_TABLE_SIZE: our encoder uses no dynamic table, so any
		// size is honoured. MAX_CONCURRENT_STREAMS limits pushes, which
		// we never make. MAX_HEADER_LIST_SIZE is advisory. Unknown
		// settings are ignored (§6.5.2).
	}
	c.out = AppendSettingsAck(c.out)
}

func (c *ServerConn) ping(fh FrameHeader, p []byte) {
	if fh.StreamID != 0 {
		c.fail(ErrStreamZero)
		return
	}
	if len(p) != 8 {
		c.fail(ErrFrameSize)
		return
	}
	if !c.spend() || fh.Flags&FlagAck != 0 {
		return
	}
	c.out = AppendPing(c.out, true, [8]byte(p))
}

func (c *ServerConn) goAwayFrame(fh FrameHeader, p []byte) {
	if fh.StreamID != 0 {
		c.fail(ErrStreamZero)
		return
	}
	if len(p) < 8 {
		c.fail(ErrFrameSize)
		return
	}
	if !c.spend() {
		return
	}
	c.peerGoAway = true
	c.ev = Event{
		Kind:       EventGoAway,
		LastStream: binary.BigEndian.Uint32(p) & (1<<31 - 1),
		Code:       ErrCode(binary.BigEndian.Uint32(p[4:])),
	}
}

func (c *ServerConn) windowUpdate(fh FrameHeader, p []byte) {
	if len(p) != 4 {
		c.fail(ErrFrameSize)
		return
	}
	incr := int64(binary.BigEndian.Uint32(p) & (1<<31 - 1))
	// An update that only gives back credit for DATA we sent (the window
	// stays within what it has been) is the reader keeping up, not a
	// flood: a legitimate client sends one per read or two, more than the
	// budget allows under a busy loop. To send many of those a peer must
	// have received as many bytes. An update that grows a window past its
	// high-water mark costs a frame from the budget, as any other control
	// frame does.
	var free bool
	if fh.StreamID == 0 {
		free = incr > 0 && c.sendWindow+incr <= c.sendWindowHigh
	} else if i := c.streams.find(fh.StreamID); i >= 0 {
		free = incr > 0 && c.streams.s[i].sendWindow+incr <= c.peerInitWindow
	}
	if !free && !c.spend() {
		return
	}
	if fh.StreamID == 0 {
		if incr == 0 {
			c.fail(ErrWindowZero)
			return
		}
		c.sendWindow += incr
		c.sendWindowHigh = max(c.sendWindowHigh, c.sendWindow)
		if c.sendWindow > MaxWindow {
			c.fail(ErrWindowOverflow)
			return
		}
		for i := range c.streams.s {
			c.maybeNotify(&c.streams.s[i])
		}
		return
	}
	i := c.streams.find(fh.StreamID)
	if i < 0 {
		if fh.StreamID > c.lastPeer {
			c.fail(ErrIdleStream)
		}
		return // closed: a late update is harmless (§6.9)
	}
	s := &c.streams.s[i]
	if incr == 0 {
		c.streamError(i, CodeProtocol) // §6.9
		return
	}
	s.sendWindow += incr
	if s.sendWindow > MaxWindow {
		c.streamError(i, CodeFlowControl) // §6.9.1
		return
	}
	c.maybeNotify(s)
}

// maybeNotify queues EventWritable for s when a WriteData on it was cut
// short and both windows now allow sending.
func (c *ServerConn) maybeNotify(s *stream) {
	if s.blockedAt != 0 && !s.notify && s.sendWindow > 0 && c.sendWindow > 0 {
		s.notify = true
		c.notify = append(c.notify, s.id)
	}
}

// popNotify turns the first queued notification of a stream still active
// into the current event.
func (c *ServerConn) popNotify() bool {
	for len(c.notify) > 0 {
		id := c.notify[0]
		c.notify = c.notify[:copy(c.notify, c.notify[1:])]
		if s := c.streams.get(id); s != nil && s.notify {
			s.notify = false
			c.ev = Event{Kind: EventWritable, Stream: id}
			return true
		}
	}
	return false
}
