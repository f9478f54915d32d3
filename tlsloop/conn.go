package tlsloop

import (
	"crypto/tls"
	"io"
	"time"
)

// Conn states.
const (
	stateNew       uint8 = iota // server: no byte yet
	stateHandshake              // a handshake runs off the loop
	stateOpen                   // established: the record layer runs on the loop
	stateFailed                 // the handshake or a record failed (err)
	stateClosed                 // Close was called
)

// Conn is one TLS connection driven by an event loop: ciphertext in
// (Feed), plaintext out (Peek, Discard), plaintext in (Write, Writev),
// ciphertext out (Flush). Its methods are for the loop that owns it and
// are not safe for concurrent use; the handshake runs off the loop and
// reports through the wake function given to Server.NewConn.
//
// The read side mirrors gnet.Conn's Peek and Discard, and the write side
// its Write and Writev, so that code written against those (the engine's
// HTTP/1.1 connection) runs unchanged over TLS: see the package example.
//
// In the data phase Feed, Discard, Write and Writev do not allocate once
// the Conn's buffers have grown to the traffic's size.
type Conn struct {
	tc    *tls.Conn
	tr    transport
	srv   *Server // nil for a client Conn
	hs    *handshakes
	state uint8
	err   error // why the Conn failed, or io.EOF after close_notify

	plain []byte // plain[poff:] is decrypted input not yet discarded
	poff  int
	// drained: crypto/tls holds no plaintext (its last Read returned less
	// than asked, or would block). counted: Reads that began drained and
	// returned plaintext, each of which took at least one record of the
	// tr.rec.complete seen since crypto/tls last said "would block".
	drained bool
	counted int
	out     []byte // ciphertext to send (Flush)
	scratch []byte // Writev coalescing
	info    Info
}

// plainChunk is the least free space Feed reads into; the plaintext
// buffer starts at this size and doubles when needed.
const plainChunk = 4 << 10

// coalesceMax is the largest Writev that is copied into one record:
// smaller pieces (a response head, a small body) go out as one record
// instead of one per piece.
const coalesceMax = 4 << 10

// Feed passes ciphertext read from the socket. It returns how many bytes
// of b it took: all of them, except while a handshake runs and holds 64
// KiB of unread input already; keep the rest and feed it again after the
// next wake. Call Feed after every wake too (b may be empty): that is
// how the loop learns of the handshake's progress. After Feed, send what
// Flush has (a handshake flight, an alert, a session ticket) even when
// Feed returned an error.
//
// In the data phase the plaintext decrypted from b is appended to what
// Peek returns. Feed returns ErrBusy (MaxInFlight handshakes running),
// the handshake's error (ErrHandshakeTimeout, a tls alert, ...) or a
// record's error: the connection is done, close it once Flush has sent
// the alert. io.EOF means the peer sent close_notify: the plaintext before
// it is still there to read.
func (c *Conn) Feed(b []byte) (int, error) {
	switch c.state {
	case stateOpen:
		return len(b), c.decrypt(b)
	case stateNew:
		if len(b) == 0 {
			return 0, nil
		}
		if err := c.start(); err != nil {
			c.fail(err)
			return 0, err
		}
		fallthrough
	case stateHandshake:
		n, done := c.tr.feed(b, &c.out)
		if !done {
			return n, nil
		}
		if err := c.established(); err != nil {
			return n, err
		}
		return len(b), c.decrypt(b[n:])
	}
	return 0, c.err
}

// start admits the handshake and starts its goroutine.
func (c *Conn) start() error {
	if err := c.hs.admit(); err != nil {
		return err
	}
	c.state = stateHandshake
	c.tr.signal = make(chan struct{}, 1)
	c.tr.quit = make(chan struct{})
	c.tr.slots = *c.hs.slots.Load()
	timeout := time.Duration(c.hs.timeout.Load())
	go c.run(timeout)
	return nil
}

// run is the handshake goroutine.
func (c *Conn) run(timeout time.Duration) {
	t := &c.tr
	begin := time.Now()
	t.timer = time.NewTimer(timeout)
	if c.srv != nil {
		c.srv.tickets.rotate(begin)
	}
	err := t.acquire()
	if err == nil {
		err = c.tc.Handshake()
	}
	t.release()
	t.timer.Stop()
	var info Info
	if err == nil {
		info = infoOf(c.tc.ConnectionState(), time.Since(begin))
	}
	c.info = info // read by the loop after it saw t.done (under t.mu)
	c.hs.done(err, info.Resumed)
	if !t.finish(err) {
		t.wake()
	}
}

// established moves a finished handshake to the loop: the record layer
// is the loop's from now on.
func (c *Conn) established() error {
	if err := c.tr.hsErr; err != nil {
		c.fail(err)
		return err
	}
	c.state = stateOpen
	c.tr.phase = phaseLoop
	c.tr.dst = &c.out
	return nil
}

// fail makes err the Conn's final error.
func (c *Conn) fail(err error) {
	c.state, c.err = stateFailed, err
}

// decrypt runs the record layer over b (and what the handshake left),
// appending plaintext to c.plain until crypto/tls has taken all the
// ciphertext and holds no complete record. It knows the latter without
// asking crypto/tls (a Read that would only say "would block") when every
// complete record it was given has been matched by a Read that took one.
func (c *Conn) decrypt(b []byte) error {
	if c.err != nil {
		return c.err // io.EOF after close_notify: nothing more is read
	}
	t := &c.tr
	t.src = b
	for len(t.src) > 0 || len(t.pend) > 0 || !c.drained || t.rec.complete > c.counted {
		if c.poff > 0 && c.poff == len(c.plain) {
			c.plain, c.poff = c.plain[:0], 0
		}
		if cap(c.plain)-len(c.plain) < plainChunk/2 {
			c.grow()
		}
		room := c.plain[len(c.plain):cap(c.plain)]
		was := c.drained
		n, err := c.tc.Read(room)
		c.plain = c.plain[:len(c.plain)+n]
		if err != nil {
			t.src = nil
			if _, ok := err.(wouldBlock); ok {
				// Every complete record is consumed: count from here.
				c.drained, c.counted, t.rec.complete = true, 0, 0
				return nil
			}
			if err == io.EOF {
				c.err = io.EOF // close_notify: the state stays open for writes
			} else {
				c.fail(err)
			}
			return err
		}
		if was {
			c.counted++
		}
		c.drained = n < len(room)
	}
	t.src = nil
	return nil
}

// grow makes room in c.plain: it moves the unread bytes to the front, or
// doubles the buffer when they fill more than half of it.
func (c *Conn) grow() {
	unread := len(c.plain) - c.poff
	if c.poff > 0 && cap(c.plain)-unread >= plainChunk/2 && unread <= cap(c.plain)/2 {
		copy(c.plain, c.plain[c.poff:])
		c.plain, c.poff = c.plain[:unread], 0
		return
	}
	nb := make([]byte, unread, max(2*cap(c.plain), plainChunk))
	copy(nb, c.plain[c.poff:])
	c.plain, c.poff = nb, 0
}

// Peek returns the next n bytes of plaintext without consuming them (all
// of them when n <= 0), or io.ErrShortBuffer when fewer are there, as
// gnet.Conn's Peek does. The slice is valid until the next Feed or
// Discard.
func (c *Conn) Peek(n int) ([]byte, error) {
	buf := c.plain[c.poff:]
	if n <= 0 {
		return buf, nil
	}
	if n > len(buf) {
		return nil, io.ErrShortBuffer
	}
	return buf[:n], nil
}

// Discard consumes n bytes of plaintext (all of them when n <= 0, as
// gnet.Conn's Discard does) and returns how many it consumed.
func (c *Conn) Discard(n int) (int, error) {
	buffered := len(c.plain) - c.poff
	if n <= 0 || n >= buffered {
		c.plain, c.poff = c.plain[:0], 0
		return buffered, nil
	}
	c.poff += n
	return n, nil
}

// Buffered returns the bytes of plaintext Peek would return.
func (c *Conn) Buffered() int { return len(c.plain) - c.poff }

// Write encrypts p into TLS records appended to the output (Flush). It
// fails with ErrNotOpen before the handshake has completed.
func (c *Conn) Write(p []byte) (int, error) {
	if c.state != stateOpen {
		return 0, c.notOpen()
	}
	return c.tc.Write(p)
}

// Writev encrypts the pieces in order, as Write would their
// concatenation. Pieces of a small write are copied into one record
// instead of one record each.
func (c *Conn) Writev(bs [][]byte) (int, error) {
	if c.state != stateOpen {
		return 0, c.notOpen()
	}
	total := 0
	for _, b := range bs {
		total += len(b)
	}
	if total <= coalesceMax && len(bs) > 1 {
		s := c.scratch[:0]
		for _, b := range bs {
			s = append(s, b...)
		}
		c.scratch = s
		return c.tc.Write(s)
	}
	n := 0
	for _, b := range bs {
		if len(b) == 0 {
			continue
		}
		m, err := c.tc.Write(b)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (c *Conn) notOpen() error {
	if c.state == stateFailed {
		return c.err
	}
	return ErrNotOpen
}

// Trim drops the Conn's empty buffers (plaintext, output, Writev's):
// for a connection going idle, whose next request then allocates them
// again. crypto/tls's own state (about 10 KiB after a handshake) stays.
func (c *Conn) Trim() {
	if c.Buffered() == 0 {
		c.plain, c.poff = nil, 0
	}
	if len(c.out) == 0 {
		c.out = nil
	}
	c.scratch = nil
}

// Pending returns the bytes of ciphertext waiting for Flush.
func (c *Conn) Pending() int { return len(c.out) }

// Flush writes the ciphertext waiting to be sent with one w.Write (gnet's
// Conn.Write: it sends what the socket takes and keeps the rest) and
// empties the output.
func (c *Conn) Flush(w io.Writer) error {
	if len(c.out) == 0 {
		return nil
	}
	_, err := w.Write(c.out)
	c.out = c.out[:0]
	return err
}

// Handshaking reports whether the handshake has not completed yet (it
// may not have started: a server Conn starts it on its first byte).
func (c *Conn) Handshaking() bool { return c.state == stateNew || c.state == stateHandshake }

// Established reports whether the handshake completed and the Conn can
// carry data (it stays so after the peer's close_notify).
func (c *Conn) Established() bool { return c.state == stateOpen }

// Err returns why the Conn failed or was closed (nil while it works;
// io.EOF after the peer's close_notify).
func (c *Conn) Err() error { return c.err }

// Info describes the established connection (the zero Info before).
func (c *Conn) Info() *Info { return &c.info }

// ConnectionState returns crypto/tls's view of the connection. It
// allocates: for logs and tests, not for every request.
func (c *Conn) ConnectionState() tls.ConnectionState {
	if c.state != stateOpen {
		return tls.ConnectionState{}
	}
	return c.tc.ConnectionState()
}

// CloseNotify appends a close_notify alert to the output: the polite end
// of an established connection. Flush it, then close the socket.
func (c *Conn) CloseNotify() {
	if c.state == stateOpen {
		_ = c.tc.CloseWrite()
	}
}

// Close ends the Conn when its socket closes: a handshake in progress is
// stopped (its goroutine exits soon; a wake may still come and must be
// harmless), and the buffers are dropped. Feed returns ErrClosed after.
func (c *Conn) Close() {
	if c.state == stateClosed {
		return
	}
	if c.state == stateHandshake {
		_ = c.tr.Close()
	}
	c.state, c.err = stateClosed, ErrClosed
	c.plain, c.poff, c.out, c.scratch = nil, 0, nil, nil
}
