package tlsloop

import (
	"errors"
	"runtime"
	"sync/atomic"
	"time"
)

// HandshakeLimits bound the handshakes a Server (or a Client's fed
// connections) runs off the event loops. The zero value takes the
// defaults noted.
type HandshakeLimits struct {
	// Timeout bounds a handshake from its first byte to its completion
	// (default 10 s). A client that sends its ClientHello slowly, or stops
	// halfway, fails with ErrHandshakeTimeout. Before its first byte a
	// connection costs no handshake: the engine's own idle timeout
	// applies.
	Timeout time.Duration
	// MaxInFlight caps the handshakes in progress (default 1024). Each
	// holds a goroutine, a tls.Conn and at most 64 KiB of unread input
	// (about 30-60 KiB in all), so the cap bounds their memory; beyond it
	// a connection's handshake is refused with ErrBusy and counted in
	// Stats.Refused.
	MaxInFlight int
	// Workers caps the handshakes computing at once (default GOMAXPROCS):
	// the others wait for a slot, so that a flood of ClientHellos keeps at
	// most this many cores from the event loops. A handshake waiting for
	// its peer's next flight holds no slot.
	Workers int
}

// Default handshake limits.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultMaxInFlight      = 1024
)

func (l HandshakeLimits) withDefaults() HandshakeLimits {
	if l.Timeout <= 0 {
		l.Timeout = DefaultHandshakeTimeout
	}
	if l.MaxInFlight <= 0 {
		l.MaxInFlight = DefaultMaxInFlight
	}
	if l.Workers <= 0 {
		l.Workers = runtime.GOMAXPROCS(0)
	}
	return l
}

// Stats are a Server's or a Client's handshake counters since it was made.
type Stats struct {
	Handshakes   int64 // completed, full and resumed
	Resumed      int64 // completed by resuming a session (a ticket)
	Failed       int64 // failed: bad input, alerts, no common parameters, timeouts, closed
	TimedOut     int64 // failed by HandshakeLimits.Timeout (also in Failed)
	Refused      int64 // refused with ErrBusy: MaxInFlight handshakes were running
	InFlight     int64 // running now
	PeakInFlight int64 // the most running at once
}

// handshakes runs handshakes off the loops within limits and counts them.
// Safe for concurrent use.
type handshakes struct {
	timeout atomic.Int64 // ns
	max     atomic.Int64
	slots   atomic.Pointer[chan struct{}] // CPU slots; capacity = Workers

	inFlight, peak                                atomic.Int64
	completed, resumed, failed, timedOut, refused atomic.Int64
}

// setLimits applies l (defaults filled). A new Workers count takes a new
// slot channel: handshakes already running keep the one they took.
func (h *handshakes) setLimits(l HandshakeLimits) {
	l = l.withDefaults()
	h.timeout.Store(int64(l.Timeout))
	h.max.Store(int64(l.MaxInFlight))
	if s := h.slots.Load(); s == nil || cap(*s) != l.Workers {
		ch := make(chan struct{}, l.Workers)
		h.slots.Store(&ch)
	}
}

// admit counts a new handshake in, or refuses it at MaxInFlight.
func (h *handshakes) admit() error {
	n := h.inFlight.Add(1)
	if n > h.max.Load() {
		h.inFlight.Add(-1)
		h.refused.Add(1)
		return ErrBusy
	}
	for {
		p := h.peak.Load()
		if n <= p || h.peak.CompareAndSwap(p, n) {
			return nil
		}
	}
}

// done counts a handshake out with its outcome.
func (h *handshakes) done(err error, resumed bool) {
	h.inFlight.Add(-1)
	h.record(err, resumed)
}

// record counts an outcome (also for handshakes not admitted: Client.Handshake).
func (h *handshakes) record(err error, resumed bool) {
	switch {
	case err == nil:
		h.completed.Add(1)
		if resumed {
			h.resumed.Add(1)
		}
	case errors.Is(err, ErrHandshakeTimeout):
		h.timedOut.Add(1)
		h.failed.Add(1)
	default:
		h.failed.Add(1)
	}
}

func (h *handshakes) stats() Stats {
	return Stats{
		Handshakes:   h.completed.Load(),
		Resumed:      h.resumed.Load(),
		Failed:       h.failed.Load(),
		TimedOut:     h.timedOut.Load(),
		Refused:      h.refused.Load(),
		InFlight:     h.inFlight.Load(),
		PeakInFlight: h.peak.Load(),
	}
}
