package tlsloop

import (
	"net"
	"sync"
	"time"
)

// Transport phases: who drives the tls.Conn above the transport.
const (
	// phaseFed: a handshake goroutine, reading ciphertext that the loop
	// feeds (shared with the loop under mu; Read blocks).
	phaseFed uint8 = iota
	// phasePass: a handshake in the caller's goroutine on a real net.Conn
	// (Client.Handshake): Read and Write go to it.
	phasePass
	// phaseLoop: the data phase, the loop's alone: Read takes the
	// ciphertext Feed is passing and says "would block" when it is used
	// up; Write appends to the Conn's output.
	phaseLoop
)

// maxFedInput bounds the ciphertext fed to a handshake and not yet read by
// it. A client's flights are a few KiB (a ClientHello, a client
// certificate chain); Feed takes no more until the handshake has read
// some, so a peer cannot make a handshake buffer more than this.
const maxFedInput = 64 << 10

// transport is the net.Conn under a Conn's tls.Conn: an in-memory pipe
// between the event loop and crypto/tls. It never touches a socket except
// in phasePass.
type transport struct {
	phase uint8

	// phaseLoop (the loop alone).
	src  []byte  // ciphertext being fed: a view, valid during Feed
	pend []byte  // ciphertext the handshake left unread, read before src
	dst  *[]byte // the Conn's output: ciphertext is appended to it

	// phasePass.
	nc net.Conn

	// phaseFed: shared by the loop and the handshake goroutine.
	mu     sync.Mutex
	in     []byte // in[inOff:] is fed ciphertext the handshake has not read
	inOff  int
	out    []byte // ciphertext the handshake wrote, not yet taken by the loop
	closed bool   // Close was called
	done   bool   // the handshake goroutine finished, with hsErr
	hsErr  error
	signal chan struct{} // cap 1: input arrived
	quit   chan struct{} // closed by Close
	wake   func()        // asks the loop to call Feed (Conn's wake)

	// rec follows the record boundaries of what crypto/tls has read (the
	// handshake goroutine's during a handshake, the loop's after).
	rec recordCursor

	// The handshake goroutine's own (never touched by the loop).
	timer *time.Timer // the handshake's deadline
	slots chan struct{}
	held  bool // a CPU slot is held
}

var _ net.Conn = (*transport)(nil)

// Read implements net.Conn for crypto/tls. Every byte crypto/tls reads
// passes the record cursor.
func (t *transport) Read(p []byte) (int, error) {
	n, err := t.read(p)
	t.rec.advance(p[:n])
	return n, err
}

func (t *transport) read(p []byte) (int, error) {
	switch t.phase {
	case phaseLoop:
		if len(t.pend) > 0 {
			n := copy(p, t.pend)
			t.pend = t.pend[n:]
			if len(t.pend) == 0 {
				t.pend = nil
			}
			return n, nil
		}
		if len(t.src) == 0 {
			return 0, wouldBlock{}
		}
		n := copy(p, t.src)
		t.src = t.src[n:]
		return n, nil
	case phasePass:
		return t.nc.Read(p)
	}
	return t.readFed(p)
}

// readFed is Read on the handshake goroutine: it blocks until the loop
// feeds ciphertext, the deadline passes or the Conn is closed. Before it
// blocks it asks the loop to send what the handshake wrote (the flight the
// peer is waiting for) and gives up its CPU slot.
func (t *transport) readFed(p []byte) (int, error) {
	t.mu.Lock()
	for t.inOff == len(t.in) {
		if t.closed {
			t.mu.Unlock()
			return 0, ErrClosed
		}
		flush := len(t.out) > 0
		t.mu.Unlock()
		if flush {
			t.wake()
		}
		t.release()
		select {
		case <-t.signal:
		case <-t.quit:
		case <-t.timer.C:
			return 0, ErrHandshakeTimeout
		}
		if err := t.acquire(); err != nil {
			return 0, err
		}
		t.mu.Lock()
	}
	n := copy(p, t.in[t.inOff:])
	t.inOff += n
	if t.inOff == len(t.in) {
		t.in, t.inOff = t.in[:0], 0
	}
	t.mu.Unlock()
	return n, nil
}

// acquire takes a CPU slot for the handshake goroutine (see
// HandshakeLimits.Workers), unless the deadline passes or the Conn closes
// first.
func (t *transport) acquire() error {
	if t.slots == nil || t.held {
		return nil
	}
	select {
	case t.slots <- struct{}{}:
		t.held = true
		return nil
	case <-t.quit:
		return ErrClosed
	case <-t.timer.C:
		return ErrHandshakeTimeout
	}
}

// release gives the CPU slot back.
func (t *transport) release() {
	if t.held {
		t.held = false
		<-t.slots
	}
}

// Write implements net.Conn for crypto/tls: ciphertext to send.
func (t *transport) Write(b []byte) (int, error) {
	switch t.phase {
	case phaseLoop:
		*t.dst = append(*t.dst, b...)
		return len(b), nil
	case phasePass:
		return t.nc.Write(b)
	}
	t.mu.Lock()
	t.out = append(t.out, b...)
	t.mu.Unlock()
	return len(b), nil
}

// feed is the loop's side of a fed handshake: it hands over up to
// maxFedInput bytes of b, appends what the handshake wrote to out, and
// reports how much of b it took and whether the handshake is over. Once it
// is over it takes nothing and the handshake's unread input moves to pend.
func (t *transport) feed(b []byte, out *[]byte) (int, bool) {
	t.mu.Lock()
	*out = append(*out, t.out...)
	t.out = t.out[:0]
	if t.done {
		if t.inOff < len(t.in) {
			t.pend = append([]byte(nil), t.in[t.inOff:]...)
		}
		t.in, t.inOff, t.out = nil, 0, nil
		t.mu.Unlock()
		return 0, true
	}
	n := min(len(b), maxFedInput-(len(t.in)-t.inOff))
	if n > 0 {
		t.in = append(t.in, b[:n]...)
	}
	t.mu.Unlock()
	if n > 0 {
		select {
		case t.signal <- struct{}{}:
		default: // a signal is pending already
		}
	}
	return n, false
}

// finish records the end of the handshake goroutine and reports whether
// the Conn was closed meanwhile (then nobody waits for the news).
func (t *transport) finish(err error) bool {
	t.mu.Lock()
	t.done, t.hsErr = true, err
	closed := t.closed
	t.mu.Unlock()
	return closed
}

// Close implements net.Conn. During a fed handshake it stops the
// handshake goroutine; during Client.Handshake it closes the net.Conn
// (crypto/tls does so when the context ends); in the data phase it does
// nothing: the socket is the loop's.
func (t *transport) Close() error {
	if t.phase == phasePass {
		return t.nc.Close() // HandshakeContext's ctx ended: interrupt the read
	}
	if t.phase != phaseFed || t.quit == nil {
		return nil
	}
	t.mu.Lock()
	already := t.closed
	t.closed = true
	t.mu.Unlock()
	if !already {
		close(t.quit)
	}
	return nil
}

// The rest of net.Conn: crypto/tls calls SetWriteDeadline when it sends
// close_notify, and hands the addresses to GetCertificate's ClientHelloInfo.
// Deadlines are the handshake timer's job, addresses the engine's.

func (t *transport) LocalAddr() net.Addr {
	if t.phase == phasePass {
		return t.nc.LocalAddr()
	}
	return memAddr{}
}

func (t *transport) RemoteAddr() net.Addr {
	if t.phase == phasePass {
		return t.nc.RemoteAddr()
	}
	return memAddr{}
}

func (t *transport) SetDeadline(d time.Time) error {
	if t.phase == phasePass {
		return t.nc.SetDeadline(d)
	}
	return nil
}

func (t *transport) SetReadDeadline(d time.Time) error {
	if t.phase == phasePass {
		return t.nc.SetReadDeadline(d)
	}
	return nil
}

func (t *transport) SetWriteDeadline(d time.Time) error {
	if t.phase == phasePass {
		return t.nc.SetWriteDeadline(d)
	}
	return nil
}

// memAddr is the address of a transport on an event loop: the socket is
// the loop's, and the engine knows its addresses.
type memAddr struct{}

func (memAddr) Network() string { return "tlsloop" }
func (memAddr) String() string  { return "event-loop" }

// recordCursor follows the TLS record framing (RFC 8446 §5.1: a 5-byte
// header whose last two bytes are the length, then the payload) of the
// bytes crypto/tls reads, and counts the records it has seen whole. Conn
// uses the count to know when crypto/tls holds no complete record, and
// skips the Read that would only say so (it costs crypto/tls an
// allocation: readFromUntil's atLeastReader).
type recordCursor struct {
	hdr      int // bytes of the current record's header seen (0-5)
	left     int // the current record's length, then its payload bytes not seen
	complete int // records seen whole since the last reset
}

func (r *recordCursor) advance(b []byte) {
	for len(b) > 0 {
		if r.hdr < 5 {
			switch r.hdr {
			case 3:
				r.left = int(b[0]) << 8
			case 4:
				r.left |= int(b[0])
			}
			r.hdr++
			b = b[1:]
		} else {
			k := min(r.left, len(b))
			r.left -= k
			b = b[k:]
		}
		if r.hdr == 5 && r.left == 0 {
			r.complete++
			r.hdr = 0
		}
	}
}
