package engine

import "github.com/panjf2000/gnet/v2"

// sendWatch notices a peer that takes none of the bytes queued for it
// (timeouts.client_send): a slow-read attack holds the gateway's buffers and
// the upstream connection behind them for as long as the peer likes unless
// something closes it. It is checked from the loop's tick.
//
// Progress is a fall in the connection's queued output between two checks.
// Refills cannot hide progress for long: the side feeding the queue is paused
// above limits.max_buffered_bytes and resumed only by a tick that saw the
// queue at half of that, and that same tick counts the fall.
type sendWatch struct {
	out   int   // output queued at the last check
	since int64 // loop clock of the last progress; 0 while nothing is queued
}

// stalled reports whether c has had output queued and taken none of it for
// limit nanoseconds or more.
func (w *sendWatch) stalled(c gnet.Conn, now, limit int64) bool {
	out := c.OutboundBuffered()
	switch {
	case out == 0:
		w.out, w.since = 0, 0
		return false
	case w.since == 0 || out < w.out:
		w.out, w.since = out, now
		return false
	case out > w.out:
		w.out = out // more was queued: the clock keeps running
		return false
	}
	return now-w.since >= limit
}

// abort closes c with a reset (SO_LINGER 0): the bytes queued for a peer
// that does not read are dropped at once rather than left to the kernel.
func abort(c gnet.Conn) {
	_ = c.SetLinger(0)
}

// sendStalled applies timeouts.client_send to the client connection.
func (h *h1conn) sendStalled(now int64) bool {
	return h.sendW.stalled(h.c, now, h.table().timeouts.clientSend)
}
