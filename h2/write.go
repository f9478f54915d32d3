package h2

// StartHeaders begins a response head with status (100..599) on stream id.
// An interim 1xx head (100 Continue, 103 Early Hints; not 101, which
// HTTP/2 forbids, RFC 9113 §8.6) may come any number of times before the
// final one. Add fields with Field, then EndHeaders.
func (c *ServerConn) StartHeaders(id uint32, status int) error {
	s := c.streams.get(id)
	if s == nil || c.state == connClosed {
		return ErrStreamGone
	}
	if s.headSent || status < 100 || status > 599 || status == 101 {
		return ErrHeadState
	}
	c.hw.stream, c.hw.trailers, c.hw.final, c.hw.active = id, false, status >= 200, true
	c.bufs.enc.reset()
	c.bufs.enc.status(status)
	return nil
}

// StartTrailers begins the trailer section of stream id, after its final
// head and DATA; EndHeaders ends the stream.
func (c *ServerConn) StartTrailers(id uint32) error {
	s := c.streams.get(id)
	if s == nil || c.state == connClosed {
		return ErrStreamGone
	}
	if !s.headSent {
		return ErrHeadState
	}
	c.hw.stream, c.hw.trailers, c.hw.final, c.hw.active = id, true, true, true
	c.bufs.enc.reset()
	return nil
}

// Field adds a field to the head (or trailers) begun by StartHeaders (or
// StartTrailers). The name is folded to lowercase (RFC 9113 §8.2.1);
// connection-specific fields (Connection, Keep-Alive, Proxy-Connection,
// Transfer-Encoding, Upgrade: §8.2.2) are dropped, so that an HTTP/1.1
// upstream's head can be passed field by field. Pseudo-header names are
// dropped too: the status comes from StartHeaders.
func (c *ServerConn) Field(name, value []byte) {
	if !c.hw.active || len(name) == 0 || name[0] == ':' {
		return
	}
	lower := c.bufs.enc.lower[:0]
	for _, b := range name {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		lower = append(lower, b)
	}
	c.bufs.enc.lower = lower
	switch string(lower) {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return
	}
	c.bufs.enc.field(lower, value)
}

// FieldString is Field for strings (constant names and values).
func (c *ServerConn) FieldString(name, value string) {
	c.Field(viewBytes(name), viewBytes(value))
}

// EndHeaders appends the head as HEADERS (and CONTINUATION) frames to
// Output. endStream ends the stream: a response without a body (HEAD, 204,
// 304, an empty body), or trailers, which always end it. An interim head
// never ends the stream.
func (c *ServerConn) EndHeaders(endStream bool) error {
	if !c.hw.active {
		return ErrHeadState
	}
	c.hw.active = false
	i := c.streams.find(c.hw.stream)
	if i < 0 {
		return ErrStreamGone
	}
	endStream = (endStream || c.hw.trailers) && c.hw.final
	c.out = AppendHeaders(c.out, c.hw.stream, c.bufs.enc.buf, endStream, int(c.peerMaxFrame))
	if c.hw.final {
		c.streams.s[i].headSent = true
	}
	if endStream {
		c.localEnd(i)
	}
	return nil
}

// WriteData appends DATA frames carrying as much of p as the stream's and
// the connection's send windows allow, split at the peer's
// SETTINGS_MAX_FRAME_SIZE, and returns how many bytes it took. When it
// takes fewer than len(p), keep the rest and stop reading what produces
// it (the upstream): the stream is blocked since now, and EventWritable
// says when to call again. endStream ends the stream once all of p is
// taken (an empty p with endStream is allowed at any window).
func (c *ServerConn) WriteData(id uint32, p []byte, endStream bool, now int64) (int, error) {
	i := c.streams.find(id)
	if i < 0 || c.state == connClosed {
		return 0, ErrStreamGone
	}
	s := &c.streams.s[i]
	if !s.headSent || c.hw.active && c.hw.stream == id {
		return 0, ErrHeadState
	}
	take := min(int64(len(p)), max(min(s.sendWindow, c.sendWindow), 0))
	last := endStream && take == int64(len(p))
	maxFrame := int64(c.peerMaxFrame)
	for off := int64(0); off < take; {
		n := min(take-off, maxFrame)
		c.out = AppendData(c.out, id, p[off:off+n], last && off+n == take)
		c.refund()
		off += n
	}
	if len(p) == 0 && endStream {
		c.out = AppendData(c.out, id, nil, true)
	}
	s.sendWindow -= take
	c.sendWindow -= take
	if take < int64(len(p)) {
		// Blocked: since now if some bytes went (progress), else since
		// the first write that could send nothing.
		if take > 0 || s.blockedAt == 0 {
			s.blockedAt = max(now, 1)
		}
		return int(take), nil
	}
	s.blockedAt = 0
	if endStream {
		c.localEnd(i)
	}
	return int(take), nil
}

// localEnd records our END_STREAM on stream i. When the request has not
// ended yet, the stream is reset with NO_ERROR (RFC 9113 §8.1: the rest of
// the body is not wanted), which also frees its slot at once.
func (c *ServerConn) localEnd(i int) {
	c.completed++
	s := &c.streams.s[i]
	if s.state == stateHalfClosedRemote {
		c.drop(i, closedNormally)
		return
	}
	c.out = AppendRSTStream(c.out, s.id, CodeNo)
	c.drop(i, closedByUs)
}

// Reset ends stream id with RST_STREAM and code (CANCEL when the upstream
// failed mid-response, INTERNAL_ERROR, REFUSED_STREAM for a stream not
// processed at all). A stream that is not active is left alone.
func (c *ServerConn) Reset(id uint32, code ErrCode) {
	i := c.streams.find(id)
	if i < 0 || c.state == connClosed {
		return
	}
	if c.hw.active && c.hw.stream == id {
		c.hw.active = false
	}
	c.out = AppendRSTStream(c.out, id, code)
	c.drop(i, closedByUs)
}

// GoAway sends GOAWAY with the last stream the peer opened. With CodeNo it
// is a graceful drain: streams already open finish, new ones are ignored
// (the client retries them elsewhere), and the engine closes when Streams
// is 0. Another code closes the connection at once: Feed returns
// EventClose from then on.
func (c *ServerConn) GoAway(code ErrCode) {
	if c.state == connClosed {
		return
	}
	if code != CodeNo {
		c.out = AppendGoAway(c.out, c.lastPeer, code)
		c.state, c.err = connClosed, ErrPeerGoAway
		return
	}
	if !c.goAway {
		c.goAway = true
		c.out = AppendGoAway(c.out, c.lastPeer, CodeNo)
	}
}

// Streams is the number of active streams.
func (c *ServerConn) Streams() int { return c.streams.len() }

// Draining reports that no new stream will be processed: we sent GOAWAY or
// the peer did. Close when Streams is 0 and Output is written.
func (c *ServerConn) Draining() bool { return c.goAway || c.peerGoAway }

// Closed reports that the connection failed or was closed with GoAway and
// an error code: write Output and close.
func (c *ServerConn) Closed() bool { return c.state == connClosed }

// IdleSince is when the connection last had no active stream (its start,
// or when its last stream ended), for the engine's idle timeout; 0 while a
// stream is active.
func (c *ServerConn) IdleSince() int64 {
	if c.streams.len() > 0 {
		return 0
	}
	return c.idleSince
}

// BlockedSince is, over the active streams that have more to send than the
// windows allow, the earliest time one last made progress (a WriteData
// that sent some bytes but not all, or the first that could send none); 0
// when no stream is blocked. A client that holds a window closed forever
// (timeouts.client_send) shows here; one that reads slowly does not.
func (c *ServerConn) BlockedSince() int64 {
	var t int64
	for i := range c.streams.s {
		if b := c.streams.s[i].blockedAt; b != 0 && (t == 0 || b < t) {
			t = b
		}
	}
	return t
}

// SettingsUnackedSince is when our SETTINGS went out if the peer has not
// acknowledged them yet, else 0 (RFC 9113 §6.5.3: past a timeout, close
// with SETTINGS_TIMEOUT).
func (c *ServerConn) SettingsUnackedSince() int64 {
	if c.settingsAcked {
		return 0
	}
	return c.settingsSentAt
}
