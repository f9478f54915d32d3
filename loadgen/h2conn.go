package loadgen

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hotpath/hotpath/h2"
)

// HTTP/2 with prior knowledge (Config.HTTP2, hotload --h2). The loop, its
// schedule, timers and recording are the same as for HTTP/1.1; a
// connection that speaks HTTP/2 has an h2conn, which keeps up to
// Config.Pipeline streams in flight (h2load's -m) on package h2's
// ClientConn. Requests are HPACK-encoded once per target
// (h2.RequestTemplate): literals with indexing the first time on a
// connection, one indexed byte per field after, as nghttp2 does, so that
// sending a request copies a few bytes and allocates nothing. Responses are
// framed and their bodies skipped in place.

// h2conn is the HTTP/2 state of one connection.
type h2conn struct {
	cc      h2.ClientConn
	tps     []*h2.RequestTemplate
	slots   []flight // requests in flight, by slot: the stream's tag
	busy    []bool
	free    []uint32
	maxBody int
	goAway  bool // the server sent GOAWAY: reconnect once idle
}

// h2Templates encodes cfg's targets, nil unless cfg.HTTP2.
func h2Templates(cfg Config) []*h2.RequestTemplate {
	if !cfg.HTTP2 {
		return nil
	}
	tps := make([]*h2.RequestTemplate, len(cfg.Targets))
	for i := range cfg.Targets {
		tps[i] = h2Template(&cfg.Targets[i])
	}
	return tps
}

// h2Template is a target as an HTTP/2 request: the URL's authority (or the
// Host header given) as :authority, the fields lowercased and sorted,
// without the connection-specific ones HTTP/2 forbids (RFC 9113 §8.2.2).
func h2Template(t *Target) *h2.RequestTemplate {
	u, _ := url.Parse(t.URL) // checked by Target.check
	authority := u.Host
	var fields [][2]string
	for name, v := range t.Headers {
		switch strings.ToLower(name) {
		case "host":
			authority = v
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "content-length":
		default:
			fields = append(fields, [2]string{strings.ToLower(name), v})
		}
	}
	slices.SortFunc(fields, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	if len(t.Body) > 0 || t.Method == "POST" || t.Method == "PUT" || t.Method == "PATCH" {
		fields = append(fields, [2]string{"content-length", strconv.Itoa(len(t.Body))})
	}
	var body []byte
	if t.Body != "" {
		body = []byte(t.Body)
	}
	return h2.NewRequestTemplate(t.Method, "http", authority, u.RequestURI(), fields, body)
}

func newH2Conn(tps []*h2.RequestTemplate, depth int) *h2conn {
	h := &h2conn{tps: tps, slots: make([]flight, depth), busy: make([]bool, depth), free: make([]uint32, 0, depth)}
	for _, t := range tps {
		if t != nil {
			h.maxBody = max(h.maxBody, len(t.Body()))
		}
	}
	return h
}

// reset starts a new connection: every slot free, the preface queued in
// c.wbuf.
func (h *h2conn) reset(c *conn) {
	h.cc.Init(h.tps)
	h.free = h.free[:0]
	for i := len(h.slots) - 1; i >= 0; i-- {
		h.free = append(h.free, uint32(i))
		h.busy[i] = false
	}
	h.goAway = false
	c.wbuf = append(c.wbuf, h.cc.Output()...)
	h.cc.ClearOutput()
}

// canSend reports whether c may send another request now: fewer than the
// pipeline depth in flight and, on HTTP/2, a stream the server allows. When
// it may not, no timer is armed: a response (or the server's SETTINGS)
// wakes the connection up.
func (l *loop) canSend(c *conn) bool {
	return c.qn < l.depth && (c.h2 == nil || c.h2.canOpen())
}

// canOpen reports whether another stream may be opened now.
func (h *h2conn) canOpen() bool {
	return len(h.free) > 0 && h.cc.CanOpen(h.maxBody)
}

// open sends target t as a new stream carrying flight f.
func (h *h2conn) open(c *conn, t int, f flight) {
	slot := h.free[len(h.free)-1]
	h.free = h.free[:len(h.free)-1]
	h.slots[slot], h.busy[slot] = f, true
	h.cc.Open(t, slot)
	c.wbuf = append(c.wbuf, h.cc.Output()...)
	h.cc.ClearOutput()
	c.qn++
}

// oldestSent is when the oldest request in flight on c was sent.
func (l *loop) oldestSent(c *conn) int64 {
	if c.h2 == nil {
		return c.q[c.qh].sent
	}
	t := int64(-1)
	for i, b := range c.h2.busy {
		if b && (t < 0 || c.h2.slots[i].sent < t) {
			t = c.h2.slots[i].sent
		}
	}
	return t
}

// consumeH2 frames what c.rbuf holds, records each response that ended and
// queues the frames the connection owes (SETTINGS and PING
// acknowledgements, WINDOW_UPDATE) for the next write. It returns false
// when the connection must be closed.
func (l *loop) consumeH2(c *conn, now int64) bool {
	h := c.h2
	buf := c.rbuf[:c.rlen]
	pos := 0
	ok := true
	for ok {
		n, ev := h.cc.Feed(buf[pos:])
		pos += n
		switch ev.Kind {
		case h2.ClientNone:
			goto done
		case h2.ClientDone:
			l.completeH2(c, ev.Tag, ev.Status, now)
		case h2.ClientReset:
			// A stream the server refused or cancelled: no response.
			h.release(c, ev.Tag)
			l.stats.errs[ErrBadResponse]++
		case h2.ClientGoAway:
			h.goAway = true
		case h2.ClientClose:
			ok = l.fail(c, ErrBadResponse)
		}
	}
done:
	if pos > 0 {
		c.rlen = copy(c.rbuf, buf[pos:])
	}
	if out := h.cc.Output(); len(out) > 0 {
		c.wbuf = append(c.wbuf, out...)
		h.cc.ClearOutput()
	}
	if h.goAway && c.qn == 0 {
		c.closeMe = true // reconnect: this connection takes no new stream
	}
	return ok
}

// release frees the slot of a stream that ended.
func (h *h2conn) release(c *conn, slot uint32) {
	h.busy[slot] = false
	h.free = append(h.free, slot)
	c.qn--
}

// completeH2 records the response of the stream in slot.
func (l *loop) completeH2(c *conn, slot uint32, status int, now int64) {
	f := c.h2.slots[slot]
	c.h2.release(c, slot)
	l.recordFlight(f, status, now)
}

// recordFlight records a response with status to request f at time now,
// when f belongs to the recorded period. Both protocols record here.
func (l *loop) recordFlight(f flight, status int, now int64) {
	s := l.stats
	// Recorded: asked for in the recorded period and answered before the
	// drain ended (the loop stops then).
	if f.intended >= l.recStart && f.intended < l.end {
		s.requests++
		s.status[status%1000]++
		record(s.hist, (now-f.intended)/1000)
		record(s.histU, (now-f.sent)/1000)
	}
}
