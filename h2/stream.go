package h2

// Stream states a stream in the table can be in (RFC 9113 §5.1). Idle
// streams are not in the table (an ID above the peer's highest is idle);
// closed ones are removed from it and remembered a while in recentClosed.
// A stream is never kept half-closed (local): when the response ends before
// the request body, the connection resets the stream with NO_ERROR (§8.1).
const (
	stateOpen             uint8 = iota + 1
	stateHalfClosedRemote       // the peer sent END_STREAM; we still answer
)

// stream is one active stream.
type stream struct {
	id    uint32
	state uint8
	// headSent: a final (non-1xx) response head went out; trailers may
	// follow, another head may not.
	headSent bool
	notify   bool // queued in ServerConn.notify

	sendWindow int64 // what we may still send (the peer's window for us)
	recvWindow int64 // what the peer may still send
	recvCredit int64 // consumed by the engine, not yet announced
	unconsumed int64 // received, not yet consumed: credited back on close

	contentLength int64 // -1 when absent
	received      int64 // DATA payload received (without padding)

	blockedAt int64 // when a WriteData was cut short by a window; 0 when not
}

// streamTable holds the active streams: at most MaxConcurrentStreams, so a
// scan of the dense ids array (four bytes a stream) finds one faster than a
// map would, without allocating; removal swaps the last entry in.
type streamTable struct {
	ids []uint32
	s   []stream
}

func (t *streamTable) len() int { return len(t.ids) }

// find returns the index of stream id, -1 when it is not active.
func (t *streamTable) find(id uint32) int {
	for i, v := range t.ids {
		if v == id {
			return i
		}
	}
	return -1
}

// get returns stream id or nil. The pointer is valid until the next add or
// remove.
func (t *streamTable) get(id uint32) *stream {
	if i := t.find(id); i >= 0 {
		return &t.s[i]
	}
	return nil
}

func (t *streamTable) add(s stream) *stream {
	t.ids = append(t.ids, s.id)
	t.s = append(t.s, s)
	return &t.s[len(t.s)-1]
}

func (t *streamTable) remove(i int) {
	last := len(t.ids) - 1
	t.ids[i], t.s[i] = t.ids[last], t.s[last]
	t.ids, t.s = t.ids[:last], t.s[:last]
}

// How a recently closed stream ended: it decides what a late frame on it
// means (§5.1).
const (
	closedNormally uint8 = iota + 1 // END_STREAM both ways: a later frame is an error
	closedByPeer                    // the peer's RST_STREAM: a later frame is STREAM_CLOSED
	closedByUs                      // our RST_STREAM: frames in flight are ignored
)

// recentClosed remembers how the last streams closed, in a ring. A frame on
// a closed stream that is no longer remembered is treated as on a stream
// closed normally.
type recentClosed struct {
	id  [32]uint32
	how [32]uint8
	n   int
}

func (r *recentClosed) add(id uint32, how uint8) {
	i := r.n % len(r.id)
	r.id[i], r.how[i] = id, how
	r.n++
}

func (r *recentClosed) lookup(id uint32) uint8 {
	for i, v := range r.id {
		if v == id {
			return r.how[i]
		}
	}
	return 0
}
